"""The Grafana dashboard of docs/grafana/taos-validator.json: a dashboard Grafana imports (panels
with ids, positions and queries on the dashboard's Prometheus data source variable), and every
metric its queries name is one a real validator exposes after a few steps (a real simulator, the
example agents in process, a state folder, weights set)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_validator_metrics_gauges import Run

from taos.agents import Agent
from taos.protocol import Instruction, MarketState, PlaceLimit, Side
from taos.validator.metrics import ValidatorMetrics

DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana" / "taos-validator.json"
# a metric name in a PromQL expression: the validator's own and the process collector's
METRIC = re.compile(r"\b(?:taos_validator|process)_[a-zA-Z0-9_]*")


class UnknownBook(Agent):
    """Orders on a book the market does not have: every one is rejected (UNKNOWN_BOOK)."""

    def on_state(self, state: MarketState) -> list[Instruction]:
        return [PlaceLimit(99, Side.BUY, 1.0, 1.0)]


def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text())
    assert isinstance(data, dict)
    return data


def panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in data["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))  # a collapsed row keeps its panels inside
    return out


def expressions(data: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(data) for t in p.get("targets", [])]
    for var in data["templating"]["list"]:
        if var["type"] == "query":
            exprs.append(var["definition"])
    return exprs


def exposed(metrics: ValidatorMetrics) -> set[str]:
    """Every sample name in the exposition (with its _total, _bucket, _sum, _count suffixes)."""
    text = metrics.render().decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_dashboard_is_a_grafana_dashboard_on_a_prometheus_data_source_variable() -> None:
    data = dashboard()
    assert data["uid"] == "taos-validator" and data["title"] and data["schemaVersion"] >= 30
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    ids = [p["id"] for p in panels(data)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels(data):
        grid = p["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}" and t["refId"], p["title"]
            assert METRIC.search(t["expr"]), (p["title"], t["expr"])  # every query reads a metric
    # the panels the operator looks for
    titles = " | ".join(p["title"] for p in panels(data)).lower()
    for word in ("step duration", "pace lag", "outcome", "response time", "rejections", "mid price",
                 "spread", "depth", "top miners", "weights"):  # fmt: skip
        assert word in titles, word


@pytest.fixture
def validator_metrics(tmp_path: Path) -> Any:
    metrics = ValidatorMetrics()  # with the process metrics, as `taos validator` has them
    r = Run(tmp_path, metrics, {3: UnknownBook(3)})  # rejections too
    try:
        r.steps(6)
        yield metrics
    finally:
        r.store.close()


def test_every_metric_the_dashboard_queries_is_exposed_by_a_running_validator(
    validator_metrics: ValidatorMetrics,
) -> None:
    names = exposed(validator_metrics)
    queried = {name for expr in expressions(dashboard()) for name in METRIC.findall(expr)}
    assert len(queried) >= 25  # the dashboard covers the metrics, not a few of them
    missing = sorted(queried - names)
    assert missing == [], f"the dashboard queries metrics that the validator does not expose: {missing}"
    # and the names it queries cover the book and miner gauges
    for family in ("taos_validator_book_mid_price", "taos_validator_miner_pnl", "taos_validator_miner_weight",
                   "taos_validator_state_folder_bytes", "taos_validator_pace_lag_seconds"):  # fmt: skip
        assert family in queried, family
