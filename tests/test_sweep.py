"""Sweeps: seed and override parsing with clear errors, and a small sweep giving the same per-run
results on a local process pool and on a local Ray instance."""

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from markets import populations

from taos.config import ConfigError, loads
from taos.local.data import DEMO_DURATION_S, data_dir
from taos.local.sweep import (
    SweepError,
    apply_override,
    dump_toml,
    grid,
    main,
    parse_seeds,
    parse_set,
    run_one,
    run_sweep,
)

ROOT = Path(__file__).resolve().parents[1]

TINY = """
[simulation]
books = 2
seed = 1
duration_s = 600.0
publish_interval_s = 5.0
grace_period_s = 60.0

[miners]
slots = 2

[fees]
background = [[0, 0.0, 0.0]]
""" + populations(initialization=20, stylized=40, makers=2)

SIGMA_C = ("population.stylized_trader.sigma_c", [1.2, 1.8])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def process_results(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return run_sweep(tiny, [1, 2], [SIGMA_C], tmp_path_factory.mktemp("process"), workers=2)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


# --- parsing -------------------------------------------------------------------------------------


def test_seeds_are_ranges_and_lists() -> None:
    assert parse_seeds("1-4") == [1, 2, 3, 4]
    assert parse_seeds("1,3,5") == [1, 3, 5]
    assert parse_seeds("1-4,9") == [1, 2, 3, 4, 9]
    assert parse_seeds(" 7 ") == [7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5-2", "range '5-2' ends before it starts"),
        ("1-x", "'1-x' is not a seed"),
        ("1,,2", "'' is not a seed"),
        ("", "empty list"),
        ("-3", "'-3' is not a seed"),
        ("1-3,2", "seed 2 is given twice"),
    ],
)
def test_bad_seeds_are_named(text: str, message: str) -> None:
    with pytest.raises(SweepError, match="seeds: .*" + message.replace("(", r"\(")):
        parse_seeds(text)


