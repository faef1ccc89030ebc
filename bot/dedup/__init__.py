"""Story dedup: fold reports of the same development from many feeds into one story.

`StoryEngine.assign` takes items in arrival order and says which story each joins;
`normalize_url` / `normalize_title` serve exact dedup elsewhere in the bot; `run_cluster`
backs `chipwatch cluster`; a `StoryStore` (`bot.store.stories`) keeps stories across restarts.
"""

from bot.dedup.cluster import run_cluster
from bot.dedup.engine import StoryEngine
from bot.dedup.normalize import normalize_title, normalize_url
from bot.dedup.settings import Assignment, DedupSettings, StoryInput
from bot.dedup.store import StoryStore

__all__ = [
    "Assignment",
    "DedupSettings",
    "StoryEngine",
    "StoryInput",
    "StoryStore",
    "normalize_title",
    "normalize_url",
    "run_cluster",
]
