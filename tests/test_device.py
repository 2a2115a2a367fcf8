"""Devices: ``device="cuda"`` without a GPU falls back to the CPU with a clear warning in
the trainer, the text encoder and the recommender; the CPU view of a model changes no
score. (This machine has no GPU: the tests of the fallback skip where one is present.)"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from kgrec.device import DeviceFallbackWarning, HostView, host_view, resolve_device

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")


@no_cuda
@pytest.mark.parametrize("requested", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_falls_back_with_a_clear_message(requested):
    with pytest.warns(DeviceFallbackWarning) as caught:
        assert resolve_device(requested, "training") == "cpu"
    message = str(caught[0].message)
    assert message.startswith(f"training: device {requested!r} requested but ")
    assert "running on the CPU" in message
    assert ("no CUDA support" in message) == (torch.version.cuda is None)


@pytest.mark.parametrize("device", ["cpu", "meta", None])
def test_present_devices_are_kept_silently(device, recwarn):
    assert resolve_device(device) == (device or "cpu")
    assert not [w for w in recwarn if issubclass(w.category, DeviceFallbackWarning)]


def test_a_bad_device_string_names_the_caller():
    with pytest.raises(ValueError, match="text encoder: device 'gpu0'"):
        resolve_device("gpu0", "text encoder")


@no_cuda
def test_the_trainer_falls_back_and_trains():
    from kgrec.models.baselines import BPRMF
    from kgrec.train import TrainConfig, train_bpr

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((12, 9)) < 0.3).astype(np.float32))
    model = BPRMF(12, 9, embedding_size=4)
    with pytest.warns(DeviceFallbackWarning, match="training: device 'cuda'"):
        result = train_bpr(model, x, TrainConfig(epochs=2, batch_size=8, device="cuda",
                                                 show_progress=False))
    assert len(result.history) == 2
    assert all(p.device.type == "cpu" for p in model.parameters())


@no_cuda
def test_the_text_encoder_falls_back(tmp_path):
    from kgrec.text import TextConfig, TextEncoder

    encoder = TextEncoder(TextConfig(device="cuda", show_progress=False), cache=False)
    with pytest.warns(DeviceFallbackWarning, match="text encoder: device 'cuda'"):
        vectors = encoder.encode(["a heist film in Los Angeles"])
    assert vectors.shape[0] == 1 and vectors.device.type == "cpu"


@no_cuda
def test_the_recommender_loads_onto_the_cpu_when_cuda_is_absent(hostile_recommender):
    from kgrec.recommender import Recommender

    rec, path = hostile_recommender
    with pytest.warns(DeviceFallbackWarning, match="Recommender.load: device 'cuda'"):
        loaded = Recommender.load(path, device="cuda")
    user = rec.kg_.user_ids[0]
    assert [r.item_id for r in loaded.recommend(user, 3)] == [
        r.item_id for r in rec.recommend(user, 3)]


def test_the_cpu_view_of_a_model_changes_no_score():
    from kgrec.models.baselines import BPRMF

    model = BPRMF(5, 7, embedding_size=3).eval()
    assert host_view(model) is model  # on the CPU: the model itself
    view = HostView(model)
    users = torch.tensor([0, 3])
    assert torch.equal(view.score(users), model.score(users))
    assert view.num_items == 7 and view.inductive == model.inductive
