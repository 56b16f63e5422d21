"""``python -m poolkeeper``: see poolkeeper.cli."""

import sys

from poolkeeper.cli import main

sys.exit(main())
