"""End to end, as a miner of the signal bridge and a researcher would run it: the signal server and
the sample request script as real processes feed a SignalAgent inside `taos local --scoring.preset
ptn`, which opens the positions the signals ask for; the run folder tells what happened."""

import json
import subprocess
import sys
from pathlib import Path

from signal_helpers import ENV, KEY, ROOT, SignalServerProcess, files


def test_signals_become_positions_in_a_local_ptn_market(tmp_path: Path) -> None:
    mining = tmp_path / "mining"
    mining.mkdir()
    (mining / "miner_secrets.json").write_text(json.dumps({"api_key": KEY}))
    server = SignalServerProcess(mining)
    try:
        long_id = server.send(0, "LONG", 0.4)
        short_id = server.send(1, "SHORT", 0.3)
    finally:
        server.stop()
    assert set(files(mining, "received_signals")) == {long_id, short_id}

    out = tmp_path / "run"
    signal_agent = f"{ROOT / 'agents' / 'SignalAgent.py'}:signals_dir={mining},ack_timeout_s=3600"
    proc = subprocess.run(
        [
            sys.executable, "-m", "taos.local",
            "--config", str(ROOT / "configs" / "small.toml"), "--books", "2", "--duration", "13m",
            "--seed", "5", "--scoring.preset", "ptn",
            "--agent", signal_agent, "--agent", str(ROOT / "agents" / "RandomMakerAgent.py"),
            "--out", str(out),
        ],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # both signals were executed and acknowledged by the (one, in-process) validator
    assert set(files(mining, "processed_signals")) == {long_id, short_id}
    assert files(mining, "received_signals") == {} and files(mining, "failed_signals") == {}

    summary = json.loads((out / "summary.json").read_text())
    assert summary["scoring_preset"] == "ptn" and summary["complete"]
    # the ptn rules, but the wall-clock reply rate limit (a local market outruns real time)
    assert summary["rules"] == {
        "max_leverage": 1.0, "max_open": 200, "position_interval_s": 60.0, "rate_limit": 0,
        "rate_window_s": 60.0, "sessions": [],
    }  # fmt: skip
    names = {a["uid"]: a["name"] for a in summary["agents"]}
    signal_uid = next(uid for uid, name in names.items() if name.startswith("SignalAgent"))
    maker_uid = next(uid for uid, name in names.items() if name.startswith("RandomMakerAgent"))
    mine = summary["policies"][str(signal_uid)]
    # LONG on book 0 and SHORT on book 1, still open at the end (nothing asked to close them)
    assert mine["open"] == {"0": "long", "1": "short"}
    assert mine["open_positions"] == 2 and mine["closed_positions"] == 0
    assert 0 < mine["hours_in_positions"] <= 2 * (3 / 60)  # two books, at most the 3 minutes after grace
    # preset ptn: every miner is in its (30-day) challenge period and nobody was eliminated
    for uid in (signal_uid, maker_uid):
        assert summary["policies"][str(uid)]["challenge"] == "active"
        assert summary["policies"][str(uid)]["eliminated"] is None
