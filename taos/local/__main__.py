import sys

from taos.local.cli import local

sys.exit(local(sys.argv[1:]))
