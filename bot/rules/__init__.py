"""Keyword rules: term compilation and the pure rule engine."""

from bot.rules.engine import CompiledRule, RuleEvaluation, compile_rule, evaluate, match
from bot.rules.terms import Term, compile_term
from bot.text import fold

__all__ = [
    "CompiledRule",
    "RuleEvaluation",
    "Term",
    "compile_rule",
    "compile_term",
    "evaluate",
    "fold",
    "match",
]
