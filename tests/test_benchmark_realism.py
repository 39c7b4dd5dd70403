"""benchmarks/realism.py end to end on a short market: the realism table, the mid's pinning to the
fundamental, the market's own flow imbalance, and the metaorder impact at its end and along its
path with the fitted exponent's bootstrap error, as text and as JSON."""

import json
import re
from types import ModuleType

import pytest
from repository import ROOT, load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(ROOT / "benchmarks" / "realism.py", "realism_benchmark")


# two books, 1.6 hours after the warm-up: one metaorder start (at 1 h) on each
ARGS = ["--seeds", "1", "--books", "2", "--hours", "1.6", "--impact"]


def test_the_text_report_has_the_pinning_and_every_size_with_its_path(bench, capsys) -> None:  # type: ignore[no-untyped-def]
    assert bench.main(ARGS) == 0
    out = capsys.readouterr().out
    pin = re.search(r"s\.d\. ([0-9.]+) \(.*\) bp; its autocorrelation at 5 s ([+-][0-9.]+)", out)
    assert pin is not None, out
    assert 0 < float(pin.group(1)) < 100 and -1 <= float(pin.group(2)) <= 1
    flow = re.search(r"net aggressor volume ([0-9.]+) \(", out)
    assert flow is not None and 0 < float(flow.group(1)) < 100
    sizes = re.findall(r"impact +([0-9.]+) of hourly volume: ([+-][0-9.]+) bp .*every 100 s: (.*)", out)
    assert [float(s[0]) for s in sizes] == list(bench.FRACTIONS)
    for _, end, path in sizes:
        points = path.split()
        assert len(points) == 6 and points[-1] == end  # the path's last point is the end
    # 1 start x 2 books per size; the exponent's error from resampling them
    fit = re.search(r"impact exponent ([0-9.-]+) ± ([0-9.]+) \(bootstrap over the 2 metaorders", out)
    assert fit is not None, out
    assert float(fit.group(2)) >= 0


def test_the_json_report_carries_the_pinning_by_seed(bench, capsys) -> None:  # type: ignore[no-untyped-def]
    assert bench.main([*ARGS[:-1], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    pin = data["pinning_by_seed"]
    assert len(pin["gap_sd_bp"]) == 1 and pin["gap_sd_bp"][0] > 0  # one seed
    assert set(pin["gap_acf"]) == {"5s", "60s", "600s"}
    assert 0 < pin["flow_imbalance"][0] < 1
    assert (
        data["impact_exponent"] is None and data["impact_exponent_se"] is None
    )  # no metaorders without --impact
