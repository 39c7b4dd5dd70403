"""The Chain on a Bittensor network through the bittensor SDK (11.3.0), imported
only when a BittensorChain is built: ``pip install 'taos[chain]'``.

Thin by design: the metagraph comes from ``Subtensor.subnets.metagraph``, the
endpoint is published with the ``ServeAxon`` intent and weights are set with the
``SetWeights`` intent, both signed by the wallet's hotkey.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from taos.chain.base import Chain, ChainError, Metagraph, Neuron, check_port, check_weights


def import_bittensor() -> Any:
    try:
        import bittensor
    except ImportError as e:
        raise ChainError(f"the bittensor SDK is not installed (pip install 'taos[chain]'): {e}") from e
    return bittensor


class BittensorChain(Chain):
    def __init__(self, *, network: str, netuid: int, wallet: Any) -> None:
        bt = import_bittensor()
        if isinstance(netuid, bool) or not isinstance(netuid, int) or netuid < 0:
            raise ChainError(f"netuid must be an integer >= 0, got {netuid!r}")
        try:
            self._hotkey = str(wallet.hotkey.ss58_address)
        except Exception as e:
            raise ChainError(f"cannot read the hotkey of {wallet!r}: {e}") from e
        try:
            self._subtensor = bt.Subtensor(network)  # cold: connects on first use
        except ValueError as e:
            raise ChainError(f"network {network!r}: {e}") from e
        self._bt = bt
        self._wallet = wallet
        self.netuid = netuid
        self.network = network

    @property
    def hotkey(self) -> str:
        return self._hotkey

    def metagraph(self) -> Metagraph:
        graph = self._call(
            "read the metagraph", self._subtensor.subnets.metagraph, self.netuid, commitments=False
        )
        if graph is None:
            raise ChainError(f"subnet {self.netuid} does not exist on {self.network}")
        return metagraph_from_bittensor(graph)

    def current_block(self) -> int:
        return int(self._call("read the block", lambda: self._subtensor.block))

    def serve(self, host: str, port: int) -> None:
        check_port(port)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ChainError(f"the published endpoint needs an IP address, got {host!r}") from None
        intent = self._bt.ServeAxon(netuid=self.netuid, ip=host, port=port)
        self._call(
            "serve the endpoint", lambda: self._subtensor.execute(intent, self._wallet).raise_for_failure()
        )

    def set_weights(self, uids: Sequence[int], weights: Sequence[float]) -> None:
        graph = self.metagraph()
        check_weights(uids, weights, graph.uids)
        intent = self._bt.SetWeights(netuid=self.netuid, uids=list(uids), weights=[float(w) for w in weights])
        self._call("set weights", lambda: self._subtensor.execute(intent, self._wallet).raise_for_failure())

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._bt.BittensorError as e:
            raise ChainError(f"cannot {what} on {self.network} (netuid {self.netuid}): {e}") from e
        except (OSError, TimeoutError) as e:
            raise ChainError(f"cannot {what} on {self.network}: {type(e).__name__}: {e}") from e


def metagraph_from_bittensor(graph: Any) -> Metagraph:
    """Our snapshot of a ``bittensor.Metagraph``: uid, hotkey, permit, total stake, served endpoint."""
    return Metagraph(
        int(graph.block),
        tuple(
            Neuron(
                uid=int(n.uid),
                hotkey=str(n.hotkey),
                validator_permit=bool(n.validator_permit),
                stake=float(n.total_stake.amount),
                endpoint=n.axon,
            )
            for n in graph.neurons
        ),
    )
