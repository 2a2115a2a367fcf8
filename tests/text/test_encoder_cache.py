"""An embedding cache folder that cannot be created: encoding works without the cache and
says so once (a RuntimeWarning naming the folder), instead of crashing."""

from __future__ import annotations

import warnings

import pytest
import torch

from kgrec.text import TextConfig, TextEncoder


def test_uncreatable_cache_folder_warns_and_still_encodes(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    encoder = TextEncoder(TextConfig(cache_dir=str(blocker / "cache"), show_progress=False))
    reference = TextEncoder(TextConfig(show_progress=False), cache=False)
    with pytest.warns(RuntimeWarning, match=r"not-a-folder/cache.*cannot be written.*without"):
        vectors = encoder.encode(["a heist film", "a space opera"])
    assert torch.allclose(vectors, reference.encode(["a heist film", "a space opera"]),
                          atol=1e-5)
    assert not encoder.use_cache
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: the next call is silent
        assert encoder.encode(["a western"]).shape == (1, vectors.shape[1])
