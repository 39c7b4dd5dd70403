"""taos.config: TOML → validated objects → the core's SimulationConfig."""

import dataclasses
import tomllib
from pathlib import Path

import pytest

from taos.config import ConfigError, load, loads, quote_units, to_core
from taos.simulator import Simulation

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "configs" / "small.toml"


def test_small_config_loads_converts_and_runs() -> None:
    cfg = load(SMALL)
    assert cfg.simulation.books == 8
    assert [p.model for p in cfg.populations] == [
        "initialization",
        "stylized_trader",
        "market_maker",
        "signal_trader",
        "imbalance_trader",
    ]
    core = to_core(cfg)
    assert core.books == 8
    assert core.fundamental.start_price_ticks == pytest.approx(30_000.0)
    assert core.miner_quote == 50_000 * 1_000_000  # half of 100,000 in quote units (1e-6)
    assert core.miner_base_lots == round(50_000 / 300 / 0.0001)
    assert core.miner_fee_tiers[1].volume_quote == 200_000 * 1_000_000
    assert core.miner_fee_tiers[1].taker_ppb == 3_000_000
    assert core.populations[1].latency_max_ns == 50_000_000
    assert core.signal.jump_rate == 0.02
    sim = Simulation(core)
    sim.step(30 * 1_000_000_000)
    bid, ask = sim.best(0)
    assert 0 < bid < ask


def test_defaults_fill_omitted_sections() -> None:
    cfg = loads("")
    assert cfg.simulation.books == 20
    assert cfg.simulation.duration_s == 86_400.0
    assert cfg.simulation.publish_interval_s == 5.0
    assert cfg.simulation.grace_period_s == 600.0
    assert cfg.miners.slots == 256
    assert cfg.market.start_price == 300.0
    assert cfg.fees.miner[0].maker == 0.005
    assert cfg.populations == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[simulation]\nbookz = 3", r"simulation\.bookz: unknown key"),
        ("[simulatoin]\nbooks = 3", "simulatoin: unknown key"),
        ('[simulation]\nbooks = "3"', r"simulation\.books must be an integer, got str"),
        (
            "[simulation]\nbooks = 0",
            r"simulation\.books must be in \[1, 10,000\] \(a market state on the wire lists at most 10,000 books\), got 0",
        ),
        ("[simulation]\nbooks = true", r"simulation\.books must be an integer"),
        (
            "[simulation]\nduration_s = 0",
            r"simulation\.duration_s must be in \[0\.001, 3,155,760,000\] \(1 ms to 100 years: time is int64 ns",
        ),
        ("[market]\ntick_size = -0.01", r"market\.tick_size must be > 0"),
        ("[market]\nstart_price = nan", r"market\.start_price must be finite"),
        ("[miners]\nbase_fraction = 1.5", r"miners\.base_fraction must be in \[0, 1\], got 1\.5"),
        ("[fees]\nminer = [[5, 0.001, 0.001]]", r"fees\.miner\[0\]: the first tier must start at volume 0"),
        ("[fees]\nminer = [[0, 1.5, 0.001]]", r"fees\.miner\[0\]: maker rate must be in \(-1, 1\)"),
        ("[fees]\nminer = [[0, 0.1, 0.1], [0, 0.1, 0.1]]", r"fees\.miner\[1\]: volume must be greater"),
        ("[fees]\nminer = [[0, 0.1]]", r"fees\.miner\[0\] must be \[volume, maker, taker\]"),
        ('[fundamental]\nmodel = "brownian"', r"fundamental\.model must be one of jump_diffusion, gbm"),
        (
            "[fundamental]\njump_rate = 2",
            r"fundamental\.jump_rate must be in \[0, 1\] \(a probability per update\), got 2",
        ),
        (
            '[[population]]\nmodel = "random_trader"\ncount = 1\nbase = 1.0',
            r"population\[0\]\.quote is required",
        ),
        (
            '[[population]]\nmodel = "random_trader"\ncount = 1\nbase = 1.0\nquote = 1.0\nlatency_s = [0.5, 0.1]',
            r"population\[0\]\.latency_s must be \[min, max\]",
        ),
        (
            '[[population]]\nmodel = "random_trader"\ncount = 1\nbase = 1.0\nquote = 1.0\ncolour = "red"',
            r"population\[0\]\.colour: unknown key",
        ),
        ("[simulation\nbooks = 1", "not valid TOML"),
    ],
)
def test_bad_values_name_their_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        loads(text)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("wakeup = 1.0", r"population\[0\]\.params: random_trader: unknown parameter 'wakeup'"),
        ("cancel_prob = 3.0", r"population\[0\]\.params: random_trader\.cancel_prob must be in"),
    ],
)
def test_bad_agent_parameters_name_population_and_parameter(params: str, message: str) -> None:
    """The engine checks each model's parameters when the config is loaded, and again in to_core."""
    text = '[[population]]\nmodel = "random_trader"\ncount = 1\nbase = 1.0\nquote = 1.0\n'
    with pytest.raises(ConfigError, match=message):
        loads(f"{text}[population.params]\n{params}")
    good = loads(text)
    bad = dataclasses.replace(
        good, populations=(dataclasses.replace(good.populations[0], params=dict(tomllib.loads(params))),)
    )
    with pytest.raises(ConfigError, match=message):
        to_core(bad)


