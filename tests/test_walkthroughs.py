"""The walkthroughs docs/walkthrough-validator.md and docs/walkthrough-miner.md, run as an operator
would: their marked shell blocks, in order, as written.

A block runs when the line before its ```` ```bash ```` fence is ``<!-- walkthrough: NAME -->``;
every marked block belongs to one scenario below, in the order the file has them, so a block that is
added, renamed or moved without the test knowing fails ``test_the_marked_blocks_are_the_scenarios``.
Each block runs with ``bash -euo pipefail`` (a failing command fails the step) in a fresh home folder
(``HOME``) and a copy of the repository (the current folder, as the walkthroughs say), with the
repository's ``taos`` on ``PYTHONPATH``. After a block, the test checks what the walkthrough says
should have happened (endpoints in the chain file, step and weights lines, weights in the chain
file, the metrics, a resumed and a fresh start, requests reaching the miner, clean exits), waiting
for it with a deadline, so a wrong command fails the test.

What differs from a fresh machine, and why:

- Nothing is installed. ``python3``, ``pip``, ``sudo`` and ``apt-get`` are stand-ins on ``PATH``:
  ``python3 -m pip ...``, ``pip``, ``sudo`` and ``apt-get`` only log their arguments (the install
  scripts run as written, and the test checks what they asked pip for), any other ``python3`` is
  this interpreter; ``taos`` is the console script pip would install. The install scripts' final
  check imports the package from ``PYTHONPATH``.
- The ports the walkthroughs name (8091, 8092, 9001) are replaced by free ones, the same in every
  block, so that the test runs next to other programs.
- Blocks that are not marked are not run: cloning, the virtual environment, ``tail -f``, Docker,
  and the real network (registration and stake need TAO on finney or the test network). The blocks
  that make the keys by hand (``test_the_validator_walkthroughs_keys_made_by_hand``, in a home
  folder of their own) run with the ``btcli`` that bittensor 11.3.0 ships.
- The test process is made the reaper of the processes the blocks start in the background, so that
  ``tail --pid`` (the walkthroughs' "wait until it has stopped") returns everywhere, also where the
  init process does not reap orphans, and so that their exit status can be checked.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bittensor as bt
import pytest
from repository import copy_repository

import taos
from taos.chain.local import parse

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_ROOT = Path(taos.__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MARK = re.compile(r"^<!-- walkthrough: ([a-z0-9-]+) -->\n```bash\n(.*?)^```$", re.M | re.S)
PORTS = ("8091", "8092", "9001")

VALIDATOR_MAIN = (
    "install",
    "subnet",
    "miners",
    "endpoints",
    "validator",
    "metrics",
    "stop",
    "restart",
    "fresh",
    "stop-all",
)
VALIDATOR_KEYS = ("keys-btcli", "keys-sdk", "keys-chain")
MINER_MAIN = ("install", "agent", "demo", "local", "subnet", "serve", "validator", "requests", "stop-all")
SCENARIOS = {
    "walkthrough-validator.md": (VALIDATOR_KEYS, VALIDATOR_MAIN),
    "walkthrough-miner.md": (MINER_MAIN,),
}


def marked_blocks(doc: str) -> list[tuple[str, str]]:
    """The marked blocks of ``docs/DOC``: (name, text), in the file's order."""
    return MARK.findall((DOCS / doc).read_text(encoding="utf-8"))


def test_the_marked_blocks_are_the_scenarios() -> None:
    for doc, scenarios in SCENARIOS.items():
        names = [name for name, _ in marked_blocks(doc)]
        assert len(names) == len(set(names)), f"{doc}: a block name is used twice: {names}"
        assert sorted(names) == sorted(n for s in scenarios for n in s), f"{doc}: {names}"
        for scenario in scenarios:
            assert [n for n in names if n in scenario] == list(scenario), f"{doc}: out of order: {names}"
        text = (DOCS / doc).read_text(encoding="utf-8")
        markers = re.findall(r"^<!-- walkthrough:", text, re.M)
        assert len(markers) == len(names), f"{doc}: a marker not right before a ```bash block"


# --- the operator's machine ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository as git knows it (or the tree without build output), no extension."""
    root = copy_repository(tmp_path_factory.mktemp("repository"))
    return root