def test_set_parses_key_and_typed_values() -> None:
    assert parse_set("population.stylized_trader.sigma_c=1.2,1.8") == SIGMA_C
    assert parse_set("simulation.books=2,4") == ("simulation.books", [2, 4])
    assert parse_set('fundamental.model=gbm,"jump_diffusion"') == (
        "fundamental.model",
        ["gbm", "jump_diffusion"],
    )
    assert parse_set("population.market_maker.latency_s=[0.001,0.01],[0,0.1]") == (
        "population.market_maker.latency_s",
        [[0.001, 0.01], [0, 0.1]],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("simulation.books", "expected key=value"),
        ("stylized.sigma_c=1.2", "unknown section 'stylized'"),
        ("population.stylized_trader=1", "population keys are population.<model>.<param or count>"),
        ("simulation.books=1,,2", "empty value"),
        ("simulation.seed=1,2", "give seeds with --seeds"),
        ("fundamental.sigma=0.1,0.1", "a value is given twice"),
    ],
)
def test_bad_set_is_named(text: str, message: str) -> None:
    with pytest.raises(SweepError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_set(text)


@pytest.mark.parametrize(
    ("override", "error", "message"),
    [
        (("simulation.bookz", [2]), ConfigError, r"simulation\.bookz: unknown key"),
        (
            ("simulation.books", [2, 0]),
            ConfigError,
            r"simulation\.books must be in \[1, 10,000\] \(.*\), got 0 \(with simulation\.books=0\)",
        ),
        (("population.stylized_trader.sigma_c", [-1.0]), ConfigError, r"stylized_trader\.sigma_c must be in"),
        (("population.stylized_trader.sigma_q", [1.0]), ConfigError, r"unknown parameter 'sigma_q'"),
        (("population.noise.count", [1]), SweepError, r"no population has model 'noise'"),
        (
            ("fundamental.sigma", ["high"]),
            ConfigError,
            r"fundamental\.sigma must be a number, got str 'high'",
        ),
    ],
)
def test_bad_key_or_value_fails_before_running_with_the_config_error(
    override: tuple[str, list[object]], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        grid(TINY, [1], [override])


def test_overrides_reach_every_population_of_the_model() -> None:
    data = tomllib.loads(
        TINY + '\n[[population]]\nmodel = "stylized_trader"\ncount = 3\nbase = 1.0\nquote = 1.0\n'
    )
    apply_override(data, "population.stylized_trader.sigma_c", 1.5)
    apply_override(data, "population.stylized_trader.count", 7)
    pops = [p for p in data["population"] if p["model"] == "stylized_trader"]
    assert [p["params"]["sigma_c"] for p in pops] == [1.5, 1.5]
    assert [p["count"] for p in pops] == [7, 7]
    assert "sigma_c" not in data["population"][0].get("params", {})


def test_written_config_reads_back_to_the_same_document() -> None:
    data = tomllib.loads((ROOT / "configs" / "small.toml").read_text(encoding="utf-8"))
    text = dump_toml(data)
    assert tomllib.loads(text) == data
    assert loads(text) == loads((ROOT / "configs" / "small.toml").read_text(encoding="utf-8"))


def test_grid_is_sets_times_seeds_in_order() -> None:
    specs = grid(TINY, [3, 4], [SIGMA_C, ("simulation.books", [1, 2])])
    assert [(s["overrides"][SIGMA_C[0]], s["overrides"]["simulation.books"], s["seed"]) for s in specs] == [
        (1.2, 1, 3),
        (1.2, 1, 4),
        (1.2, 2, 3),
        (1.2, 2, 4),
        (1.8, 1, 3),
        (1.8, 1, 4),
        (1.8, 2, 3),
        (1.8, 2, 4),
    ]
    cfg = loads(specs[5]["config"])
    assert (cfg.simulation.seed, cfg.simulation.books, cfg.simulation.threads) == (4, 1, 1)
    assert [p.params.get("sigma_c") for p in cfg.populations] == [None, 1.8, None]


def test_one_run_is_deterministic_and_depends_on_seed_and_overrides() -> None:
    a, b, c, _ = grid(TINY, [1, 2], [SIGMA_C])
    first = run_one(a)
    assert run_one(a) == pytest.approx(first, nan_ok=True)
    assert first["events"] > 0 and first["trades"] > 0
    assert 250 < first["final_mid_0"] < 350 and 250 < first["final_mid_1"] < 350
    assert 0.0 <= first["one_sided_share"] <= 1.0
    assert run_one(b)["events"] != first["events"]  # another seed
    assert run_one(c)["events"] != first["events"]  # another sigma_c, same seed


# --- executors -----------------------------------------------------------------------------------


def test_process_sweep_writes_one_row_per_run(
    process_results: pd.DataFrame, tiny: Path, tmp_path: Path
) -> None:
    frame = process_results
    assert list(frame["run"]) == [0, 1, 2, 3]
    assert list(frame["seed"]) == [1, 2, 1, 2]
    assert list(frame[SIGMA_C[0]]) == [1.2, 1.2, 1.8, 1.8]
    expected = {"events", "trades", "final_mid_0", "final_mid_1", "excess_kurtosis", "one_sided_share"}
    assert expected | {f"acf_abs_{k}" for k in range(1, 11)} | {f"acf_raw_{k}" for k in range(1, 11)} <= set(
        frame.columns
    )
    # the pool gives what one run in this process gives
    assert frame.iloc[2].to_dict() == pytest.approx(
        run_one(grid(TINY, [1], [(SIGMA_C[0], [1.8])])[0]) | {"run": 2}, nan_ok=True
    )


def test_process_sweep_output_folder(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    frame = run_sweep(tiny, [5], [("fundamental.sigma", [0.02])], out, workers=1)
    written = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(written, frame, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), frame)
    cfg = loads((out / "configs" / "run_0000.toml").read_text(encoding="utf-8"))
    assert (cfg.simulation.seed, cfg.fundamental.sigma) == (5, 0.02)


def test_cli_reports_a_bad_flag_without_a_traceback(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(tiny), "--seeds", "3-1", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "seeds: range '3-1' ends before it starts" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_without_a_config_the_sweep_runs_taos_locals_demo_market(tmp_path: Path) -> None:
    """``taos sweep`` with no ``--config`` runs what ``taos local`` does: the small market for half
    an hour (its own duration when ``--set`` gives one)."""
    out = tmp_path / "sweep"
    assert main(["--seeds", "2", "--out", str(out), "--workers", "1"]) == 0
    cfg = loads((out / "configs" / "run_0000.toml").read_text(encoding="utf-8"))
    small = loads((data_dir("configs") / "small.toml").read_text(encoding="utf-8"))
    assert cfg.simulation.duration_s == DEMO_DURATION_S == 1_800.0
    assert (cfg.simulation.seed, cfg.simulation.books, cfg.populations) == (
        2,
        small.simulation.books,
        small.populations,
    )
    assert len(pd.read_csv(out / "results.csv")) == 1


def test_unknown_executor_is_refused(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(SweepError, match="executor must be 'process' or 'ray', got 'dask'"):
        run_sweep(tiny, [1], [], tmp_path, executor="dask")


def test_ray_sweep_gives_the_process_pool_results(
    local_ray: None, process_results: pd.DataFrame, tiny: Path, tmp_path: Path
) -> None:
    frame = run_sweep(tiny, [1, 2], [SIGMA_C], tmp_path, executor="ray")
    assert len(frame) == 4
    pd.testing.assert_frame_equal(frame, process_results, check_exact=True)
