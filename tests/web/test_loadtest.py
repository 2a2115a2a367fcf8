"""``scripts/loadtest.py`` against the live server for two seconds: every kind of request
is sent, none fails, and the table and JSON report agree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "loadtest.py"


@pytest.fixture(scope="module")
def loadtest():
    spec = importlib.util.spec_from_file_location("kgrec_loadtest", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_percentiles_and_mix(loadtest):
    values = sorted(float(v) for v in range(1, 101))
    assert [loadtest.percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert loadtest.parse_mix("user=3,query") == {"user": 3.0, "query": 1.0}
    with pytest.raises(SystemExit, match="unknown kind"):
        loadtest.parse_mix("users=1")


def test_short_run_against_the_live_server(loadtest, live_server, tmp_path, capsys):
    out = tmp_path / "load.json"
    code = loadtest.main(["--url", live_server.url, "--clients", "4", "--duration", "2",
                          "--warmup", "0.5", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(out.read_text())
    summary = report["summary"]
    assert set(summary) == {"user", "liked", "query", "explain", "all"}
    assert summary["all"]["errors"] == 0
    assert summary["all"]["requests"] == sum(summary[k]["requests"] for k in loadtest.KINDS)
    assert 0 < summary["all"]["p50_ms"] <= summary["all"]["p95_ms"] <= summary["all"]["p99_ms"]
    assert f"{summary['all']['requests']:>9}" in printed and "p95 ms" in printed


def test_refuses_a_target_off_this_machine(loadtest):
    with pytest.raises(SystemExit, match="not a loopback address"):
        loadtest.main(["--url", "http://192.0.2.1:8000", "--duration", "1"])