def test_unknown_model_is_refused_when_loading() -> None:
    with pytest.raises(ConfigError, match=r"population\[0\]\.model: unknown agent model 'martian' \(known: "):
        loads('[[population]]\nmodel = "martian"\ncount = 1\nbase = 1.0\nquote = 1.0')


def test_tick_and_lot_must_give_whole_quote_units() -> None:
    with pytest.raises(ConfigError, match="whole number"):
        quote_units(loads("[market]\ntick_size = 0.03\nlot_size = 0.07").market)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml")


DEFAULT = ROOT / "configs" / "default.toml"


def test_default_config_is_the_spec_market() -> None:
    cfg = load(DEFAULT)
    s = cfg.simulation
    assert (s.books, s.duration_s, s.publish_interval_s, s.grace_period_s) == (20, 86_400.0, 5.0, 600.0)
    assert (cfg.market.tick_size, cfg.market.lot_size, cfg.market.start_price) == (0.01, 0.0001, 300.0)
    assert cfg.miners.slots == 256
    counts = {p.model: p.count for p in cfg.populations}
    assert counts == {
        "initialization": 500,
        "stylized_trader": 1000,
        "market_maker": 10,
        "signal_trader": 100,
        "imbalance_trader": 5,
        "latent_book": 1,
    }
    # the latent book holds the price, so the stylized traders pull to the fundamental weakly
    params = {p.model: p.params for p in cfg.populations}
    assert params["stylized_trader"] == {"tau_f": 0.2}
    assert params["latent_book"]["max_show"] == 2000.0
    Simulation(to_core(cfg))  # the core accepts it


def test_models_with_units_get_the_market_tick_and_lot() -> None:
    cfg = loads(
        "[market]\ntick_size = 0.05\nlot_size = 0.001\n"
        '[[population]]\nmodel = "stylized_trader"\ncount = 1\nbase = 1.0\nquote = 1.0\n'
        '[[population]]\nmodel = "market_maker"\ncount = 1\nbase = 1.0\nquote = 1.0\n'
        "[population.params]\ntick_size = 0.5\n"
        '[[population]]\nmodel = "latent_book"\ncount = 1\nbase = 1.0\nquote = 1.0\n'
        "[population.params]\ndensity = 10\n"
    )
    pops = to_core(cfg).populations
    assert dict(pops[0].params) == {"tick_size": 0.05, "lot_size": 0.001}
    assert dict(pops[1].params) == {"tick_size": 0.5, "lot_size": 0.001}  # a given value wins
    assert dict(pops[2].params) == {"density": 10.0, "lot_size": 0.001}  # it counts in lots, not ticks


def test_a_latent_book_without_density_is_refused_naming_the_problem() -> None:
    bad = '[[population]]\nmodel = "latent_book"\ncount = 1\nbase = 1.0\nquote = 1.0\n'
    with pytest.raises(ConfigError, match=r"population\[0\]\.params: latent_book: at least one of density"):
        loads(bad)
    with pytest.raises(ConfigError, match=r"latent_book\.max_levels must be in \[1"):
        loads(bad + "[population.params]\ndensity = 5\nmax_levels = 0\n")
    with pytest.raises(ConfigError, match=r"latent_book: unknown parameter 'density4'"):
        loads(bad + "[population.params]\ndensity = 5\ndensity4 = 1\n")
    # a diffusion so fast that one update would take thousands of steps
    with pytest.raises(ConfigError, match=r"1000\.0+ ticks² of diffusion per update, more than 100"):
        loads(bad + "[population.params]\ndensity = 5\nmemory_s = 10\nwidth_ticks = 100\n")


