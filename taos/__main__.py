"""``python -m taos COMMAND ...`` is the ``taos`` command (taos.cli)."""

import sys

from taos.cli import main

sys.exit(main())
