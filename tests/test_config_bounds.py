"""taos.config against hostile configurations: every numeric key at its extremes is either refused
with a one-line ConfigError naming the key, or builds a real simulation that steps, in a process
with a time and address-space limit; TOML that would crash the parser is a ConfigError; the
engine limits mirrored in taos.config are the extension's; the memory estimate is not below what
real markets use; and the validator and ``taos local`` report a bad config in one line."""

import copy
import json
import math
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import taos
import taos.config as tc
from taos.config import (
    BOUNDS,
    ConfigError,
    estimate_memory,
    events_per_second,
    from_dict,
    load,
    loads,
    to_core,
)
from taos.simulator import PopulationConfig, Simulation, SimulationConfig

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1]), "OPENBLAS_NUM_THREADS": "1"}
GIB = 2**30

BASE: dict[str, Any] = {
    "simulation": {
        "books": 1,
        "seed": 7,
        "threads": 1,
        "duration_s": 10.0,
        "publish_interval_s": 1.0,
        "grace_period_s": 0.0,
    },
    "market": {"tick_size": 0.01, "lot_size": 0.0001, "start_price": 300.0},
    "miners": {"slots": 2, "wealth": 1000.0, "base_fraction": 0.5},
    "fees": {
        "miner": [[0, 0.001, 0.002], [1000, 0.0005, 0.001]],
        "background": [[0, 0.0, 0.0]],
        "window_buckets": 4,
        "bucket_s": 60.0,
    },
    "fundamental": {
        "model": "jump_diffusion",
        "sigma": 0.012,
        "mu": 0.0,
        "jump_rate": 0.002,
        "jump_sigma": 0.00335,
        "update_s": 10.0,
    },
    "signal": {
        "model": "gbm",
        "sigma": 0.02,
        "mu": 0.0,
        "jump_rate": 0.0,
        "jump_sigma": 0.0,
        "update_s": 5.0,
    },
    "population": [
        {
            "model": "initialization",
            "count": 5,
            "base": 50.0,
            "quote": 15000.0,
            "latency_s": [0.001, 0.005],
            "params": {"orders": 2, "tau_s": 300.0},
        },
        {
            "model": "stylized_trader",
            "count": 5,
            "base": 50.0,
            "quote": 15000.0,
            "latency_s": [0.001, 0.05],
            "params": {"mean_wakeup_s": 10.0, "history": 20.0},
        },
        {
            "model": "market_maker",
            "count": 1,
            "base": 200.0,
            "quote": 60000.0,
            "latency_s": [0.0005, 0.002],
            "params": {"period_s": 1.0},
        },
    ],
}

EXTREMES: list[Any] = [
    0,
    -1,
    1e-12,
    1e-300,
    5e-324,
    1e300,
    math.inf,
    -math.inf,
    math.nan,
    -0.0,
    2**63,
    2**64,
    10**30,
    10**5000,
    True,
    "1",
]


def numeric_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every number in a config dict."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in numeric_leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in numeric_leaves(v, (*path, i))]
    return [path] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def bound_of(path: tuple[Any, ...]) -> tc.Bound:
    if path[0] == "population":
        name = "params" if path[2] == "params" else path[2]
        return BOUNDS[f"population.{name}"]
    if path[0] == "fees" and path[1] in ("miner", "background"):
        return BOUNDS["fees.volume" if path[3] == 0 else "fees.rate"]
    return BOUNDS[f"{path[0]}.{path[1]}"]


def names_of(path: tuple[Any, ...]) -> list[str]:
    """What a refusal of the value at ``path`` must name: its table and its key."""
    if path[0] == "population":
        table = f"population[{path[1]}]"
        key = path[3] if path[2] == "params" else path[2]
        return [table, str(key)]
    if path[0] == "fees" and path[1] in ("miner", "background"):
        return [f"fees.{path[1]}[{path[2]}]", ("volume", "maker", "taker")[path[3]]]
    return [f"{path[0]}.{path[1]}"]


