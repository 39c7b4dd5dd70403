"""τaos: an agent-based limit-order-book market simulator and trading subnet.

Subpackages: ``protocol`` (wire vocabulary, pure Python), ``simulator`` (the C++
exchange engine through ``taos._simulator``; absent in a miner-only install).
"""

__version__ = "0.1.0"
