"""The user-facing ``kgrec`` commands, in process: ``--help`` of each, ``demo``, the
train → recommend → explain → evaluate round trip on the bundled sample, ``--json``
outputs, and one-line errors on bad input.

One small recommender is trained (through ``kgrec train``, 5 epochs) per module and its
saved folder reused. The text embeddings go to the session cache that
``tests/conftest.py`` points ``KGREC_DATA_DIR`` at, so only the first test of a session
that embeds the sample pays for it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kgrec.cli import COMMANDS, main

COMMAND_NAMES = ("demo", "data", "build-graph", "train", "evaluate", "recommend", "explain",
                 "benchmark", "serve")
FEW = ["--epochs", "5", "--threads", "1", "--no-progress"]


@pytest.fixture(scope="module", autouse=True)
def _offline_single_thread():
    """No hub access; one torch thread (robust on a busy 2-core machine, where spinning
    OpenMP threads slow small ops down many times over), restored afterwards."""
    import torch

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(before)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory, sample_dataset) -> Path:
    from kgrec.data import random_split
    from kgrec.data.splits import write_split

    folder = tmp_path_factory.mktemp("split")
    write_split(random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0), folder)
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, split_dir) -> tuple[Path, dict]:
    """``kgrec train`` on the split's train/valid parts: (saved folder, its JSON summary)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("models") / "sample"
    buffer = io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(buffer):
        code = main(["train", "--dataset", "sample", "--split-dir", str(split_dir),
                     "--out", str(out), "--json", *FEW])
    assert code == 0
    return out, json.loads(buffer.getvalue())


# -- help --------------------------------------------------------------------------------------
def test_commands_are_listed_in_order(capsys):
    assert [m.rsplit(".", 1)[1].replace("_", "-") for m in COMMANDS] == list(COMMAND_NAMES)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    positions = [out.index(f"    {name}") for name in COMMAND_NAMES]
    assert positions == sorted(positions)


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: kgrec {command}")
    if command in ("demo", "data", "train", "evaluate", "recommend", "explain"):
        assert "--json" in out


def test_help_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; from kgrec.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'pandas', 'numpy', 'rdflib', 'transformers') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# -- demo --------------------------------------------------------------------------------------
def test_demo_json_every_recommendation_is_explained(capsys):
    code, out, _ = run_cli(capsys, "demo", "--users", "1", "--json", *FEW)
    assert code == 0
    report = json.loads(out)
    assert report["dataset"] == "sample" and report["model"] == "hybrid"
    assert report["split"]["test"] > 0
    assert report["metrics"]["hybrid"]["ndcg@10"] > report["metrics"]["popularity"]["ndcg@10"]
    (user,) = report["users"]
    assert len(user["recommendations"]) == 10
    for rec in user["recommendations"]:
        assert rec["explanations"], f"{rec['title']} has no explanation"
        assert all(e["text"].startswith(rec["title"]) for e in rec["explanations"])
    assert not [u for u in report["unexplained"] if u["for"].startswith("user")]
    assert len(report["query"]["recommendations"]) == 10
    assert len(report["cold_start"]["recommendations"]) == 10
    assert report["cold_start"]["liked"] == ["Heat", "Casino"]
    assert {"graph_text", "fit", "evaluate", "total"} <= set(report["timings"])


def test_demo_text_and_save(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "demo", "--users", "1", "--save", str(tmp_path / "m"),
                           "--liked", "Pulp Fiction", *FEW)
    assert code == 0
    for section in ("[1/7]", "[5/7]", "ndcg@10", "popularity", "[6/7]", "user u1",
                    "[7/7]", "cold-start user who likes Pulp Fiction", "timings:", "total"):
        assert section in out
    assert (tmp_path / "m" / "manifest.json").is_file()