def candidates() -> list[tuple[tuple[Any, ...], Any]]:
    out = []
    for path in numeric_leaves(BASE):
        values = list(EXTREMES)
        b = bound_of(path)
        for edge in (b.lo, b.hi):
            if edge is not None and math.isfinite(edge):
                values += [edge, edge * (1 + 1e-9) + 1e-12, edge * (1 - 1e-9) - 1e-12]
                if b.integer:
                    values += [int(edge), int(edge) + 1, int(edge) - 1]
        out += [(path, v) for v in values]
    return out


def run_worker(
    cands: list[tuple[tuple[Any, ...], Any]], tmp_path: Path, limit: int, timeout: float
) -> list[dict]:
    """Runs the candidates in config_fuzz_worker.py with an address-space limit of ``limit`` bytes;
    fails naming the candidate that hung."""
    file = tmp_path / "candidates.pickle"
    file.write_bytes(pickle.dumps((BASE, cands)))

    proc = subprocess.Popen(
        [sys.executable, str(HERE / "config_fuzz_worker.py"), str(file), str(limit)],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        started = [line for line in out.splitlines() if line.startswith("start ")]
        i = int(started[-1].split()[1]) if started else 0
        pytest.fail(f"no answer within {timeout} s, at candidate {cands[i][0]} = {tc._show(cands[i][1])}")
    assert proc.returncode == 0, err[-2000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_every_numeric_key_at_its_extremes_is_refused_by_name_or_runs(tmp_path: Path) -> None:
    cands = candidates()
    assert len(cands) > 600
    results = run_worker(cands, tmp_path, limit=3 * GIB, timeout=240)
    assert len(results) == len(cands)
    crashes, unnamed = [], []
    ran = 0
    for (path, value), r in zip(cands, results, strict=True):
        shown = f"{'.'.join(map(str, path))} = {tc._show(value)}"
        if r["outcome"] == "crash":
            crashes.append(f"{shown}: {r['message']}")
        elif r["outcome"] == "refused":
            message = r["message"]
            if "\n" in message or not all(n in message for n in names_of(path)):
                unnamed.append(f"{shown}: {message}")
        else:
            ran += 1
    assert crashes == [], "\n".join(crashes[:20])
    assert unnamed == [], "\n".join(unnamed[:20])
    assert ran > 100  # the in-range values run


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"simulation": {"publish_interval_s": 1e-12}},
            r"simulation\.publish_interval_s must be in \[0\.001",
        ),
        ({"fundamental": {"update_s": 1e-12}}, r"fundamental\.update_s must be in \[0\.001"),
        ({"signal": {"update_s": 1e-9}}, r"signal\.update_s must be in \[0\.001"),
        (
            {"simulation": {"duration_s": 1e12}},
            r"simulation\.duration_s must be in \[0\.001, 3,155,760,000\]",
        ),
        ({"miners": {"wealth": 1e300}}, r"the base balances of one book .* miners\.wealth \(2 x 1e\+300\)"),
        ({"market": {"start_price": 1e300}}, r"market\.start_price / market\.tick_size = 1e\+302 ticks"),
        ({"market": {"tick_size": 1e-300}}, r"market: 1 / \(tick_size x lot_size\) must be at most"),
        ({"fees": {"bucket_s": 1e300}}, r"fees\.bucket_s must be in"),
        (
            {"fees": {"window_buckets": 100_000, "bucket_s": 86_400.0}},
            r"fees\.window_buckets x fees\.bucket_s",
        ),
        (
            {"fundamental": {"sigma": 1e300}},
            r"fundamental: with fundamental\.sigma = 1e\+300.*may move by inf",
        ),
        (
            {"fundamental": {"mu": 1.0}, "simulation": {"duration_s": 3e7}},
            r"fundamental\.mu = 1, .*at most 32\.",
        ),
        ({"simulation": {"books": 100_000}}, r"simulation\.books must be in \[1, 10,000\]"),
        ({"miners": {"slots": 65_537}}, r"miners\.slots must be in \[0, 65,536\]"),
        (
            {"simulation": {"publish_interval_s": 3600.0}, "fundamental": {"update_s": 0.001}},
            r"3,600,000 updates",
        ),
        (
            {"fees": {"miner": [[0, -0.01, 0.005]]}},
            r"fees\.miner: the lowest maker rate \(fees\.miner\[0\] maker -0\.01\) plus the lowest taker rate .* below 0",
        ),
        (
            {"fees": {"miner": [[0, 0.9999999999, 0.1]]}},
            r"fees\.miner\[0\]: maker rate 0\.9999999999 rounds to",
        ),
        ({"fees": {"miner": [[0, 0.1, 0.1]] * 33}}, r"fees\.miner has 33 tiers; at most 32"),
        (
            {"fees": {"miner": [[0, 0.1, 0.1], [1e-9, 0.1, 0.1]]}},
            r"fees\.miner\[1\]: volume 1e-09 is not above",
        ),
        ({"fees": {"miner": [[0, 0.1, 0.1], [1e300, 0.1, 0.1]]}}, r"fees\.miner\[1\]: volume 1e\+300 is"),
    ],
)
def test_the_configs_of_the_issue_are_refused_naming_key_value_and_limit(change: dict, message: str) -> None:
    data = copy.deepcopy(BASE)
    for section, values in change.items():
        data[section].update(values)
    with pytest.raises(ConfigError, match=message) as e:
        from_dict(data)
    assert "\n" not in str(e.value)


