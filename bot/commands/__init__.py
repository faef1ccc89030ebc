"""One module per `chipwatch` subcommand; each has `register(subparsers)`.

To add a command: write `bot/commands/<name>.py` with `register`, and list it in COMMANDS.
"""

COMMANDS = ["run", "check", "explain", "replay", "backtest", "health", "cluster", "status",
            "outbox", "feedback", "state", "learn"]