def _stand_ins(bin_dir: Path, log: Path) -> None:
    bin_dir.mkdir(parents=True)
    logged = f'#!/usr/bin/env bash\necho "$(basename "$0") $*" >> {log}\n'
    for name in ("pip", "sudo", "apt-get"):
        (bin_dir / name).write_text(logged)
    (bin_dir / "python3").write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
        f'  echo "python3 $*" >> {log}\n'
        "  exit 0\n"
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    (bin_dir / "taos").write_text(
        f"#!{sys.executable}\nimport sys\nfrom taos.cli import main\nsys.exit(main())\n"
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PR_SET_CHILD_SUBREAPER = 36


@contextlib.contextmanager
def _reaping_orphans() -> Iterator[None]:
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "prctl") or libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(
            ctypes.get_errno(), "cannot become the reaper of the walkthrough's background processes (prctl)"
        )
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@dataclass
class Operator:
    """A fresh home folder, the repository as the current folder, the stand-ins on PATH."""

    repo: Path
    home: Path
    ports: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    exits: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True)
        self.bin = self.home.parent / "bin"
        self.install_log = self.home.parent / "install.log"
        _stand_ins(self.bin, self.install_log)
        keep = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "PYTHONPATH", "HOME", "PATH"}}
        self.env = keep | {
            "HOME": str(self.home),
            "PATH": os.pathsep.join([str(self.bin), os.environ.get("PATH", "/usr/bin:/bin")]),
            "PYTHONPATH": str(PACKAGE_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._reaper.start()

    # -- processes the blocks start in the background (their ids in *.pid files) --

    def pids(self) -> dict[str, int]:
        found = {}
        for f in self.home.rglob("*.pid"):
            with contextlib.suppress(ValueError, OSError):
                found[f.stem] = int(f.read_text().strip())
        return found

    def _reap(self) -> None:
        while not self._stop.wait(0.05):
            for pid in self.pids().values():
                if pid in self.exits:
                    continue
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:  # not (yet) ours: still the child of the block's shell
                    continue
                if done:
                    self.exits[pid] = os.waitstatus_to_exitcode(status)

    def wait(
        self, condition: Callable[[], object], timeout_s: float, what: Callable[[], str], *running: str
    ) -> None:
        """``wait_for``, failing at once when one of the ``running`` background processes has ended
        (a wrong flag, a refused start): its log says why."""

        def met() -> object:
            pids = self.pids()
            ended = [name for name in running if pids.get(name) in self.exits]
            if ended:
                raise AssertionError(f"{', '.join(ended)} ended:\n{what()}")
            return condition()

        wait_for(met, timeout_s, what)

    def exit_code(self, name: str, timeout_s: float = 10.0) -> int:
        pid = self.pids()[name]
        wait_for(lambda: pid in self.exits, timeout_s, f"{name} (pid {pid}) has not exited")
        return self.exits[pid]

    def shutdown(self) -> None:
        """Ends whatever the blocks left running (SIGTERM, then SIGKILL), and reaps it."""
        pids = [p for p in self.pids().values() if p not in self.exits]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and any(p not in self.exits and _alive(p) for p in pids):
            time.sleep(0.1)
        for pid in pids:
            if pid not in self.exits:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
        self._stop.set()
        self._reaper.join()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:  # orphans of the background processes (agent workers)
                pass

    # -- running blocks --

    def run(self, block: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        for port, free in self.ports.items():
            block = re.sub(rf"\b{port}\b", free, block)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=self.repo, env=self.env, capture_output=True, text=True, timeout=timeout_s, check=False,
        )  # fmt: skip
        assert done.returncode == 0, (
            f"the block failed ({done.returncode}):\n{block}\n{done.stdout}\n{done.stderr}"
        )
        return done

    def port(self, documented: str) -> str:
        return self.ports[documented]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: Callable[[], object], timeout_s: float, what: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(what() if callable(what) else what)
        time.sleep(0.1)


@pytest.fixture
def operator(repository: Path, tmp_path: Path) -> Iterator[Operator]:
    with _reaping_orphans():
        op = Operator(repository, tmp_path / "home", {p: str(_free_port()) for p in PORTS})
        try:
            yield op
        finally:
            op.shutdown()


# --- helpers for the checks ---------------------------------------------------------------------------


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def chain_of(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def hotkey(wallets: Path, name: str) -> str:
    return str(bt.Wallet(name="taos", hotkey=name, path=str(wallets)).hotkey.ss58_address)


def metrics(port: str) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


STEP = re.compile(
    r"INFO taos\.validator: step (\d+) sim [\d.]+ s: \d+ ms; miners (\d+) queried, (\d+) answered, "
    r"(\d+) timed out, (\d+) failed"
)


def steps(log: str) -> list[tuple[int, int, int, int, int]]:
    return [tuple(int(x) for x in m.groups()) for m in STEP.finditer(log)]  # type: ignore[misc]


def since(path: Path, offset: int) -> str:
    return read(path)[offset:]


# --- the validator walkthrough --------------------------------------------------------------------------


def test_the_validator_walkthrough(operator: Operator) -> None:
    blocks = dict(marked_blocks("walkthrough-validator.md"))
    op, local = operator, operator.home / "taos-local"
    chain, wallets, log = local / "chain.json", local / "wallets", local / "validator.log"

    done = op.run(blocks["install"])
    assert "τaos validator installed" in done.stdout
    installs = read(op.install_log).splitlines()
    assert installs and installs[-1].endswith("--no-build-isolation .[chain]"), installs

    done = op.run(blocks["subnet"])
    names = ("validator", "miner1", "miner2")
    neurons = parse(chain_of(chain), str(chain))["neurons"]
    assert [n.hotkey for n in neurons] == [hotkey(wallets, n) for n in names]
    assert [(n.validator_permit, n.stake) for n in neurons] == [(True, 1000.0), (False, 0.0), (False, 0.0)]
    assert all(f"taos/{n}" in done.stdout for n in names)

    op.run(blocks["miners"])
    endpoints = {1: f"127.0.0.1:{op.port('8091')}", 2: f"127.0.0.1:{op.port('8092')}"}

    def published() -> bool:
        found = {uid: n.get("endpoint") for uid, n in enumerate(chain_of(chain)["neurons"])}
        return all(found[uid] == e for uid, e in endpoints.items())

    logs = local / "miner1.log", local / "miner2.log"
    op.wait(published, 30, lambda: "no endpoints:\n" + read(logs[0]) + read(logs[1]), "miner1", "miner2")
    done = op.run(blocks["endpoints"])
    assert all(e in done.stdout for e in endpoints.values())

    op.run(blocks["validator"])
    validator_hotkey = neurons[0].hotkey
    op.wait(lambda: steps(read(log)), 40, lambda: "no step line:\n" + read(log), "validator")
    assert "weights for 3 uids set" in read(log)
    set_weights = chain_of(chain)["weights"][validator_hotkey]
    assert set_weights["uids"] == [0, 1, 2] and len(set_weights["weights"]) == 3
    wait_for(lambda: "taos_validator_step_index" in metrics(op.port("9001")), 20, "no metrics")

    done = op.run(blocks["metrics"])
    shown = dict(line.split() for line in done.stdout.splitlines())
    assert set(shown) == {
        "taos_validator_step_index",
        "taos_validator_sim_time_seconds",
        "taos_validator_miners_registered",
    }
    assert (
        float(shown["taos_validator_step_index"]) >= 1
        and float(shown["taos_validator_miners_registered"]) == 3
    )
    assert sum(1 for line in metrics(op.port("9001")).splitlines() if line.startswith("taos_validator_")) > 20

    op.run(blocks["stop"])
    assert op.exit_code("validator") == 0
    stopped = re.findall(r"stopped after (\d+) steps in simulation 0", read(log))
    assert len(stopped) == 1, read(log)
    last = steps(read(log))[-1][0]

    offset = len(read(log))
    op.run(blocks["restart"])
    op.wait(
        lambda: steps(since(log, offset)), 40, lambda: "no step after the restart:\n" + read(log), "validator"
    )
    assert f"resumed at step {last} (simulation 0" in since(log, offset)
    assert steps(since(log, offset))[0][0] == last + 1

    offset = len(read(log))
    op.run(blocks["fresh"])
    op.wait(
        lambda: "--fresh: the old state folder is kept" in since(log, offset),
        30,
        lambda: read(log),
        "validator",
    )
    archived = [p for p in local.iterdir() if p.name.startswith("validator.2") and p.is_dir()]
    assert len(archived) == 1 and (archived[0] / "validator.sqlite3").is_file()
    assert f"--fresh: the old state folder is kept as {archived[0]}" in since(log, offset)

    def answered() -> bool:
        return any(q == 2 and a == 2 for _, q, a, _, _ in steps(since(log, offset)))

    op.wait(answered, 45, lambda: "the miners were not queried:\n" + since(log, offset)[-3000:], "validator")
    assert steps(since(log, offset))[0][0] == 1  # a new simulation

    def weighted() -> bool:
        w = chain_of(chain)["weights"][validator_hotkey]["weights"]
        return abs(sum(w) - 1) < 1e-6 and w[0] == 0

    wait_for(weighted, 60, lambda: f"no weights for the miners: {chain_of(chain)['weights']}")

    op.run(blocks["stop-all"])
    for name in ("validator", "miner1", "miner2"):
        assert op.exit_code(name) == 0, name
    for name in ("validator", "miner1", "miner2"):
        assert "Traceback" not in read(local / f"{name}.log"), read(local / f"{name}.log")
    assert not re.search(r" (ERROR|CRITICAL) ", read(log)), read(log)
    state = local / "validator"  # what the walkthrough says the state folder holds
    assert {p.name for p in state.iterdir()} - {"validator.sqlite3-wal", "validator.sqlite3-shm"} == {
        "validator.sqlite3",
        "checkpoints",
        "simulation-secret",
        "lock",
    }
    assert 1 <= len(list((state / "checkpoints").glob("step-*.ckpt"))) <= 2


def test_the_validator_walkthroughs_keys_made_by_hand(operator: Operator) -> None:
    blocks = dict(marked_blocks("walkthrough-validator.md"))
    op, local = operator, operator.home / "taos-local"
    wallets = local / "wallets"
    op.run(blocks["keys-btcli"])
    made = {n: hotkey(wallets, n) for n in ("validator", "miner1", "miner2")}
    done = op.run(blocks["keys-sdk"])
    made["miner3"] = hotkey(wallets, "miner3")
    assert done.stdout.splitlines()[-1] == made["miner3"] and "Mnemonic: " in done.stdout
    cold = (wallets / "taos" / "coldkeypub.txt").read_text()
    done = op.run(blocks["keys-chain"])
    assert (wallets / "taos" / "coldkeypub.txt").read_text() == cold  # kept
    assert "created" not in done.stdout
    neurons = parse(chain_of(local / "chain.json"))["neurons"]
    assert [n.hotkey for n in neurons] == [made[n] for n in ("validator", "miner1", "miner2", "miner3")]
    assert [n.validator_permit for n in neurons] == [True, False, False, False]


# --- the miner walkthrough ------------------------------------------------------------------------------


def test_the_miner_walkthrough(operator: Operator) -> None:
    blocks = dict(marked_blocks("walkthrough-miner.md"))
    op, local = operator, operator.home / "taos-miner-local"
    agents = op.home / ".taos" / "agents"
    chain, miner_log, validator_log = local / "chain.json", local / "miner.log", local / "validator.log"

    done = op.run(blocks["install"])
    assert "τaos miner installed" in done.stdout
    assert read(op.install_log).splitlines()[-1].endswith("--no-build-isolation .[chain,agents]")
    assert sorted(p.name for p in agents.glob("*.py")) == sorted(
        p.name for p in (ROOT / "agents").glob("*.py")
    )

    op.run(blocks["agent"])
    assert (agents / "MyAgent.py").is_file()

    runs = op.repo / "runs"
    before = set(runs.iterdir()) if runs.exists() else set()
    done = op.run(blocks["demo"], timeout_s=120)
    assert "installing τaos" in done.stderr  # no install recorded in the fresh copy
    assert read(op.install_log).splitlines()[-1].endswith("--no-build-isolation .")
    demo = set(runs.iterdir()) - before
    assert len(demo) == 1 and (next(iter(demo)) / "summary.json").is_file()

    done = op.run(blocks["local"], timeout_s=120)
    assert "MyAgent-1" in done.stdout and "RandomMakerAgent-2" in done.stdout, done.stdout + done.stderr
    ran = set(runs.iterdir()) - before - demo
    assert len(ran) == 1
    summary = json.loads((next(iter(ran)) / "summary.json").read_text())
    assert "MyAgent" in json.dumps(summary)

    op.run(blocks["subnet"])
    neurons = parse(chain_of(chain))["neurons"]
    assert [n.hotkey for n in neurons] == [hotkey(local / "wallets", n) for n in ("validator", "miner")]

    op.run(blocks["serve"])
    endpoint = f"127.0.0.1:{op.port('8091')}"
    op.wait(
        lambda: chain_of(chain)["neurons"][1].get("endpoint") == endpoint,
        30,
        lambda: read(miner_log),
        "miner",
    )

    op.run(blocks["validator"])
    both = (miner_log, validator_log)
    op.wait(
        lambda: "request from" in read(miner_log),
        45,
        lambda: read(both[0]) + read(both[1]),
        "miner",
        "validator",
    )
    done = op.run(blocks["requests"])
    lines = done.stdout.splitlines()
    assert 1 <= len(lines) <= 3 and all(line.endswith(", ok") for line in lines), done.stdout
    wait_for(lambda: "INFO MyAgent: simulation " in read(miner_log), 10, lambda: read(miner_log)[-3000:])
    wait_for(
        lambda: any(q == 1 and a == 1 for _, q, a, _, _ in steps(read(validator_log))),
        20,
        lambda: read(validator_log)[-3000:],
    )
    assert re.search(r"instructions [1-9]\d* accepted", read(validator_log)), read(validator_log)[-3000:]

    op.run(blocks["stop-all"])
    for name in ("validator", "miner"):
        assert op.exit_code(name) == 0, name
    for log in (miner_log, validator_log):
        assert "Traceback" not in read(log) and not re.search(r" (ERROR|CRITICAL) ", read(log)), read(log)[
            -3000:
        ]