def test_populations_too_big_for_agent_ids_or_balances_are_refused() -> None:
    data = copy.deepcopy(BASE)
    data["population"][0]["count"] = 2**24 - 3
    with pytest.raises(
        ConfigError,
        match=r"population\[0\]\.count = 16,777,213, .* make 16,777,221 agents per book; agent ids must be below 2\^24",
    ):
        from_dict(data, memory_limit=2**62)
    data = copy.deepcopy(BASE)
    data["population"][1]["quote"] = 1e15
    with pytest.raises(
        ConfigError,
        match=r"the quote balances .*population\[1\]\.count x \.quote \(5 x 1,000,000,000,000,000\)",
    ):
        from_dict(data)


def test_memory_refusal_names_the_keys_and_the_estimate() -> None:
    data = copy.deepcopy(BASE)
    data["simulation"]["books"] = 10_000
    data["miners"]["slots"] = 256
    data["population"][1]["count"] = 1_600
    with pytest.raises(ConfigError) as e:
        from_dict(data, memory_limit=8 * GIB)
    message = str(e.value)
    assert re.match(r"memory: this configuration needs about [\d,.]+ GiB, more than", message), message
    assert "simulation.books = 10,000 x miners.slots = 256" in message
    assert "population[1].count = 1,600" in message
    assert "more than the limit of 8.0 GiB (given by the caller): " in message
    # the same config fits a larger given limit (e.g. a Ray cluster's), and the estimate says how much
    needed = estimate_memory(from_dict(data, memory_limit=2**62)).total
    assert from_dict(data, memory_limit=needed).simulation.books == 10_000
    with pytest.raises(ConfigError, match="memory: "):
        from_dict(data, memory_limit=needed - 1)


