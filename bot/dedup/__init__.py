"""Story dedup: normalisation, the story engine and its SQLite store."""
