"""The Chain interface (metagraph, serving, weights, blocks) with ``LocalChain``
(offline) and ``BittensorChain`` (the bittensor SDK, imported only when one is built)."""

from taos.chain.base import Chain, ChainError, Metagraph, Neuron
from taos.chain.bittensor_chain import BittensorChain
from taos.chain.local import LocalChain, WeightsCall
from taos.chain.wallet import hotkey_signer, http_auth, make_chain, wallet_hotkey

__all__ = [
    "BittensorChain",
    "Chain",
    "ChainError",
    "LocalChain",
    "Metagraph",
    "Neuron",
    "WeightsCall",
    "hotkey_signer",
    "http_auth",
    "make_chain",
    "wallet_hotkey",
]
