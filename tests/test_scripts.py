"""The operator scripts of SPEC §14: run_miner.sh serves an agent with the flags it documents,
install_miner.sh installs the pure-Python package and the example agents (idempotently). Every
script works from the repository root of a fresh clone (whose source folder taos/ has no built
extension and must not shadow the installed package) and from any other folder; run_demo.sh
installs only when the sources changed (scripts/install_stamp.py)."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from protocol_samples import state
from repository import copy_repository, load_script
from wallets import validator_and_miner

import taos
from taos.protocol import PlaceLimit, decode_reply, encode_state
from taos.validator.client import Target, query

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1]), "PYTHON": sys.executable}
SCRIPTS = (
    "run_demo.sh",
    "run_tests.sh",
    "run_validator.sh",
    "run_miner.sh",
    "install_miner.sh",
    "install_validator.sh",
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_are_executable(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    out = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_run_miner_refuses_an_unknown_flag() -> None:
    out = subprocess.run(
        [str(ROOT / "run_miner.sh"), "-z"], capture_output=True, text=True, env=ENV, check=False
    )
    assert out.returncode == 2 and "usage: " in out.stderr and "[-n agent class]" in out.stderr


@pytest.mark.parametrize("script", ["run_validator.sh", "run_miner.sh"])
def test_the_run_scripts_use_the_python_they_are_given(script: str, tmp_path: Path) -> None:
    """``PYTHON=`` picks the interpreter: here a stand-in that prints what it was asked to run."""
    fake = tmp_path / "python"
    fake.write_text('#!/usr/bin/env bash\necho "ran: $*"\n')
    fake.chmod(0o755)
    out = subprocess.run(
        [str(ROOT / script), "-e", "local:chain.json", "--", "--extra"],
        capture_output=True,
        text=True,
        env={**ENV, "PYTHON": str(fake)},
        check=False,
    )
    module = "taos.validator" if script == "run_validator.sh" else "taos.miner"
    assert out.returncode == 0, out.stderr
    assert (
        f'runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True) {module} --chain local:chain.json'
        in out.stdout
    )
    assert out.stdout.rstrip().endswith("--extra")


def test_run_miner_serves_the_named_agent_with_its_parameters(tmp_path: Path) -> None:
    setup = validator_and_miner(tmp_path)
    validator, miner, chain, wallets = setup["validator"], setup["miner"], setup["chain"], setup["wallets"]
    proc = subprocess.Popen(
        [
            str(ROOT / "run_miner.sh"),
            "-e", f"local:{chain}", "-p", str(wallets), "-w", "miner", "-h", "hot", "-a", "0",
            "-g", str(ROOT / "agents"), "-n", "RandomMakerAgent", "-m", "max_quantity=0.5 min_quantity=0.2",
            "-l", "WARNING", "--", "--host", "127.0.0.1",
        ],
        env=ENV, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            endpoint = json.loads(chain.read_text())["neurons"][1].get("endpoint")
        assert endpoint is not None, proc.stderr.read().decode() if proc.poll() is not None else "no endpoint"  # type: ignore[union-attr]
        assert endpoint.startswith("127.0.0.1:")

        async def ask() -> list:
            async with aiohttp.ClientSession() as session:
                target = Target(endpoint, miner.hotkey.ss58_address)
                result = await query(session, validator, target, encode_state(state()), timeout_s=10)
                assert result.ok, result.error
                return list(decode_reply(result.body).instructions)

        limits = [i for i in asyncio.run(ask()) if isinstance(i, PlaceLimit)]
        assert len(limits) == 4 and all(0.2 <= i.quantity <= 0.5 for i in limits)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc.stderr.close()  # type: ignore[union-attr]


def test_install_miner_installs_without_the_simulator_and_keeps_edited_agents(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    agents = tmp_path / "agents"
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"} | {"PYTHON": str(python)}
    first = subprocess.run(
        [str(ROOT / "install_miner.sh"), "-d", str(agents)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    shipped = sorted(p.name for p in (ROOT / "agents").glob("*.py"))
    assert sorted(p.name for p in agents.glob("*.py")) == shipped
    assert "τaos miner installed" in first.stdout
    # the venv's taos is the pure-Python one: no extension, the miner side imports
    code = (
        "import taos, taos.miner, taos.agents, taos.signals\n"
        f"print(taos.__file__.startswith({str(env_dir)!r}))\n"
        "try:\n    import taos.simulator\nexcept ImportError:\n    print('no simulator')\n"
    )
    out = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, check=True
    )
    assert out.stdout.split() == ["True", "no", "simulator"]
    # a second run adds nothing and keeps an agent the miner edited
    edited = agents / shipped[0]
    edited.write_text("# my version\n")
    second = subprocess.run(
        [str(ROOT / "install_miner.sh"), "-d", str(agents)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert edited.read_text() == "# my version\n"
    assert f"kept {edited}" in second.stdout and "added" not in second.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the repository: its files as git knows them, without what a build or
    a run left (no extension in taos/, no build/)."""
    root = copy_repository(tmp_path_factory.mktemp("clone"))
    assert not list((root / "taos").glob("_simulator*.so")), "the clone holds a built extension"
    return root


