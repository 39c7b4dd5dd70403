"""A local subnet on one machine: bittensor wallets and a local chain file that registers them.

    python3 scripts/local_subnet.py DIR                # validator + miner1 + miner2 under DIR
    python3 scripts/local_subnet.py DIR --miners m1 m2 m3 --validators v1 v2 --stake 500

It writes, under DIR (created if needed):

    wallets/taos/coldkey, coldkeypub.txt       one coldkey (--coldkey, "taos"), without a password
    wallets/taos/hotkeys/validator, miner1 ...  one hotkey per validator and miner
    chain.json                                  the local chain file: validators first (uids 0, 1,
                                                ...; validator permit and --stake), then miners

Keys that exist already are kept, never replaced: run it again after adding a miner, or after
creating the keys with btcli, and it only adds what is missing. An existing chain file is not
replaced (miners write their endpoints into it, validators their weights) unless --force is given.
The validators and miners then take ``-e local:DIR/chain.json -p DIR/wallets`` (run_validator.sh,
run_miner.sh) or ``--chain local:DIR/chain.json --wallet.path DIR/wallets`` (taos validator,
taos miner). The file format is taos.chain.local's (docs/miner.md, "Offline: a local chain file").

The coldkey has no password: these are keys for a local trial, not for a real network
(docs/walkthrough-validator.md says how to make those).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

PROG = "local_subnet.py"


class SetupError(Exception):
    """A problem the operator can fix; the message says which, in one line."""


def _name(value: str) -> str:
    if not value or value.startswith(".") or any(c in value for c in "/\\\0") or value != value.strip():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a usable key name (a file name: no '/', no leading '.')"
        )
    return value


def _stake(value: str) -> float:
    try:
        stake = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}") from None
    if not math.isfinite(stake) or stake < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value!r}")
    return stake


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Create the wallets and the local chain file of a subnet on this machine.",
    )
    p.add_argument("dir", type=Path, help="folder of the wallets and the chain file (created if needed)")
    p.add_argument("--coldkey", type=_name, default="taos", help="the coldkey (wallet) name (taos)")
    p.add_argument(
        "--validators",
        nargs="+",
        type=_name,
        default=["validator"],
        metavar="NAME",
        help="validator hotkeys, with a validator permit and --stake (validator)",
    )
    p.add_argument(
        "--miners",
        nargs="+",
        type=_name,
        default=["miner1", "miner2"],
        metavar="NAME",
        help="miner hotkeys (miner1 miner2)",
    )
    p.add_argument("--stake", type=_stake, default=1000.0, help="stake of each validator (1000)")
    p.add_argument("--wallet.path", dest="wallet_path", type=Path, help="wallet folder (DIR/wallets)")
    p.add_argument("--chain", type=Path, help="the chain file to write (DIR/chain.json)")
    p.add_argument("--force", action="store_true", help="replace an existing chain file")
    return p


def _bittensor() -> Any:
    try:
        import bittensor
    except ImportError as e:
        raise SetupError(
            f"needs the bittensor SDK (the chain extra: pip install 'taos[chain]', or ./install_miner.sh): {e}"
        ) from None
    return bittensor


def ensure_keys(wallet_path: Path, coldkey: str, hotkeys: list[str]) -> tuple[list[str], list[str]]:
    """Creates the coldkey and the hotkeys that do not exist yet (no password); returns each hotkey's
    ss58 address, in order, and one line per key saying whether it was created or kept."""
    bt = _bittensor()
    lines: list[str] = []
    cold = bt.Wallet(name=coldkey, hotkey=hotkeys[0], path=str(wallet_path))
    if cold.coldkeypub_file.exists_on_device() or cold.coldkey_file.exists_on_device():
        lines.append(f"kept    coldkey {coldkey}")
    else:
        cold.create_new_coldkey(use_password=False, overwrite=False, suppress=True)
        lines.append(f"created coldkey {coldkey} (no password: for this local subnet only)")
    addresses: list[str] = []
    for name in hotkeys:
        wallet = bt.Wallet(name=coldkey, hotkey=name, path=str(wallet_path))
        if wallet.hotkeypub_file.exists_on_device() or wallet.hotkey_file.exists_on_device():
            lines.append(f"kept    hotkey  {coldkey}/{name}")
        else:
            wallet.create_new_hotkey(use_password=False, overwrite=False, suppress=True)
            lines.append(f"created hotkey  {coldkey}/{name}")
        keyfile = wallet.hotkeypub_file if wallet.hotkeypub_file.exists_on_device() else wallet.hotkey_file
        try:
            addresses.append(str(keyfile.get_keypair().ss58_address))
        except Exception as e:  # an unreadable or encrypted key file: say which
            raise SetupError(f"cannot read hotkey {coldkey}/{name} ({keyfile.path}): {e}") from None
    return addresses, lines


def chain_document(validators: list[str], miners: list[str], stake: float) -> dict[str, Any]:
    """The local chain file registering ``validators`` (permit, stake) then ``miners`` (ss58 addresses)."""
    neurons: list[dict[str, Any]] = [
        {"hotkey": hotkey, "validator_permit": True, "stake": stake} for hotkey in validators
    ]
    neurons += [{"hotkey": hotkey} for hotkey in miners]
    return {"block": 0, "neurons": neurons}


def refuse_existing(path: Path) -> None:
    if path.exists():
        raise SetupError(
            f"{path} exists (miners write their endpoints into it, validators their weights): "
            "--force replaces it"
        )


def write_chain(path: Path, document: dict[str, Any], *, force: bool) -> None:
    if not force:
        refuse_existing(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = [*args.validators, *args.miners]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        parser().error(f"a hotkey name may be used once: {', '.join(repeated)}")
    root: Path = args.dir.expanduser()
    wallet_path: Path = (args.wallet_path or root / "wallets").expanduser()
    chain: Path = (args.chain or root / "chain.json").expanduser()
    try:
        if not args.force:  # before any key is created
            refuse_existing(chain)
        addresses, lines = ensure_keys(wallet_path, args.coldkey, names)
        document = chain_document(
            addresses[: len(args.validators)], addresses[len(args.validators) :], args.stake
        )
        write_chain(chain, document, force=args.force)
    except (SetupError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print(f"wallets in {wallet_path.resolve()}")
    print(f"chain file {chain.resolve()}:")
    for uid, (name, address) in enumerate(zip(names, addresses, strict=True)):
        role = f"validator (permit, stake {args.stake:g})" if uid < len(args.validators) else "miner"
        print(f"  uid {uid}  {args.coldkey}/{name:<12} {address}  {role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
