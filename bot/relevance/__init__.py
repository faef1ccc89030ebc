"""The relevance model: a learned second opinion on what the rules fired on.

`features` turns a headline and summary into numbers, `model` holds the trained weights and
scores, `train` fits them (`chipwatch learn`), `data` reads labelled headlines, and `judge`
is the compiled stage the pipeline runs after the rules.
"""

from bot.relevance.judge import FOLLOW_TAG, Below, Fate, Judge, load_judge
from bot.relevance.model import BUNDLED, Kind, ModelError, RelevanceModel, Verdict, load_model

__all__ = ["BUNDLED", "FOLLOW_TAG", "Below", "Fate", "Judge", "Kind", "ModelError",
           "RelevanceModel", "Verdict", "load_judge", "load_model"]
