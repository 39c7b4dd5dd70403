"""scripts/local_subnet.py: the wallets and the local chain file of a subnet on one machine
(docs/walkthrough-validator.md, step 2), with real bittensor keys and a chain file that LocalChain
reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import bittensor as bt
import pytest
from repository import load_script

import taos
from taos.chain.local import LocalChain, parse

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local_subnet.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return load_script(SCRIPT, "local_subnet")


def ss58(wallets: Path, hotkey: str, coldkey: str = "taos") -> str:
    return str(bt.Wallet(name=coldkey, hotkey=hotkey, path=str(wallets)).hotkey.ss58_address)


def test_it_makes_the_keys_and_a_chain_file_that_local_chain_reads(tmp_path: Path) -> None:
    """As the walkthrough runs it: from another folder, by path, with the defaults."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "subnet"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wallets, chain = tmp_path / "subnet" / "wallets", tmp_path / "subnet" / "chain.json"
    names = ["validator", "miner1", "miner2"]
    neurons = parse(json.loads(chain.read_text()), str(chain))["neurons"]
    assert [n.hotkey for n in neurons] == [ss58(wallets, n) for n in names]
    assert [(n.validator_permit, n.stake, n.endpoint) for n in neurons] == [
        (True, 1000.0, None),
        (False, 0.0, None),
        (False, 0.0, None),
    ]
    assert (wallets / "taos" / "coldkey").is_file() and (wallets / "taos" / "coldkeypub.txt").is_file()
    for uid, name in enumerate(names):
        assert f"uid {uid}  taos/{name}" in done.stdout
    # a miner of this file serves into it, a validator reads its permit
    miner = LocalChain.from_file(chain, neurons[1].hotkey)
    miner.serve("127.0.0.1", 8091)
    validator = LocalChain.from_file(chain, neurons[0].hotkey)
    graph = validator.metagraph()
    assert graph.endpoints == [None, "127.0.0.1:8091", None] and graph.permits == [True, False, False]


def test_existing_keys_are_kept_and_missing_ones_added(script: ModuleType, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    wallets = tmp_path / "wallets"
    made = bt.Wallet(name="team", hotkey="v", path=str(wallets))
    made.create_new_coldkey(use_password=False, overwrite=False, suppress=True)
    made.create_new_hotkey(use_password=False, overwrite=False, suppress=True)
    cold, hot = (wallets / "team" / "coldkey").read_bytes(), made.hotkey.ss58_address
    chain = tmp_path / "c.json"
    argv = [str(tmp_path / "unused"), "--coldkey", "team", "--validators", "v", "--miners", "m"]
    assert script.main([*argv, "--wallet.path", str(wallets), "--chain", str(chain), "--stake", "5"]) == 0
    out = capsys.readouterr().out
    assert (
        "kept    coldkey team" in out and "kept    hotkey  team/v" in out and "created hotkey  team/m" in out
    )
    assert (wallets / "team" / "coldkey").read_bytes() == cold
    neurons = parse(json.loads(chain.read_text()))["neurons"]
    assert [n.hotkey for n in neurons] == [hot, ss58(wallets, "m", "team")]
    assert [(n.validator_permit, n.stake) for n in neurons] == [(True, 5.0), (False, 0.0)]
    assert not (tmp_path / "unused").exists()  # both paths were given


def test_an_existing_chain_file_is_replaced_only_with_force(
    script: ModuleType, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    chain = tmp_path / "chain.json"
    chain.write_text('{"neurons": []}')
    assert script.main([str(tmp_path), "--miners", "a"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("local_subnet.py: error: ") and "--force replaces it" in err and err.count("\n") == 1
    )
    assert chain.read_text() == '{"neurons": []}' and not (tmp_path / "wallets").exists()  # no key made
    assert script.main([str(tmp_path), "--miners", "a", "--force"]) == 0
    neurons = parse(json.loads(chain.read_text()))["neurons"]
    assert [n.hotkey for n in neurons] == [ss58(tmp_path / "wallets", n) for n in ("validator", "a")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--miners", "a", "a"], "a hotkey name may be used once: a"),
        (["--validators", "x", "--miners", "x"], "a hotkey name may be used once: x"),
        (["--stake", "-1"], "argument --stake: must be a finite number >= 0, got '-1'"),
        (["--stake", "nan"], "argument --stake: must be a finite number >= 0, got 'nan'"),
        (["--stake", "lots"], "argument --stake: must be a number, got 'lots'"),
        (["--miners", "../m"], "argument --miners: '../m' is not a usable key name"),
        (["--coldkey", ".hidden"], "argument --coldkey: '.hidden' is not a usable key name"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(
    script: ModuleType, tmp_path: Path, capsys, args: list[str], message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as stop:
        script.main([str(tmp_path / "subnet"), *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "subnet").exists()


def test_an_unreadable_hotkey_is_named(script: ModuleType, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "wallets" / "taos" / "hotkeys" / "miner1"
    broken.parent.mkdir(parents=True)
    broken.write_text("not a key file")
    assert script.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("local_subnet.py: error: cannot read hotkey taos/miner1") and str(broken) in err
    assert not (tmp_path / "chain.json").exists()
