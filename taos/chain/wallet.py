"""What the validator and the miner both do with a wallet: read its hotkey, build the ``Chain``
named on the command line, and reach the SDK's request signing (``bittensor.http_auth``).

Every failure is a ``ChainError`` with one line that says what is wrong (a missing hotkey file,
an SDK that is not installed), so that both programs can stop with that line.
"""

from __future__ import annotations

from typing import Any

from taos.chain.base import Chain, ChainError
from taos.chain.bittensor_chain import BittensorChain, import_bittensor
from taos.chain.local import LocalChain


def wallet_hotkey(wallet: Any) -> str:
    """The ss58 address of ``wallet``'s hotkey; ``ChainError`` when its file is missing or unreadable."""
    try:
        return str(wallet.hotkey.ss58_address)
    except Exception as e:
        where = getattr(wallet, "hotkey_file", None)
        path = getattr(where, "path", None)
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ChainError(
            f"cannot read the hotkey of wallet {getattr(wallet, 'name', '?')!r} "
            f"(hotkey {getattr(wallet, 'hotkey_str', '?')!r}{f', file {path}' if path else ''}): {detail}"
        ) from None


def hotkey_signer(wallet: Any) -> Any:
    """The signer of ``wallet``'s hotkey for ``http_auth.sign``, resolved once: a ``Wallet``'s hotkey
    keypair read from its file now (signing with the ``Wallet`` itself reads and decodes that file
    at every request, 2 ms against 0.2 ms); anything else (a keypair, a custom signer) as it is.
    ``ChainError`` when the hotkey file is missing or unreadable."""
    if not hasattr(wallet, "hotkey_str"):  # not a Wallet: a keypair or a signer already
        return wallet
    wallet_hotkey(wallet)  # a missing or unreadable file is a one-line ChainError
    return wallet.hotkey


def make_chain(spec: str, netuid: int, wallet: Any) -> Chain:
    """``local:FILE`` (an offline ``LocalChain`` file) or a Bittensor network name or URL."""
    hotkey = wallet_hotkey(wallet)
    if spec.startswith("local:"):
        return LocalChain.from_file(spec.removeprefix("local:"), hotkey)
    return BittensorChain(network=spec, netuid=netuid, wallet=wallet)


def http_auth() -> Any:
    """The SDK's request signing module (``sign`` / ``verify``)."""
    return import_bittensor().http_auth
