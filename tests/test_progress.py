"""Progress output: a tqdm bar on a terminal only; elsewhere one line per stage with its
time and peak memory, and no bar redraws (``\\r``) at all."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from kgrec.progress import on_terminal, peak_rss_mb, stage

STAGE_LINE = re.compile(r"^kgrec: (?P<name>[^:]+): \d+\.\d s, peak RSS [\d,]+ MB( \(.*\))?$")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _train(epochs: int = 6):
    from kgrec.models.baselines import BPRMF
    from kgrec.train import TrainConfig, train_bpr

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((30, 20)) < 0.2).astype(np.float32))
    return train_bpr(BPRMF(30, 20, embedding_size=8), x,
                     TrainConfig(epochs=epochs, batch_size=16, threads=1, show_progress=True))


def test_training_off_a_terminal_prints_one_stage_line_and_no_bar(capsys):
    assert not on_terminal()  # pytest captures stderr: not a TTY
    _train()
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b[" not in err  # no bar redraws, no cursor moves
    lines = err.splitlines()
    assert len(lines) == 1, lines
    match = STAGE_LINE.match(lines[0])
    assert match and match["name"] == "train BPRMF"
    assert "6 epochs" in lines[0]


def test_training_on_a_terminal_draws_a_bar_and_no_stage_line(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    _train(epochs=3)
    out = terminal.getvalue()
    assert "train BPRMF" in out and "\r" in out  # tqdm's bar, redrawn in place
    assert not any(STAGE_LINE.match(line.strip("\r")) for line in out.splitlines())


def test_stage_prints_nothing_when_disabled_or_failing(capsys):
    with stage("quiet", enabled=False):
        pass
    with pytest.raises(RuntimeError), stage("broken"):
        raise RuntimeError("boom")
    assert capsys.readouterr().err == ""
    with stage("counted") as progress:
        progress["detail"] = "3 things"
    line = capsys.readouterr().err.strip()
    assert STAGE_LINE.match(line) and line.endswith("(3 things)")


def test_peak_rss_is_a_plausible_size():
    assert 10 < peak_rss_mb() < 1 << 20  # MiB: more than an empty interpreter, below 1 TiB


def test_kgrec_train_in_a_log_file_has_stage_lines_and_no_bar(launch, tmp_path):
    """The whole command with stderr piped (as in a log file): one line per stage."""
    done = launch(["-m", "kgrec", "train", "--dataset", "sample", "--model", "dlae",
                   "--threads", "1", "--out", str(tmp_path / "model")])
    assert "\r" not in done.stderr
    names = [m["name"] for m in map(STAGE_LINE.match, done.stderr.splitlines()) if m]
    assert names == ["load", "graph", "text", "model dlae", "save"], done.stderr


def test_a_download_off_a_terminal_prints_one_line_and_no_bar(tmp_path, capsys):
    from kgrec.data.sources.download import _download

    served = tmp_path / "archive.zip"
    served.write_bytes(bytes(300_000))
    got = _download(served.as_uri(), tmp_path, "toy")
    assert got.read_bytes() == served.read_bytes()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and STAGE_LINE.match(lines[0]), lines
    assert lines[0].startswith("kgrec: download toy: ") and lines[0].endswith("(0.3 MiB)")
