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
    # no warm-up: every client's first request counts, and with seed 1 the first requests
    # of the 8 clients are of all four kinds, however slow the machine
    code = loadtest.main(["--url", live_server.url, "--clients", "8", "--duration", "2",
                          "--warmup", "0", "--seed", "1", "--out", str(out)])
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


def test_open_loop_keeps_to_the_offered_rate(loadtest, live_server, tmp_path, capsys):
    """``--rate``: the clients together send about the offered rate, whatever the server's
    speed (an open loop), and the report says so."""
    out = tmp_path / "open.json"
    code = loadtest.main(["--url", live_server.url, "--clients", "4", "--duration", "2",
                          "--warmup", "0.2", "--rate", "10", "--mix", "user=1",
                          "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads(out.read_text())
    assert report["rate"] == 10.0 and "open loop at 10 req/s" in printed
    assert 15 <= report["summary"]["all"]["requests"] <= 25  # 10 req/s for 2 s


def test_server_cpu_of_a_process_tree(loadtest):
    """A child that burns 0.3 s of CPU is counted in its parent's tree."""
    import os
    import subprocess
    import sys
    import time

    if not Path("/proc/self/stat").exists():
        pytest.skip("no /proc on this system")
    burn = ("import sys, time\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\nsys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        while loadtest.tree_cpu_seconds(child.pid) < 0.28 and time.time() < deadline:
            time.sleep(0.05)
        assert loadtest.tree_cpu_seconds(child.pid) >= 0.28
        assert loadtest.tree_cpu_seconds(os.getpid()) >= loadtest.tree_cpu_seconds(child.pid)
    finally:
        child.communicate(b"")
    assert loadtest.tree_cpu_seconds(2 ** 31 - 1) is None
