"""The `taos` command (taos.cli): one argparse parser whose subcommands are the programs, each with
its own flags; `taos facts`; run folders that never overwrite; the install's dependencies (the base
install runs `taos local`, an optional extra that is missing is named in one line)."""

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import taos
from taos.cli import COMMANDS, main, parser

ROOT = Path(__file__).resolve().parents[1]
SOURCE = str(Path(taos.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": SOURCE, "COLUMNS": "160"}


def run_taos(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taos", *args], cwd=cwd, env=env or ENV, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def options(p: argparse.ArgumentParser) -> dict[str, tuple[str, object, str | None]]:
    return {o: (a.dest, a.default, a.help) for a in p._actions for o in a.option_strings}


def subcommand(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in parser(name)._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_taos_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert [c.name for c in COMMANDS] == ["local", "sweep", "league", "facts", "validator", "miner"]
    for c in COMMANDS:
        assert re.search(rf"^    {c.name}\b", out, re.MULTILINE), c.name
    for bad in ([], ["lokal"]):
        with pytest.raises(SystemExit) as done:
            main(bad)
        assert done.value.code == 2
    assert "invalid choice: 'lokal'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("validator", "taos.validator.cli"),
        ("miner", "taos.miner.cli"),
        ("local", "taos.local.cli"),
        ("sweep", "taos.local.sweep"),
        ("league", "taos.local.league"),
        ("facts", "taos.analysis.cli"),
    ],
)
def test_each_command_has_exactly_the_flags_of_its_module(name: str, module: str) -> None:
    command = next(c for c in COMMANDS if c.name == name)
    assert command.module == module
    own = command.load()[0]()
    sub = subcommand(name)
    assert options(sub) == options(own)
    assert sub.prog == f"taos {name}" and sub.description == own.description


def test_command_help_shows_the_commands_flags(tmp_path: Path) -> None:
    done = run_taos("validator", "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("usage: taos validator ")
    assert "--pace" in done.stdout and "--scoring.preset" in done.stdout and "--fresh" in done.stdout
    done = run_taos("miner", "-h", cwd=tmp_path)
    assert done.returncode == 0 and "--agent.path" in done.stdout and "--max-workers" in done.stdout


def test_taos_validator_and_miner_run_their_modules_main(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # the validator's own checks, then its own one-line error
    assert main(["validator", "--timeout", "0"]) == 1
    assert "taos.validator: error: --timeout must be in (0, 60] seconds, got 0.0" in capsys.readouterr().err
    assert main(["miner", "--agent.path", str(tmp_path), "--agent.name", "Missing", "--chain", "moon"]) == 1
    assert capsys.readouterr().err.startswith("taos.miner: error: ")
    # argparse errors name the subcommand
    with pytest.raises(SystemExit) as done:
        main(["validator", "--netuid", "x"])
    assert done.value.code == 2
    assert "taos validator: error: argument --netuid: invalid int value: 'x'" in capsys.readouterr().err
    # taos sweep: taos.local.sweep's errors and exit codes
    assert main(["sweep", "--config", "x.toml", "--seeds", "3-1", "--out", str(tmp_path / "s")]) == 2
    assert "seeds: range '3-1' ends before it starts" in capsys.readouterr().err


def test_run_folders_never_overwrite_and_taos_facts_reads_them(tmp_path: Path) -> None:
    from taos.analysis import load_run, run_stylized_facts

    args = ("local", "--duration", "10m", "--books", "2", "--seed", "5")
    first, second = run_taos(*args, cwd=tmp_path), run_taos(*args, cwd=tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(folders) == 2 and folders[1] == folders[0] + "-2" and folders[0].endswith("-5")
    a, b = (tmp_path / "runs" / f for f in folders)
    assert f"output in runs/{folders[1]}" in second.stdout.replace("\n", "")
    # the same config and seed: the same market, and the first run is intact
    assert (a / "prices.parquet").read_bytes() == (b / "prices.parquet").read_bytes()
    assert load_run(a).summary["steps"] == 120

    text = run_taos("facts", str(b), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    facts = run_stylized_facts(load_run(b), interval_s=60.0)
    lines = text.stdout.splitlines()
    assert lines[0] == f"{b}: 2 books, the mid every 60 s from the first mid"
    assert [x for x in lines if x.startswith("book ")] == [
        f"book {k}: {f.summary().splitlines()[0]}" for k, f in facts.items()
    ]
    # then the realism targets (a 10-minute run has nothing after the 15-minute warm-up: n/a) and plots
    assert "realism: 2 books x 1 seed, 0 one-minute returns per book after 15 min of warm-up" in lines
    assert any(x.startswith("  n/a   spread ") for x in lines)
    assert (b / "plots" / "realism_autocorrelation.png").is_file()
    assert load_run(b).summary["realism"]["books"] == 2
    short = run_taos("facts", str(b), "--warmup", "120", "--no-plots", cwd=tmp_path)
    assert short.returncode == 0, short.stderr
    assert "after 2 min of warm-up" in short.stdout and "  pass  two_sided " in short.stdout
    as_json = run_taos(
        "facts", str(b), "--json", "--interval", "30", "--after", "120", "--lags", "3", cwd=tmp_path
    )
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    facts = run_stylized_facts(load_run(b), interval_s=30.0, after_s=120.0, lags=3)
    assert (data["interval_s"], data["after_s"], sorted(data["books"])) == (30.0, 120.0, ["0", "1"])
    for k, f in facts.items():
        got = data["books"][str(k)]
        assert got["returns"] == f.returns and len(got["raw_autocorrelation"]) == 3
        assert got["excess_kurtosis"] == pytest.approx(f.excess_kurtosis)
        assert got["abs_autocorrelation"] == pytest.approx(list(f.abs_autocorrelation), nan_ok=True)


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (None, [], "no such run folder"),
        ("empty", [], "not a run folder (no config.toml and no summary.json)"),
        ("unfinished", [], "the run was not finished (no summary.json)"),
        ("empty", ["--interval", "0"], "--interval must be a number of seconds > 0, got 0.0"),
        ("empty", ["--lags", "0"], "--lags must be in [1, 1000], got 0"),
        ("empty", ["--warmup", "-1"], "--warmup must be a number of seconds >= 0, got -1.0"),
    ],
)
def test_taos_facts_refuses_what_is_not_a_run_folder_in_one_line(
    tmp_path: Path, make: str | None, args: list[str], message: str
) -> None:
    folder = tmp_path / "run"
    if make is not None:
        folder.mkdir()
    if make == "unfinished":
        (folder / "config.toml").write_text("")
    done = run_taos("facts", str(folder), *args, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("taos facts: error: ")
    assert message in done.stderr


def test_an_explicit_out_folder_is_never_overwritten_unless_asked(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    args = ("local", "--duration", "5m", "--books", "1", "--out", str(out))
    assert run_taos(*args, cwd=tmp_path).returncode == 0
    (out / "notes.txt").write_text("my notes")
    summary = (out / "summary.json").read_text()
    refused = run_taos(*args, "--seed", "2", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"taos local: error: --out {out} is not empty: name a new folder, or add --overwrite to replace the run in it"
    )
    assert (out / "summary.json").read_text() == summary
    # --overwrite replaces the run (a stale file of the run goes), other files stay
    (out / "events" / "book-7.parquet").write_bytes(b"stale")
    replaced = run_taos(*args, "--seed", "2", "--overwrite", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert sorted(p.name for p in (out / "events").iterdir()) == ["book-0.parquet"]
    assert (out / "notes.txt").read_text() == "my notes"
    # but only a run folder is emptied; an empty folder is used as it is
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    done = run_taos("local", "--duration", "5m", "--out", str(other), "--overwrite", cwd=tmp_path)
    assert done.returncode == 1 and "is not empty and not a run folder" in done.stderr
    assert sorted(p.name for p in other.iterdir()) == ["thesis.tex"]
    (tmp_path / "empty").mkdir()
    assert run_taos(*args[:-1], str(tmp_path / "empty"), cwd=tmp_path).returncode == 0
    assert (tmp_path / "empty" / "summary.json").is_file()


def blocking(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment in which ``modules`` cannot be imported, as if not installed: a
    sitecustomize first on PYTHONPATH sets them to None in sys.modules."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    )
    return {**ENV, "PYTHONPATH": os.pathsep.join([str(site), SOURCE])}


@pytest.mark.parametrize(
    ("blocked", "args", "code", "line"),
    [
        (
            "ray",
            ["sweep", "--executor", "ray", "--seeds", "1", "--out", "s"],
            2,
            "taos sweep: error: taos sweep --executor ray needs the ray extra: pip install 'taos[ray]'",
        ),
        (
            "bittensor",
            ["local", "--transport", "http", "--duration", "5m", "--books", "1"],
            1,
            "taos local: error: taos local --transport http needs the chain extra (bittensor): pip install 'taos[chain]'",
        ),
        (
            "taos._simulator",
            ["local", "--duration", "5m"],
            1,
            "taos local: error: taos.simulator needs the compiled extension taos._simulator; install the "
            "package without TAOS_NO_SIMULATOR=1 to build it",
        ),
    ],
)
def test_a_missing_optional_module_is_named_in_one_line(
    tmp_path: Path, blocked: str, args: list[str], code: int, line: str
) -> None:
    done = run_taos(*args, cwd=tmp_path, env=blocking(tmp_path, blocked))
    assert (done.returncode, done.stderr) == (code, line + "\n")
    assert not (tmp_path / "runs").exists()


def distributions_of(modules: set[str]) -> set[str]:
    """The installed distributions that provide these top-level modules."""
    provided = metadata.packages_distributions()
    return {canonicalize_name(d) for m in modules for d in provided.get(m, [])}


def closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with their own dependencies (their extras'
    only when asked for)."""
    seen: set[tuple[str, str]] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            try:
                needs = metadata.requires(name) or []
            except metadata.PackageNotFoundError:  # not installed here: nothing it brings is either
                needs = []
            todo += [(Requirement(r), wanted) for r in needs]
    return {name for name, _ in seen}


def test_the_base_dependencies_cover_what_taos_local_and_taos_facts_import(tmp_path: Path) -> None:
    """`pip install .` (no extra) runs `taos local` and `taos facts`: every third-party module
    they need comes from a base dependency of pyproject.toml or from one of theirs. A module that
    another library only tries to import (pyarrow tries cloudpickle) is made unimportable, and
    the commands must still work."""
    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    covered = closure(base)
    code = (
        "import sys, json\n"
        "from taos.cli import main\n"
        "assert main(['local', '--duration', '5m', '--books', '1', '--out', sys.argv[1]]) == 0\n"
        "assert main(['facts', sys.argv[1]]) == 0\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )

    def third_party(run: str, env: dict[str, str]) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", code, run],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        imported = {m.partition(".")[0] for m in json.loads(done.stdout.splitlines()[-1])}
        return {m for m in imported if m not in sys.stdlib_module_names and m != "taos"}

    bare = subprocess.run(
        [sys.executable, "-c", "import sys, json; print(json.dumps(sorted(sys.modules)))"],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, check=True,
    )  # fmt: skip
    startup = {m.partition(".")[0] for m in json.loads(bare.stdout)}  # the interpreter's own start
    used = third_party("run-1", ENV) - startup
    assert {"pandas", "pyarrow", "matplotlib", "rich", "numpy"} <= used
    # the agent files taos local loads, and Cython's runtime module, come from no distribution
    unknown = {m for m in used if not distributions_of({m})} - {"cython_runtime"}
    unknown = {m for m in unknown if not m.startswith(("_", "taos_agent_"))}
    assert not unknown, f"modules of no installed distribution: {sorted(unknown)}"
    optional = {m for m in used if distributions_of({m}) - covered}
    again = third_party("run-2", blocking(tmp_path, *optional)) - startup - optional
    missing = distributions_of(again) - covered
    assert not missing, f"taos local needs {sorted(missing)}, which no base dependency installs"


def test_taos_miner_needs_no_simulator(tmp_path: Path) -> None:
    """A miner-only install (TAOS_NO_SIMULATOR=1) has no extension: `taos` and `taos miner` work."""
    env = blocking(tmp_path, "taos._simulator")
    for args in (["--help"], ["miner", "--help"], ["facts", "--help"]):
        done = run_taos(*args, cwd=tmp_path, env=env)
        assert done.returncode == 0 and done.stdout.startswith("usage: taos"), done.stderr
    done = run_taos("miner", "--agent.path", str(tmp_path), "--agent.name", "Missing", cwd=tmp_path, env=env)
    assert done.returncode == 1 and "Missing.py does not exist" in done.stderr
