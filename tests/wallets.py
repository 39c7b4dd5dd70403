"""Real bittensor wallets for tests, created without a password in a temporary folder."""

import json
from pathlib import Path

import bittensor as bt


def make_wallet(root: Path, name: str) -> bt.Wallet:
    w = bt.Wallet(name=name, hotkey="hot", path=str(root))
    w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
    w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    return w


def validator_and_miner(tmp_path: Path) -> dict:
    """A validator and a miner wallet in ``tmp_path/wallets`` and a local chain file
    ``tmp_path/chain.json`` registering both (uid 0: the validator, with permit and stake; uid 1:
    the miner). Keys: validator, miner, chain, wallets."""
    wallets = tmp_path / "wallets"
    validator, miner = make_wallet(wallets, "validator"), make_wallet(wallets, "miner")
    chain = tmp_path / "chain.json"
    neurons = [
        {"hotkey": validator.hotkey.ss58_address, "validator_permit": True, "stake": 1000},
        {"hotkey": miner.hotkey.ss58_address},
    ]
    chain.write_text(json.dumps({"neurons": neurons}))
    return {"validator": validator, "miner": miner, "chain": chain, "wallets": wallets}
