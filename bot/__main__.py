"""`python -m bot` is the `chipwatch` command."""

import sys

from bot.cli import main

sys.exit(main())