def fake_python(folder: Path) -> Path:
    """An interpreter for the install scripts: ``-m pip ...`` is logged (pip.log) instead of run,
    and an install of the package (``pip install ... .`` or ``.[extras]``) rewrites the RECORD of
    the distribution in ``folder/site``, as a real install does; anything else runs in this
    Python."""
    site = folder / "site"
    info = site / "taos-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: taos\nVersion: 0.1.0\n")
    (info / "RECORD").write_text("")
    python = folder / "python"
    python.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1" = -m ] && [ "$2" = pip ]; then\n'
        f'  echo "$*" >> {folder / "pip.log"}\n'
        '  case "${@: -1}" in .|.\\[*) echo "install $RANDOM" >> ' + str(info / "RECORD") + " ;; esac\n"
        "  exit 0\n"
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    return python


def script_env(folder: Path) -> dict[str, str]:
    """The installed taos is this one (with its extension), after the fake distribution."""
    return ENV | {
        "PYTHON": str(fake_python(folder)),
        "PYTHONPATH": os.pathsep.join([str(folder / "site"), ENV["PYTHONPATH"]]),
    }


def pip_log(folder: Path) -> list[str]:
    log = folder / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_run_validator_runs_from_the_repository_root_and_from_elsewhere(
    clone: Path, tmp_path: Path, where: str
) -> None:
    """From the root of a fresh clone the source folder taos/ (no extension) does not shadow the
    installed package; relative paths are the caller's; without -c the clone's default config."""
    setup = validator_and_miner(tmp_path)
    cwd = clone if where == "root" else tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    state = cwd / f"state-{where}"
    config = ["-c", "configs/small.toml"] if where == "root" else []
    wallets = os.path.relpath(setup["wallets"], cwd)
    done = subprocess.run(
        [
            str(clone / "run_validator.sh"), "-e", f"local:{setup['chain']}", "-p", wallets,
            "-w", "validator", "-h", "hot", "-o", "0", *config,
            "--", "--state", state.name, "--max-steps", "2", "--pace", "0",
        ],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "stopped after 2 steps" in done.stderr
    assert (state / "validator.sqlite3").is_file()
    if where == "root":
        shutil.rmtree(state)


@pytest.mark.parametrize("where", ["root", "elsewhere"])
def test_the_install_scripts_check_the_installed_package_from_anywhere(
    clone: Path, tmp_path: Path, where: str
) -> None:
    """Their last step imports the installed package, not the clone's source folder (which has
    no extension); a relative agent folder is the caller's."""
    env = script_env(tmp_path)
    cwd = clone if where == "root" else tmp_path
    done = subprocess.run(
        [str(clone / "install_validator.sh")], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "τaos validator installed" in done.stdout
    assert pip_log(tmp_path)[-1].endswith("--no-build-isolation .[chain]")
    agents = Path("my agents") / "taos"
    done = subprocess.run(
        [str(clone / "install_miner.sh"), "-d", str(agents)],
        cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "τaos miner installed" in done.stdout
    assert pip_log(tmp_path)[-1].endswith("--no-build-isolation .[chain,agents]")
    assert sorted(p.name for p in (cwd / agents).glob("*.py")) == sorted(
        p.name for p in (clone / "agents").glob("*.py")
    )
    shutil.rmtree(cwd / "my agents")


def install_stamp() -> ModuleType:
    return load_script(ROOT / "scripts" / "install_stamp.py", "install_stamp")


def test_install_is_needed_when_the_sources_or_the_installed_package_changed(tmp_path: Path) -> None:
    stamp_module = install_stamp()
    root = tmp_path / "src"
    for name, text in {
        "pyproject.toml": "[project]\n",
        "CMakeLists.txt": "project(x)\n",
        "simulator/src/book.cpp": "int f();\n",
        "simulator/include/book.hpp": "#pragma once\n",
        "taos/__init__.py": "",
        "taos/local/cli.py": "x = 1\n",
        "configs/small.toml": "a = 1\n",
        "agents/A.py": "",
        "README.md": "hello\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    stamp = root / "build" / "install-stamp.json"

    def reason(record: str | None = "r1", python: str = "py") -> str | None:
        return stamp_module.install_reason(root, stamp, record, python)

    assert reason(record=None) == "taos is not installed"
    assert reason() == "no install of these sources is recorded"
    stamp_module.write_stamp(root, stamp, "r1", "py")
    assert reason() is None
    assert reason(record="r2") == "the installed taos is not the one installed from these sources"
    assert reason(python="other") == "no install of these sources is recorded"  # another interpreter
    # what a build, a run or an editor leaves, files outside the package, and times: no install
    (root / "taos" / "__pycache__").mkdir()
    (root / "taos" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"x")
    (root / "taos" / "_simulator.cpython-311-x86_64-linux-gnu.so").write_bytes(b"x")
    (root / "build" / "cp311" / "CMakeCache.txt").parent.mkdir(parents=True)
    (root / "build" / "cp311" / "CMakeCache.txt").write_text("x")
    (root / "README.md").write_text("changed\n")
    os.utime(root / "taos" / "local" / "cli.py", (1, 1))
    assert reason() is None
    # a change to a source file, Python or C++, a new file, a removed one: install
    for change in (
        lambda: (root / "taos" / "local" / "cli.py").write_text("x = 2\n"),
        lambda: (root / "simulator" / "src" / "book.cpp").write_text("int g();\n"),
        lambda: (root / "simulator" / "src" / "new.cpp").write_text(""),
        (root / "configs" / "small.toml").unlink,
        lambda: (root / "pyproject.toml").write_text("[project]\nname = 'taos'\n"),
    ):
        change()
        assert reason() == "the sources changed since the last install"
        stamp_module.write_stamp(root, stamp, "r1", "py")
        assert reason() is None


def test_run_demo_installs_only_when_needed(clone: Path, tmp_path: Path) -> None:
    env = script_env(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(clone / "run_demo.sh"), "--duration", "5m", "--books", "1"],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    def installs() -> int:
        return sum(line.endswith("--no-build-isolation .") for line in pip_log(tmp_path))

    first = demo()
    assert first.returncode == 0, first.stdout + first.stderr
    assert installs() == 1 and "installing τaos (no install of these sources is recorded)" in first.stderr
    assert "finished: 60 steps" in first.stdout
    second = demo()
    assert second.returncode == 0, second.stderr
    assert installs() == 1 and "installing" not in second.stderr
    assert len(list((elsewhere / "runs").iterdir())) == 2  # the run folders are the caller's
    # a C++ source edited: the next demo installs again
    source = next((clone / "simulator").rglob("*.cpp"))
    source.write_text(source.read_text() + "\n// edited\n")
    third = demo()
    assert third.returncode == 0, third.stderr
    assert installs() == 2 and "the sources changed since the last install" in third.stderr
    # and from the repository root
    fourth = subprocess.run(
        [str(clone / "run_demo.sh"), "--duration", "5m", "--books", "1"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert fourth.returncode == 0, fourth.stderr
    assert installs() == 2 and (clone / "runs").is_dir()
    shutil.rmtree(clone / "runs")
