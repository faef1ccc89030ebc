"""The story engine: each item, in arrival order, joins a live story or starts one.

Order of decisions: a known item id returns its story; the same normalised URL or title joins
outright; otherwise the candidate index shortlists stories sharing informative stems, a
rapidfuzz near-duplicate check over their recent titles may join outright, and else each
candidate is scored (centroid cosine blended with the best member's weighted Jaccard). After a
join, candidates that the item also resembled are merged in when their centroids agree, which
heals a story that started out as two fragments.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from datetime import datetime, timedelta

from rapidfuzz import fuzz, process

from bot.dedup.actors import actors, apart
from bot.dedup.index import CandidateIndex
from bot.dedup.normalize import normalize_title, normalize_url
from bot.dedup.settings import Assignment, DedupSettings, StoryInput
from bot.dedup.store import StoryStore
from bot.dedup.stories import Member, Story, best_member, centroid_cosine, norm, story_cosine
from bot.dedup.tokens import Background, item_features, load_background


class StoryEngine:
    """Assigns items to stories inside a sliding window; state optionally kept in a store."""

    def __init__(
        self,
        settings: DedupSettings = DedupSettings(),  # noqa: B008 - frozen, so sharing is safe
        store: StoryStore | None = None,
        background: Background | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._bg_given = background
        self.reload()

    def reload(self) -> None:
        """Forget what is held in memory and rebuild the live stories from the store (if
        any): after a write of the store's was rolled back, or another writer changed it."""
        self._index = CandidateIndex(self.settings.posting_cap)
        self._stories: OrderedDict[str, Story] = OrderedDict()  # least recently active first
        self._by_id: dict[str, str] = {}
        self._by_url: dict[str, str] = {}
        self._by_title: dict[str, str] = {}
        self._now: datetime | None = None
        self._seq = 0
        if self._store is not None:
            self._load(self._store)

    @property
    def _bg(self) -> Background:
        """The word-frequency table, read on first use: most runs assign nothing."""
        if self._bg_given is None:
            self._bg_given = load_background()
        return self._bg_given

    @property
    def live_stories(self) -> int:
        """How many stories are inside the window."""
        return len(self._stories)

    def assign(self, item: StoryInput) -> Assignment | None:
        """Put `item` into a story and say which; time comes only from `item.published`.
        None: a follow-up found no story to follow and `follow_joins_only` is set."""
        self._advance(item.published)
        known = self._by_id.get(item.id)
        if known is not None:
            story = self._stories[known]
            return Assignment(story.id, False, story.size, len(story.sources))
        s = self.settings
        member = Member(
            seq=self._seq, item_id=item.id, source=item.source, published=item.published,
            url_key=normalize_url(item.link), title_key=normalize_title(item.title),
            follow=bool(item.tags & s.follow_tags),
            features=item_features(
                item.title, item.link, item.summary, self._bg, ceiling=s.weight_ceiling,
                floor=s.weight_floor, power=s.weight_power, slug_scale=s.slug_scale,
                summary_scale=s.summary_scale, summary_words=s.summary_words,
            ),
        )
        chosen, merge_with = self._choose(member, item.decision)
        if chosen is None and member.follow and s.follow_joins_only:
            return None
        self._seq += 1
        is_new = chosen is None
        if chosen is None:
            # A story is named after its first item; a clash (an id reused) gets a suffix.
            story_id = member.item_id
            if story_id in self._stories:
                story_id = f"{story_id}~{member.seq}"
            story = Story(story_id, item.published, item.published, s.members_kept,
                          s.founding)
            self._stories[story_id] = story
        else:
            story = chosen
        self._add(story, member)
        merged: list[str] = []
        for other in merge_with:
            story, loser = self._merge(story, other)
            if loser is not None:
                merged.append(loser)
        return Assignment(story.id, is_new, story.size, len(story.sources), tuple(merged))

    def _choose(self, member: Member, decision: bool = False
                ) -> tuple[Story | None, list[Story]]:
        """The story to join (None: start one) and stories to merge into it afterwards.

        A follow-up may join any story still kept (`follow_window`) at `follow_threshold`,
        scored against the whole story, and merges nothing (it names no decision). Any other
        item sees only stories active within `window` and started within `lifespan`, scored
        against their founding reports (`founding`), at `join_threshold`.
        """
        exact = self._by_url.get(member.url_key) or self._by_title.get(member.title_key)
        if exact is not None and (member.url_key or member.title_key):
            return self._stories[exact], []
        if not member.features:
            return None, []
        s = self.settings
        query = dict(heapq.nlargest(s.query_tokens, member.features.items(), key=lambda kv: kv[1]))
        shortlist = [self._stories[i] for i in self._index.candidates(query, s.shortlist)]
        follow = member.follow
        if not follow and s.follow_window > s.window and self._now is not None:
            active = self._now - s.window
            shortlist = [st for st in shortlist
                         if st.last_report is not None and st.last_report >= active]
        if not follow and s.lifespan is not None and self._now is not None:
            born = self._now - s.lifespan
            shortlist = [st for st in shortlist if st.first_seen >= born]
        if decision and not follow and s.distinct_actors:
            mine = actors(member.title_key)
            shortlist = [st for st in shortlist if not apart(mine, st.actors)]
        if not shortlist:
            return None, []
        near = self._near_duplicate(member.title_key, shortlist)
        if near is not None:
            return near, []
        fnorm = norm(member.features)
        scored = sorted(
            ((self._score(member, fnorm, st), st) for st in shortlist),
            key=lambda pair: pair[0],
            reverse=True,
        )
        best_score, best = scored[0]
        if best_score < self._bar(follow, best):
            return None, []
        probes = [] if follow else [st for score, st in scored[1:] if score >= s.merge_probe]
        return best, probes

    def _bar(self, follow: bool, story: Story) -> float:
        """The score an item needs to join `story`: lower for a follow-up, and for a report
        while the story is in its first `fresh_span`."""
        s = self.settings
        if follow:
            return min(s.join_threshold, s.follow_threshold)
        fresh = (s.fresh_span > timedelta(0) and self._now is not None
                 and story.first_seen >= self._now - s.fresh_span)
        return min(s.join_threshold, s.fresh_threshold) if fresh else s.join_threshold

    def _score(self, member: Member, fnorm: float, story: Story) -> float:
        """How well an item fits a story: centroid cosine blended with the best member's
        weighted Jaccard; a report is compared with the story's identity, a follow-up with
        the whole story."""
        a = self.settings.centroid_share
        if member.follow:
            profile, members = story.profile, list(story.recent)
        else:
            profile, members = story.identity()
        return (a * centroid_cosine(member.features, fnorm, profile)
                + (1 - a) * best_member(member.features, members))

    def _near_duplicate(self, title_key: str, shortlist: list[Story]) -> Story | None:
        """A shortlisted story holding a recent title that is nearly this one, if any."""
        if not title_key:
            return None
        choices = [(m.title_key, st) for st in shortlist for m in st.recent]
        hit = process.extractOne(
            title_key, [c for c, _ in choices], scorer=fuzz.token_sort_ratio,
            score_cutoff=self.settings.near_duplicate,
        )
        return None if hit is None else choices[hit[2]][1]

    def _add(self, story: Story, member: Member, *, persist: bool = True) -> None:
        story.add(member)
        self._stories.move_to_end(story.id)
        self._index.touch(story.id, member.features)
        self._by_id[member.item_id] = story.id
        if member.url_key:
            self._by_url[member.url_key] = story.id
        if member.title_key:
            self._by_title[member.title_key] = story.id
        if persist and self._store is not None:
            self._store.save_item(story, member)

    def _merge(self, story: Story, other: Story) -> tuple[Story, str | None]:
        """Fold the smaller of two stories into the larger when their centroids agree.

        Returns the surviving story and the id of the one folded away (None: no merge).
        """
        if other.id not in self._stories or story_cosine(
            story, other
        ) < self.settings.merge_threshold:
            return story, None
        winner, loser = (story, other) if story.size >= other.size else (other, story)
        self._forget(loser)
        winner.absorb(loser)
        self._index.touch(winner.id, loser.counts)
        for item_id, url_key, title_key in loser.keys:
            self._by_id[item_id] = winner.id
            if url_key:
                self._by_url[url_key] = winner.id
            if title_key:
                self._by_title[title_key] = winner.id
        if self._store is not None:
            self._store.save_merge(loser.id, winner)
        return winner, loser.id

    def _forget(self, story: Story) -> None:
        """Drop a story from the live set and the index, and its exact keys."""
        del self._stories[story.id]
        self._index.remove(story.id, story.counts)
        for item_id, url_key, title_key in story.keys:
            for table, key in ((self._by_id, item_id), (self._by_url, url_key),
                               (self._by_title, title_key)):
                if table.get(key) == story.id:
                    del table[key]

    def _advance(self, published: datetime) -> None:
        """Move the engine's clock to `published` (never back) and expire old stories."""
        if self._now is None or published > self._now:
            self._now = published
        cutoff = self._now - max(self.settings.window, self.settings.follow_window)
        while self._stories:
            oldest = next(iter(self._stories.values()))
            if oldest.last_seen >= cutoff:
                break
            self._forget(oldest)

    def _load(self, store: StoryStore) -> None:
        """Rebuild the live stories from the store, replaying members in arrival order."""
        replay = sorted(
            ((m, story_id)
             for story_id, members in store.load(max(self.settings.window,
                                                     self.settings.follow_window))
             for m in members),
            key=lambda pair: pair[0].seq,
        )
        for member, story_id in replay:
            self._advance(member.published)
            story = self._stories.get(story_id)
            if story is None:
                story = Story(story_id, member.published, member.published,
                              self.settings.members_kept, self.settings.founding)
                self._stories[story_id] = story
            self._add(story, member, persist=False)
            self._seq = member.seq + 1
