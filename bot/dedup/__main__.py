"""`python -m bot.dedup [--final]`: the cluster tool on stdin/stdout with default settings."""

from bot.dedup.cluster import main

main()
