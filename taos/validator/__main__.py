import sys

from taos.validator.cli import main

sys.exit(main())
