"""A term group tries only the terms a text could hold, and still answers what trying every
term in order answers: on the bundled rules' groups, over the labelled headline sets, the
rules' examples and texts that probe the index (prefixes, phrases, headline-only terms)."""

from __future__ import annotations

import pytest

from bot.rules import compile_term
from bot.rules.groups import TermGroup, group
from bot.rules.terms import Doc
from tests.rules.test_prefilter import bundled_rules, headline_texts


def _reference(g: TermGroup, text: str) -> tuple[str | None, tuple[str, ...]]:
    doc = Doc(text)
    found = [t.raw for t in g.terms if t.found(doc)]
    return (found[0] if found else None), tuple(found)


def _answer(g: TermGroup, text: str) -> tuple[str | None, tuple[str, ...]]:
    return g.first(Doc(text)), g.every(Doc(text))


def test_bundled_groups_answer_as_trying_every_term() -> None:
    rules = bundled_rules()
    groups = {id(g): g for r in rules for g in (*r.all_matchers, r.any_matcher, r.none_matcher)}
    # The chip-domain headlines and examples, and a sample of general news (trying every
    # term of every group is slow).
    texts = [t for i, t in enumerate(headline_texts()) if i % 8 == 0 or "chip" in t.lower()]
    texts += [e for r in rules for e in (*r.examples_match, *r.examples_no_match)]
    hits = 0
    for text in texts:
        for g in groups.values():
            want = _reference(g, text)
            assert _answer(g, text) == want, (text, [t.raw for t in g.terms][:5])
            hits += want[0] is not None
    assert hits > 1000  # the texts do reach the groups' terms


PROBE = group([compile_term(t) for t in (
    "export control*", "chip*", "x*", "=Intel", "title:ban*", "/h\\d{3}/", "entity list",
    "gallium", "title:export ban")])


@pytest.mark.parametrize("text", [
    "Chipmakers face new export controls", "US adds firms to the Entity List",
    "X-ray makers", "intel panel meets", "Intel to build fab", "Ban on exports\nno more",
    "Exports fall\nA ban on gallium", "Nvidia H200 approved", "export-ban talk\nlater",
    "", "ch", "export\ncontrols",
])
def test_probe_group_answers_as_trying_every_term(text: str) -> None:
    assert _answer(PROBE, text) == _reference(PROBE, text)
