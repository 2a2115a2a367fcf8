"""The model registry and the conformance every registered model passes.

Each model is fitted (small budgets) on a seeded split of the bundled sample through
:func:`kgrec.train.fit_model`, then checked: scores have the right shape and are finite,
top-K with masking never returns a masked item, an unknown user index and an unknown
external id are errors, the state survives a safetensors save/load into a freshly built
model, the same seed gives the same model, and ``.to()`` moves every tensor the model
uses (all state is parameters or buffers: checked on the ``meta`` device and by walking
every module for tensors kept as plain attributes).
"""

from __future__ import annotations

import pytest
import torch

from kgrec.config import KGRecConfig
from kgrec.models.registry import (
    BPR,
    CLOSED_FORM,
    FUSION,
    MODEL_NAMES,
    REGISTRY,
    build_model,
    get_spec,
    is_inductive,
)

#: Small budgets: two BPR epochs, validated every epoch.
FAST = KGRecConfig().replace(
    train={"epochs": 2, "eval_every": 1, "batch_size": 4096, "show_progress": False,
           "threads": 1},
    model={"embedding_size": 16, "sage_epochs": 2, "sage_hidden": 16, "reference_epochs": 2},
    text={"show_progress": False})


@pytest.fixture(scope="module")
def split(sample_dataset):
    from kgrec.data import random_split

    return random_split(sample_dataset.ratings, (0.8, 0.1, 0.1), seed=0)


@pytest.fixture(scope="module")
def context(sample_dataset, split):
    from kgrec.train import build_context

    return build_context(sample_dataset, split.train, split.valid, FAST)


@pytest.fixture(scope="module")
def fitted(context):
    from kgrec.train import fit_model

    cache = {}

    def get(name: str):
        if name not in cache:
            cache[name] = fit_model(name, context, FAST)
        return cache[name]

    return get


def test_registry_is_the_one_list_of_names():
    assert MODEL_NAMES == tuple(REGISTRY)
    assert all(spec.name == name for name, spec in REGISTRY.items())
    assert {spec.fit for spec in REGISTRY.values()} == {CLOSED_FORM, BPR, FUSION}
    with pytest.raises(ValueError, match="unknown model 'nope'.*'hybrid'"):
        get_spec("nope")
    with pytest.raises(ValueError, match="fit must be"):
        type(REGISTRY["pop"])("x", REGISTRY["pop"].build, "magic", "")