# -- data --------------------------------------------------------------------------------------
def test_data_text_and_json(capsys):
    code, out, _ = run_cli(capsys, "data")
    assert code == 0 and out.startswith("dataset sample") and "directors" in out
    code, out, _ = run_cli(capsys, "data", "--dataset", "sample", "--json")
    summary = json.loads(out)
    assert summary["counts"]["users"] == 450 and summary["counts"]["movies"] == 418
    assert summary["ratings"]["scale"] == [1.0, 5.0]
    assert summary["relations"]["directed_by"] > 0


# -- round trip --------------------------------------------------------------------------------
def test_train_saves_and_reports_validation(trained):
    folder, summary = trained
    assert (folder / "manifest.json").is_file() and (folder / "model.safetensors").is_file()
    assert summary["model"] == "hybrid" and summary["epochs"] == 5
    assert 0 < summary["valid_metrics"]["ndcg@10"] <= 1
    assert summary["out"] == str(folder)


def test_train_text_output(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--model", "pop", "--out", str(tmp_path / "pop"),
                           *FEW)
    assert code == 0
    assert "trained pop on sample" in out and "validation" in out and "saved to" in out


def test_recommend_user_json(trained, capsys):
    code, out, _ = run_cli(capsys, "recommend", "--model", str(trained[0]), "--user", "u1",
                           "--json")
    assert code == 0
    result = json.loads(out)
    assert result["user"] == "u1" and len(result["recommendations"]) == 10
    for rec in result["recommendations"]:
        assert rec["explanations"] and rec["explanations"][0]["path"][0][0] == "user:u1"


def test_recommend_liked_query_and_filters(trained, capsys):
    model = str(trained[0])
    code, out, _ = run_cli(capsys, "recommend", "--model", model, "--liked", "Heat", "Casino",
                           "-k", "5", "--json")
    assert code == 0
    titles = [r["title"] for r in json.loads(out)["recommendations"]]
    assert len(titles) == 5 and not {"Heat", "Casino"} & set(titles)
    code, out, _ = run_cli(capsys, "recommend", "--model", model, "--query",
                           "movies directed by Quentin Tarantino", "--no-explain", "--json")
    recs = json.loads(out)["recommendations"]
    assert "Pulp Fiction" in [r["title"] for r in recs[:5]]
    assert all(r["explanations"] == [] for r in recs)
    code, out, _ = run_cli(capsys, "recommend", "--model", model, "--user", "u1", "--genre",
                           "Western", "--min-year", "1960", "-k", "3")
    assert code == 0 and out.startswith("top 3 for user u1")


def test_explain_text_and_json(trained, capsys):
    model = str(trained[0])
    code, out, _ = run_cli(capsys, "explain", "--model", model, "u1", "Reservoir Dogs")
    assert code == 0 and out.startswith("why Reservoir Dogs")
    assert "Reservoir Dogs:" in out and "-rated->" in out
    code, out, _ = run_cli(capsys, "explain", "--model", model, "u1", "1", "--json")
    result = json.loads(out)
    assert result["item_id"] == "1" and result["title"] == "Reservoir Dogs"
    assert result["explanations"]
    for e in result["explanations"]:
        assert e["path"][0][0] == "user:u1"
        assert "movie:1" in e["path"][-1]


def test_evaluate_split_dir_and_test_file(trained, split_dir, capsys):
    model = str(trained[0])
    code, out, _ = run_cli(capsys, "evaluate", "--model", model, "--split-dir", str(split_dir),
                           "--json")
    assert code == 0
    result = json.loads(out)
    assert result["interactions"] > 0 and 0 < result["metrics"]["ndcg@10"] <= 1
    code, out, _ = run_cli(capsys, "evaluate", "--model", model, "--test",
                           str(split_dir / "test.tsv"), "--ks", "5")
    assert code == 0 and "@5" in out and "ndcg" in out


def test_evaluate_warns_about_interactions_seen_in_fitting(trained, split_dir, capsys):
    code, _, err = run_cli(capsys, "evaluate", "--model", str(trained[0]), "--test",
                           str(split_dir / "valid.tsv"))
    assert "were seen in fitting" in err
    assert code != 0 and "no user has a relevant test item" in err  # all of them masked