def test_the_memory_limit_is_this_process_limit_and_ulimit_counts(tmp_path: Path) -> None:
    """Under ``ulimit -v`` the limit is what is left of the address space; the refusal says so."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from taos.config import ConfigError, loads, memory_limit\n"
        "limit, what = memory_limit()\n"
        "assert limit < 3 << 30 and 'address-space limit' in what, (limit, what)\n"
        "try:\n"
        "    loads('[simulation]\\nbooks = 200\\n[miners]\\nslots = 4096\\n')\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "memory: this configuration needs about" in out.stdout
    assert "the address-space limit (ulimit -v) of 3.0 GiB less the" in out.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a = " + "[" * 5_000 + "]" * 5_000, "nested deeper than 8 levels"),
        ("a = " + "{b = " * 3_000 + "1" + "}" * 3_000, "nested deeper than 8 levels"),
        ("a = " + "[" * 20 + "]" * 20, "nested deeper than 8 levels"),
        ("[simulation]\nbooks = " + "9" * 5_000, "not valid TOML here: Exceeds the limit (4300 digits)"),
        ("[simulation]\nbooks = " + "9" * 4_000, "simulation.books must be in [1, 10,000]"),
        ("# " + "x" * (1 << 20), "larger than 1,048,576 characters"),
        ('"a\\nb" = 1', r"'a\nb': unknown key"),
        ('[[population]]\nmodel = "x\\ny"\ncount = 1\nbase = 1.0\nquote = 1.0', r"must be a model name"),
    ],
)
def test_toml_that_breaks_parsers_is_a_one_line_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        loads(text)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_config_file_that_is_not_text_or_too_big_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bin.toml").write_bytes(b"[simulation]\nbooks = 1\xff\n")
    with pytest.raises(ConfigError, match=r"bin\.toml: not UTF-8 text \(byte 22\)"):
        load(tmp_path / "bin.toml")
    (tmp_path / "big.toml").write_bytes(b"#" * (2 << 20))
    with pytest.raises(ConfigError, match=r"big\.toml: larger than 1,048,576 bytes"):
        load(tmp_path / "big.toml")


def test_a_replayed_series_outside_the_engine_units_is_refused(tmp_path: Path) -> None:
    for content, message in [
        (
            "timestamp_s,price\n0,300\n1e300,301\n",
            r"row 2: timestamps must be >= 0, increasing and at most 100 years",
        ),
        ("timestamp_s,price\n0,300\n1e-10,301\n", r"row 2: time 1e-10 s must be in .*rounded to nanoseconds"),
        ("timestamp_s,price\n0,300\n5,1e300\n", r"row 2: price 1e\+300 is 1e\+302 ticks"),
    ]:
        (tmp_path / "p.csv").write_text(content)
        data = copy.deepcopy(BASE)
        data["signal"] = {"model": "replay", "replay_file": str(tmp_path / "p.csv")}
        with pytest.raises(ConfigError, match=r"signal\.replay_file.*" + message):
            from_dict(data)


def test_a_hand_built_config_is_checked_by_to_core() -> None:
    """to_core checks again: a Config built without from_dict cannot overflow the conversion."""
    import dataclasses

    config = from_dict(copy.deepcopy(BASE))
    bad = dataclasses.replace(config, miners=dataclasses.replace(config.miners, wealth=1e300))
    with pytest.raises(ConfigError, match=r"miners\.wealth"):
        to_core(bad)
    bad = dataclasses.replace(
        config, simulation=dataclasses.replace(config.simulation, publish_interval_s=0.0)
    )
    with pytest.raises(ConfigError, match=r"simulation\.publish_interval_s must be in"):
        to_core(bad)


# --- the engine's limits, mirrored in taos.config ---------------------------------------------------


def test_mirrored_engine_limits_are_the_extensions() -> None:
    from taos import simulator

    assert tc.MAX_PRICE_TICKS == simulator.MAX_PRICE_TICKS
    assert tc.MAX_NOTIONAL == simulator.MAX_NOTIONAL
    assert tc.RATE_SCALE == simulator.RATE_SCALE


def one_book(**fields: Any) -> SimulationConfig:
    c = SimulationConfig()
    c.books = 1
    for k, v in fields.items():
        setattr(c, k, v)
    return c


def test_mirrored_agent_supply_and_window_limits_are_the_engines() -> None:
    # agent ids: MAX_AGENTS agents are refused; one fewer passes that check (and stops at the next one,
    # the miners' balances, before any account is opened)
    for count, refusal in ((tc.MAX_AGENTS, "too many agents"), (tc.MAX_AGENTS - 1, "miner balances")):
        c = one_book(miner_base_lots=-1)
        c.populations = [PopulationConfig("random_trader", count, 0, 0)]
        with pytest.raises(ValueError, match=refusal):
            Simulation(c)
    # supply: a book's balances may add up to MAX_SUPPLY, not more
    Simulation(one_book(miner_slots=1, miner_base_lots=tc.MAX_SUPPLY, miner_quote=tc.MAX_SUPPLY))
    with pytest.raises(ValueError, match="2\\^62"):
        Simulation(one_book(miner_slots=1, miner_base_lots=tc.MAX_SUPPLY + 1))
    # the fee window
    Simulation(one_book(volume_window_buckets=tc.MAX_WINDOW_BUCKETS))
    with pytest.raises(ValueError, match="volume_window_buckets"):
        Simulation(one_book(volume_window_buckets=tc.MAX_WINDOW_BUCKETS + 1))


def test_the_engine_refuses_update_periods_and_latencies_the_config_refuses() -> None:
    """The core checks the same bounds itself (a SimulationConfig may be built by hand)."""
    c = one_book()
    c.fundamental.update_s = tc.MIN_INTERVAL_S
    c.signal.update_s = tc.MAX_TIME_S
    Simulation(c)
    for value in (1e-12, tc.MIN_INTERVAL_S * 0.999, tc.MAX_TIME_S * 1.001, 1e300):
        c = one_book()
        c.fundamental.update_s = value
        with pytest.raises(ValueError, match=r"fundamental\.update_s must be in \[0\.001, 3155760000\]"):
            Simulation(c)
    c = one_book()
    c.populations = [PopulationConfig("random_trader", 1, 0, 0, [], 0, tc.MAX_TIME_S * 10**9)]
    Simulation(c)
    c.populations = [PopulationConfig("random_trader", 1, 0, 0, [], 0, tc.MAX_TIME_S * 10**9 + 1)]
    with pytest.raises(ValueError, match="latency"):
        Simulation(c)


# --- the memory estimate, measured --------------------------------------------------------------

MEASURE = """
import json, sys
from pathlib import Path
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS"))
from taos.chain.local import LocalChain
from taos.config import loads
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings
folder = Path(sys.argv[1])
(folder / "chain.json").write_text(json.dumps({"neurons": [{"hotkey": "v", "validator_permit": True, "stake": 1.0}]}))
chain = LocalChain.from_file(folder / "chain.json", "v")
config = loads(sys.stdin.read())
base = rss()
v = Validator(config, chain, InProcessTransport({}), ValidatorSettings(weights_interval_s=0.0))
peak = rss()
for _ in range(int(sys.argv[2])):
    result = v.step()
    v.score(result)
    peak = max(peak, rss())
    del result