def test_registry_imports_no_torch():
    import subprocess
    import sys

    code = ("import sys, kgrec.models.registry, kgrec.config; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_spec_declarations_drive_fitting(context):
    from kgrec.train import fit_model

    cfg = FAST.replace(model={"hybrid_components": ("ease", "text-cosine")})
    assert not is_inductive("hybrid", FAST)  # dlae + lightgcn
    assert not is_inductive("hybrid", cfg)  # ease is not inductive
    assert is_inductive("hybrid", cfg.replace(model={"hybrid_components": ("text-cosine",
                                                                           "genre-profile")}))
    assert REGISTRY["hybrid"].needs_text(cfg) and not REGISTRY["hybrid"].needs_text(FAST)
    assert REGISTRY["lightgcn"].needs_text(FAST.replace(model={"text_mode": "fuse"}))
    sage = REGISTRY["sage"].training_config(FAST.replace(model={"sage_patience": 3}))
    assert (sage.patience, sage.eval_every, sage.epochs) == (3, 1, 2)
    result = fit_model("hybrid", context, cfg)
    assert set(result.details["weights"]) == {"ease", "text-cosine"}
    assert sum(result.details["weights"].values()) == pytest.approx(1.0)
    assert 0 <= result.details["valid_ndcg@10"] <= 1


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_conformance(name, context, fitted, tmp_path):
    from safetensors.torch import load_file, save_file

    from kgrec.evaluate import masked_topk
    from kgrec.train import fit_model

    spec = get_spec(name)
    result = fitted(name)
    model = result.model
    assert (result.training is not None) == (spec.fit != CLOSED_FORM)
    assert model.inductive == is_inductive(name, FAST)
    assert not model.training
    kg = context.kg
    users = torch.arange(0, kg.num_users, 37)

    # score: [B, I], finite
    with torch.no_grad():
        scores = model.score(users)
    assert scores.shape == (len(users), kg.num_items)
    assert torch.isfinite(scores).all()

    # top-K with masking: never a training item of the user
    exclude = torch.from_numpy(context.train[users.numpy()].toarray() > 0)
    top = masked_topk(scores, exclude, 10)
    assert top.shape == (len(users), 10)
    assert not exclude.gather(1, top).any()

    # unknown user index: an error, never silent scores
    with pytest.raises((IndexError, RuntimeError, ValueError)):
        with torch.no_grad():
            model.score(torch.tensor([kg.num_users + 5]))

    # save/load: the state through safetensors into a freshly built model
    path = tmp_path / "model.safetensors"
    save_file({k: v.detach().contiguous().clone() for k, v in model.state_dict().items()},
              str(path))
    clone = build_model(name, context, FAST)
    clone.load_state_dict(load_file(str(path)), strict=True)
    clone.eval()
    with torch.no_grad():
        torch.testing.assert_close(clone.score(users), scores)

    # same seed, same model
    again = fit_model(name, context, FAST).model
    with torch.no_grad():
        torch.testing.assert_close(again.score(users), scores, rtol=0, atol=0)

    # .to() moves all state: every parameter and buffer, and no tensor is left behind as a
    # plain attribute (derived caches are dropped)
    with torch.no_grad():
        clone.score(users)  # fill eval-mode caches first
    moved = clone.to("meta")
    stayed = [n for n, t in [*moved.named_parameters(), *moved.named_buffers()]
              if t.device.type != "meta"]
    assert not stayed, f"not moved by .to(): {stayed}"
    plain = [f"{mod}.{attr}" for mod, m in moved.named_modules() for attr, v in vars(m).items()
             if isinstance(v, torch.Tensor)
             or (isinstance(v, (tuple, list)) and any(isinstance(x, torch.Tensor) for x in v))]
    assert not plain, f"tensors outside parameters/buffers after .to(): {plain}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_unknown_external_ids_are_errors(name, sample_dataset, split, context, fitted):
    from kgrec.recommender import Recommender

    rec = Recommender.from_fitted(sample_dataset, context, fitted(name).model,
                                  split.train, FAST)
    with pytest.raises(KeyError, match="unknown user 'no-such-user'"):
        rec.recommend("no-such-user", k=3)
    with pytest.raises(KeyError, match="unknown title 'No Such Film Ever'"):
        rec.recommend(liked=["No Such Film Ever"], k=3)
    with pytest.raises(KeyError, match="no-such-user"):
        rec.recommend_batch(["no-such-user"], k=3)
    assert len(rec.recommend(split.train.user_id.iloc[0], k=3, explain=False)) == 3


def test_large_hybrid_parts_follow_the_config_and_the_graph():
    """Above ``hybrid_bpr_max_items`` the hybrid's parts are ``hybrid_large_components``
    minus the profiles whose relation has no edges; below it ``hybrid_components``."""
    import scipy.sparse as sp

    from kgrec.models.registry import hybrid_parts

    class Inputs:
        def __init__(self, items, relations):
            self.kg = type("KG", (), {"num_items": items})()
            self.relations = relations

        def item_entities(self, relations=()):
            width = 3 if set(relations) <= self.relations else 0
            return sp.csr_matrix((5, width)), []

    config = KGRecConfig().replace(model={"hybrid_bpr_max_items": 4})
    assert hybrid_parts(Inputs(4, set()), config) == ["dlae", "lightgcn"]
    assert hybrid_parts(Inputs(5, {"has_genre", "directed_by"}), config) == [
        "dlae", "log-pop", "genre-profile", "director-profile"]
    assert hybrid_parts(Inputs(5, {"has_genre"}), config) == ["dlae", "log-pop", "genre-profile"]
    only = config.replace(model={"hybrid_large_components": ("director-profile",)})
    with pytest.raises(ValueError, match="hybrid_large_components"):
        hybrid_parts(Inputs(5, set()), only)
    with pytest.raises(ValueError, match="closed-form"):
        config.replace(model={"hybrid_large_components": ("lightgcn",)})
