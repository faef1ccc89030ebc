"""Feeds: fetching (httpx), pure response classification, and the feedparser adapter."""

from bot.feeds.adapter import ParsedFeed, parse_document, to_items
from bot.feeds.fetch import Fetcher, FetchLimits, FetchResult, HttpFetcher, Validators
from bot.feeds.response import Outcome, classify, next_delay

__all__ = [
    "FetchLimits",
    "FetchResult",
    "Fetcher",
    "HttpFetcher",
    "Outcome",
    "ParsedFeed",
    "Validators",
    "classify",
    "next_delay",
    "parse_document",
    "to_items",
]
