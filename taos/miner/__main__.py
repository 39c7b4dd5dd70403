import sys

from taos.miner.cli import main

sys.exit(main())
