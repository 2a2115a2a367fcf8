"""The benchmark on small splits of the sample: table, JSON shape, PNG, cold-start rules."""

import json

import pytest

from kgrec.cli import main
from kgrec.data import cold_start_split, random_split, write_split


@pytest.fixture(scope="module")
def split_dirs(sample_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("splits")
    write_split(random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0), root / "warm")
    write_split(cold_start_split(sample_dataset.ratings, cold_fraction=0.2, seed=0), root / "cold")
    return root


def test_benchmark_warm_split(split_dirs, tmp_path, capsys):
    out = tmp_path / "res.json"
    code = main(["benchmark", "--split-dir", str(split_dirs / "warm"), "--dataset", "sample",
                 "--models", "pop", "dlae", "lightgcn", "--epochs", "5", "--out", str(out),
                 "--explain-models", "pop", "dlae", "lightgcn", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| dlae |" in printed and "expl. coverage" in printed
    data = json.loads(out.read_text())
    assert data["split"] == "warm"
    for name in ("pop", "dlae", "lightgcn"):
        row = data["models"][name]
        for key in ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr@10", "hit@10",
                    "train_seconds", "seconds_per_epoch", "best_epoch", "peak_rss_mb",
                    "cpu_user_seconds", "cpu_system_seconds"):
            assert key in row, (name, key)
        assert row["cpu_system_seconds"] >= 0
        assert 0 <= row["ndcg@10"] <= 1
        assert row["explanations"]["coverage"] >= 0.9
    assert data["models"]["lightgcn"]["seconds_per_epoch"] > 0
    # LightGCN's 5 epochs run on the CPU: its user time is measured, not left at nan
    assert data["models"]["lightgcn"]["cpu_user_seconds"] > 0
    assert "system CPU %" in printed
    assert data["models"]["dlae"]["ndcg@10"] > data["models"]["pop"]["ndcg@10"]
    assert data["models"]["pop"]["explanations"]["fidelity_share_dropped"] == 0.0
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "res-logs" / "lightgcn-seed0.jsonl").exists()


def test_benchmark_cold_split_reports_non_inductive(split_dirs, tmp_path, capsys):
    out = tmp_path / "cold.json"
    code = main(["benchmark", "--split-dir", str(split_dirs / "cold"), "--dataset", "sample",
                 "--models", "pop", "genre-profile", "text-cosine", "sage", "--epochs", "3",
                 "--out", str(out),
                 "--no-progress"])
    assert code == 0
    data = json.loads(out.read_text())
    assert "not inductive" in data["models"]["pop"]["skipped"]
    assert data["models"]["genre-profile"]["recall@20"] > 0
    assert data["models"]["sage"]["recall@20"] > 0 and data["models"]["sage"]["best_epoch"] >= 1
    assert "cold-start" in data["protocol"]


def test_benchmark_unknown_model(split_dirs, tmp_path, capsys):
    code = main(["benchmark", "--split-dir", str(split_dirs / "warm"), "--dataset", "sample",
                 "--models", "nope", "--out", str(tmp_path / "x.json")])
    assert code == 2
    assert "unknown models ['nope']" in capsys.readouterr().err