print(peak - base)
"""


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ((ROOT / "configs" / "default.toml").read_text().replace("books = 20", "books = 4"), 4),
        ("[simulation]\nbooks = 4\ngrace_period_s = 0\n[miners]\nslots = 4096\n", 3),
        (
            "[simulation]\nbooks = 1\npublish_interval_s = 60\n[miners]\nslots = 4\n"
            '[[population]]\nmodel = "initialization"\ncount = 200\nbase = 50.0\nquote = 15000.0\n'
            "[population.params]\norders = 100\n"
            '[[population]]\nmodel = "market_maker"\ncount = 200\nbase = 200.0\nquote = 60000.0\n'
            "[population.params]\nperiod_s = 0.1\n",
            2,
        ),
        (
            "[simulation]\nbooks = 2\n[miners]\nslots = 4\n[fees]\nwindow_buckets = 20000\n"
            '[[population]]\nmodel = "stylized_trader"\ncount = 300\nbase = 50.0\nquote = 15000.0\n'
            "[population.params]\nhistory = 10000\nmean_wakeup_s = 0.01\n",
            3,
        ),
    ],
    ids=["default-4-books", "4096-slots", "busy-step", "long-history-and-window"],
)
def test_the_memory_estimate_is_not_below_a_real_validators_use(
    tmp_path: Path, text: str, steps: int
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path), str(steps)],
        input=text,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    used = int(out.stdout.split()[-1])
    estimate = estimate_memory(loads(text)).total
    assert used <= estimate, (used, estimate)


ACTIVITY = [
    ("stylized_trader", {}),
    ("stylized_trader", {"mean_wakeup_s": 1.0}),
    ("market_maker", {}),
    ("market_maker", {"period_s": 0.2}),
    ("signal_trader", {}),
    ("random_trader", {}),
    ("random_trader", {"mean_wakeup_s": 0.5}),
    ("imbalance_trader", {"threshold_lots": 1000.0, "child_lots": 100.0}),
    ("initialization", {"tau_s": 30.0}),
    ("latent_book", {"density": 20.0, "density2": 20.0, "memory2_s": 600.0}),
    ("latent_book", {"density": 20.0, "period_s": 0.2, "show_ticks": 40.0}),
]


@pytest.mark.parametrize(("model", "params"), ACTIVITY, ids=[f"{m}-{p}" for m, p in ACTIVITY])
def test_the_event_rate_estimate_is_not_below_the_measured_rate(model: str, params: dict) -> None:
    """Each model (with the default market around it for liquidity) over 10 simulated minutes."""
    added = {"model": model, "count": 20, "base": 200.0, "quote": 60000.0, "params": params}
    pops = [*copy.deepcopy(BASE["population"]), added]
    data = copy.deepcopy(BASE)
    data["population"] = pops
    config = from_dict(data)
    sim = Simulation(to_core(config))
    events = 0
    for t in range(5, 601, 5):
        events += len(sim.step(t * 10**9).events)
    first = sum(
        p["count"] * 2 * p.get("params", {}).get("orders", 4) for p in pops if p["model"] == "initialization"
    )
    assert (events - first) / 600 <= events_per_second(config), (events, events_per_second(config))


# --- the commands that read configs -----------------------------------------------------------------

BAD_CONFIGS = {  # one of each kind of refusal: a key's range, the parser, the memory, the engine's check
    "publish": ("[simulation]\npublish_interval_s = 1e-12\n", "simulation.publish_interval_s must be in"),
    "deep": ("a = " + "[" * 5_000 + "]" * 5_000 + "\n", "nested deeper than 8 levels"),
    "memory": ("[simulation]\nbooks = 10000\n[miners]\nslots = 65536\n", "memory: this configuration needs"),
    "param": (
        '[[population]]\nmodel = "random_trader"\ncount = 1\nbase = 1.0\nquote = 1.0\n'
        "[population.params]\ncancel_prob = 3.0\n",
        "population[0].params: random_trader.cancel_prob must be in",
    ),
}


def one_line(out: subprocess.CompletedProcess[str], prefix: str) -> str:
    assert out.returncode == 1, (out.stdout[-500:], out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prefix}: error: "), out.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_the_validator_and_taos_local_report_a_bad_config_in_one_line(tmp_path: Path, name: str) -> None:
    text, message = BAD_CONFIGS[name]
    config = tmp_path / f"{name}.toml"
    config.write_text(text)
    validator = subprocess.run(
        [sys.executable, "-m", "taos.validator", "--config", str(config), "--state", str(tmp_path / "state")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert message in one_line(validator, "taos.validator")
    local = subprocess.run(
        [sys.executable, "-m", "taos.local", "--config", str(config), "--out", str(tmp_path / "run")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert message in one_line(local, "taos local")
    assert not (tmp_path / "state").exists() and not (tmp_path / "run").exists()


def test_the_config_loads_without_the_extension(tmp_path: Path) -> None:
    """A miner-only install has no taos._simulator: loading still checks everything but the
    models' parameters (which to_core checks)."""
    code = (
        "import sys\n"
        "class NoExtension:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'taos._simulator':\n"
        "            raise ImportError('no extension')\n"
        "sys.meta_path.insert(0, NoExtension())\n"
        "from taos.config import ConfigError, load, loads\n"
        "assert load(sys.argv[1]).simulation.books == 20\n"
        "assert 'taos._simulator' not in sys.modules\n"
        "try:\n"
        "    loads('[simulation]\\npublish_interval_s = 1e-12\\n')\n"
        "except ConfigError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "configs" / "default.toml")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("simulation.publish_interval_s must be in [0.001, 3,155,760,000]")


def test_a_replay_file_that_is_not_a_regular_file_or_has_endless_lines_is_refused(tmp_path: Path) -> None:
    data = copy.deepcopy(BASE)
    data["signal"] = {"model": "replay", "replay_file": "/dev/zero"}  # read as text, one endless line
    with pytest.raises(
        ConfigError, match=r"signal\.replay_file \(/dev/zero\): cannot read: not a regular file"
    ):
        from_dict(data)
    (tmp_path / "p.csv").write_text("timestamp_s,price\n0,300\n1," + "3" * 1_000 + "\n")
    data["signal"]["replay_file"] = str(tmp_path / "p.csv")
    with pytest.raises(ConfigError, match=r"line 3 is longer than 255 characters"):
        from_dict(data)
