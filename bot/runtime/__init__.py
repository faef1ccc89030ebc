"""The living process: one pass or the scheduled loop, its threads and jobs, hot reload and
the heartbeat. It drives the parts `bot.app` wires together (through the `Parts` protocol)
and never imports `bot.app`."""

from bot.runtime.loop import run_forever, run_once
from bot.runtime.parts import Parts

__all__ = ["Parts", "run_forever", "run_once"]
