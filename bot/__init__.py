"""chipwatch: news feeds in, chip import/export alerts out to Slack."""

__version__ = "0.1.0"