def test_the_news_intensity_reaches_the_engine_and_is_checked_against_the_update_period() -> None:
    cfg = loads(
        "[simulation]\nbooks = 1\n[fundamental]\nintensity_sigma = 1.2\nintensity_time_s = 1800\n"
        "intensity_jump_power = 2\n"
    )
    core = to_core(cfg)
    assert (core.fundamental.intensity_sigma, core.fundamental.intensity_time_s) == (1.2, 1800.0)
    assert core.fundamental.intensity_jump_power == 2.0
    assert core.signal.intensity_sigma == 0.0  # the signal keeps its own section's setting
    with pytest.raises(
        ConfigError, match=r"fundamental\.intensity_time_s = 5 must be >= fundamental\.update_s = 10"
    ):
        loads("[fundamental]\nintensity_sigma = 1\nintensity_time_s = 5\n")
    loads("[fundamental]\nintensity_time_s = 5\n")  # without news intensity the time is unused
    with pytest.raises(ConfigError, match=r"fundamental\.intensity_sigma"):
        loads("[fundamental]\nintensity_sigma = -0.5\n")
    default = load(Path(__file__).resolve().parents[1] / "configs" / "default.toml")
    assert default.fundamental.intensity_sigma > 0  # the default market's news comes in bursts


def test_replayed_fundamental_is_read_converted_and_followed(tmp_path: Path) -> None:
    (tmp_path / "prices.csv").write_text("timestamp_s,price\n0,300\n60,310.5\n120,290\n")
    (tmp_path / "c.toml").write_text(
        '[simulation]\nbooks = 1\n[fundamental]\nmodel = "replay"\nreplay_file = "prices.csv"\n'
    )
    cfg = load(tmp_path / "c.toml")  # relative to the config file
    assert cfg.fundamental.replay_prices == (300.0, 310.5, 290.0)
    core = to_core(cfg)
    assert list(core.fundamental.replay_ts_ns) == [0, 60_000_000_000, 120_000_000_000]
    assert list(core.fundamental.replay_price_ticks) == pytest.approx([30_000, 31_050, 29_000])
    sim = Simulation(core)
    sim.step(70 * 1_000_000_000)
    assert sim.fundamental_ticks(0) == pytest.approx(31_050)
    sim.step(130 * 1_000_000_000)
    assert sim.fundamental_ticks(0) == pytest.approx(29_000)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("price,timestamp_s\n0,1\n", r"first line must be the header 'timestamp_s,price'"),
        ("timestamp_s,price\n", r"the series is empty"),
        (
            "timestamp_s,price\n0,300\n0,301\n",
            r"row 2: timestamps must be >= 0, increasing and at most 100 years",
        ),
        ("timestamp_s,price\n0,300\n5,-1\n", r"row 2: price must be a finite number > 0"),
        ("timestamp_s,price\n0,300\n5,abc\n", r"line 3 is not 'timestamp_s,price'"),
        ("timestamp_s,price\n0,300\n5,nan\n", r"row 2: price must be a finite number > 0"),
    ],
)
def test_bad_replay_files_name_the_key_and_the_row(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "p.csv").write_text(content)
    with pytest.raises(ConfigError, match=r"signal\.replay_file .*" + message):
        loads(f'[signal]\nmodel = "replay"\nreplay_file = "{tmp_path / "p.csv"}"\n')


def test_replay_settings_must_go_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fundamental\.replay_file is required when model = 'replay'"):
        loads('[fundamental]\nmodel = "replay"\n')
    with pytest.raises(ConfigError, match=r"fundamental\.replay_file is only used with model = 'replay'"):
        loads('[fundamental]\nreplay_file = "x.csv"\n')
    with pytest.raises(ConfigError, match=r"signal\.replay_file .*cannot read"):
        loads(f'[signal]\nmodel = "replay"\nreplay_file = "{tmp_path / "missing.csv"}"\n')
