"""The signal bridge: outside software (an alert service, a script, a person) drives a miner's
agent with trading signals.

- ``taos.signals.server``: the HTTP server that checks a signal and writes it to a file;
- ``taos.signals.store``: the miner's side, which hands signals to the agents of every validator
  and tracks their acknowledgements until each signal is processed or failed;
- ``taos.signals.records``: the formats; ``taos.signals.files``: atomic, durable file operations.

Pure Python: the standard library and aiohttp (server only); no simulator, no bittensor.
See docs/signals.md.
"""

from taos.signals.records import Signal, SignalError, client_order_id
from taos.signals.store import SignalStore, SignalStoreError, shared_store

__all__ = ["Signal", "SignalError", "SignalStore", "SignalStoreError", "client_order_id", "shared_store"]
