import sys

from taos.local.cli import app

sys.exit(app(["local", *sys.argv[1:]]))
