"""Real bittensor wallets for tests, created without a password in a temporary folder."""

from pathlib import Path

import bittensor as bt


def make_wallet(root: Path, name: str) -> bt.Wallet:
    w = bt.Wallet(name=name, hotkey="hot", path=str(root))
    w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
    w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    return w
