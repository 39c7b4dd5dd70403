"""taos.config: TOML → validated objects → the core's SimulationConfig."""

from pathlib import Path

import pytest

from taos.config import ConfigError, load, loads, quote_units, to_core
from taos.simulator import Simulation

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "configs" / "small.toml"


def test_small_config_loads_converts_and_runs() -> None:
    cfg = load(SMALL)
    assert cfg.simulation.books == 4
    assert [p.model for p in cfg.populations] == ["initialization", "random_trader"]
    core = to_core(cfg)
    assert core.books == 4
    assert core.fundamental.start_price_ticks == pytest.approx(30_000.0)
    assert core.miner_quote == 50_000 * 1_000_000  # half of 100,000 in quote units (1e-6)
    assert core.miner_base_lots == round(50_000 / 300 / 0.0001)
    assert core.miner_fee_tiers[1].volume_quote == 200_000 * 1_000_000
    assert core.miner_fee_tiers[1].taker_ppb == 3_000_000
    assert core.populations[1].latency_max_ns == 50_000_000
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
        ("[simulation]\nbooks = 0", r"simulation\.books must be >= 1"),
        ("[simulation]\nbooks = true", r"simulation\.books must be an integer"),
        ("[simulation]\nduration_s = 0", r"simulation\.duration_s must be > 0"),
        ("[market]\ntick_size = -0.01", r"market\.tick_size must be > 0"),
        ("[market]\nstart_price = nan", r"market\.start_price must be finite"),
        ("[miners]\nbase_fraction = 1.5", r"miners\.base_fraction must be <= 1"),
        ("[fees]\nminer = [[5, 0.001, 0.001]]", r"fees\.miner\[0\]: the first tier must start at volume 0"),
        ("[fees]\nminer = [[0, 1.5, 0.001]]", r"fees\.miner\[0\]: maker rate must be in \(-1, 1\)"),
        ("[fees]\nminer = [[0, 0.1, 0.1], [0, 0.1, 0.1]]", r"fees\.miner\[1\]: volume must be greater"),
        ("[fees]\nminer = [[0, 0.1]]", r"fees\.miner\[0\] must be \[volume, maker, taker\]"),
        ('[fundamental]\nmodel = "brownian"', r"fundamental\.model must be one of jump_diffusion, gbm"),
        ("[fundamental]\njump_rate = 2", r"fundamental\.jump_rate must be <= 1"),
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
        ("wakeup = 1.0", r"population\[0\]: random_trader: unknown parameter 'wakeup'"),
        ("cancel_prob = 3.0", r"population\[0\]: random_trader\.cancel_prob must be in"),
    ],
)
def test_bad_agent_parameters_name_population_and_parameter(params: str, message: str) -> None:
    cfg = loads(
        f'[[population]]\nmodel = "random_trader"\ncount = 1\nbase = 1.0\nquote = 1.0\n[population.params]\n{params}'
    )
    with pytest.raises(ConfigError, match=message):
        to_core(cfg)


def test_unknown_model_is_refused_at_conversion() -> None:
    cfg = loads('[[population]]\nmodel = "martian"\ncount = 1\nbase = 1.0\nquote = 1.0')
    with pytest.raises(ConfigError, match=r"population\[0\]: unknown agent model 'martian'"):
        to_core(cfg)


def test_tick_and_lot_must_give_whole_quote_units() -> None:
    with pytest.raises(ConfigError, match="whole number"):
        quote_units(loads("[market]\ntick_size = 0.03\nlot_size = 0.07").market)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.toml")