# -- errors ------------------------------------------------------------------------------------
def assert_one_line_error(code: int, err: str, command: str, *fragments: str) -> None:
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"kgrec {command}: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_user(trained, capsys):
    code, _, err = run_cli(capsys, "recommend", "--model", str(trained[0]), "--user", "nobody")
    assert_one_line_error(code, err, "recommend", "unknown user 'nobody'", "--liked")
    code, _, err = run_cli(capsys, "explain", "--model", str(trained[0]), "nobody", "1")
    assert_one_line_error(code, err, "explain", "unknown user 'nobody'")


def test_misspelt_title_suggests_close_match(trained, capsys):
    code, _, err = run_cli(capsys, "recommend", "--model", str(trained[0]), "--liked", "Heet")
    assert_one_line_error(code, err, "recommend", "'Heet'", "did you mean", "'Heat'")
    code, _, err = run_cli(capsys, "explain", "--model", str(trained[0]), "u1", "Resevoir Dogs")
    assert_one_line_error(code, err, "explain", "did you mean", "'Reservoir Dogs'")


def test_missing_model_folder(tmp_path, capsys):
    missing = tmp_path / "no-such-model"
    for argv in (["recommend", "--model", str(missing), "--user", "u1"],
                 ["explain", "--model", str(missing), "u1", "1"],
                 ["evaluate", "--model", str(missing), "--test", str(missing / "t.tsv")]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, argv[0], str(missing))


def test_tampered_weights_are_refused(trained, tmp_path, capsys):
    copy = tmp_path / "tampered"
    shutil.copytree(trained[0], copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    code, _, err = run_cli(capsys, "recommend", "--model", str(copy), "--user", "u1")
    assert_one_line_error(code, err, "recommend", "model.safetensors", "sha256")


def test_folder_that_is_not_a_model(tmp_path, capsys):
    code, _, err = run_cli(capsys, "recommend", "--model", str(tmp_path), "--user", "u1")
    assert_one_line_error(code, err, "recommend", "not a saved kgrec recommender")


@pytest.mark.parametrize("argv, fragment", [
    (["recommend", "--user", "u1", "-k", "0"], "-k must be a positive integer"),
    (["recommend"], "give --user ID, --liked TITLE ... or --query TEXT"),
    (["recommend", "--query", "  "], "--query is empty"),
    (["recommend", "--user", "u1", "--genre", "Nope"], "unknown genre 'Nope'"),
    (["evaluate", "--test", "/no/such/test.tsv"], "test file not found"),
    (["explain", "u1", "movie:999999"], "unknown movie 'movie:999999'"),
    (["recommend", "--all-users"], "--all-users needs --out DIR"),
    (["recommend", "--all-users", "--out", "x", "--user", "u1"], "cannot be combined"),
    (["recommend", "--all-users", "--out", "x", "--batch-size", "0"], "--batch-size must be"),
    (["recommend", "--user", "u1", "--out", "x"], "go with --all-users"),
])
def test_bad_arguments(trained, capsys, argv, fragment):
    command, rest = argv[0], argv[1:]
    code, _, err = run_cli(capsys, command, "--model", str(trained[0]), *rest)
    assert_one_line_error(code, err, command, fragment)


@pytest.mark.parametrize("argv, fragment", [
    (["data", "--dataset", "no-such-dataset"], "unknown dataset 'no-such-dataset'"),
    (["train", "--model", "no-such-model", "--out", "unused"], "unknown model 'no-such-model'"),
    (["train", "--epochs", "0", "--out", "unused"], "--epochs must be >= 1"),
    (["demo", "--users", "-1"], "--users must be >= 0"),
    (["train", "--distributed", "--out", "unused"], "launch with `torchrun --nproc-per-node N"),
])
def test_bad_dataset_and_options(capsys, argv, fragment):
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, argv[0], fragment)
