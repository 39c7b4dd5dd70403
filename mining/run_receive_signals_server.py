"""Receive trading signals over HTTP for the miner's SignalAgent (see docs/signals.md).

    python mining/run_receive_signals_server.py --host 127.0.0.1 --port 8088 --dir mining

Needs ``<dir>/miner_secrets.json`` (``{"api_key": "..."}``); signals are written to
``<dir>/received_signals/<uuid>.json``. A problem at start is one line on stderr and exit status 1.
"""

import sys

from taos.signals.server import main

if __name__ == "__main__":
    sys.exit(main())
