"""torch.distributed: the DDP training path on 2 CPU processes with gloo, against one process.

The two-rank run is a real ``torchrun`` launch (``python -m torch.distributed.run``) on a
free port of 127.0.0.1, fitting the default hybrid (DLAE + LightGCN) on the bundled
sample without text for a few epochs; it is compared with the same script run as one
plain process. Skipped when torch.distributed or gloo is unavailable.
"""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available")

#: Fits the hybrid on the sample (no text) and writes, per rank, the validation NDCG@10,
#: the training history and the LightGCN weights; under torchrun it joins the group.
SCRIPT = textwrap.dedent('''
    import json, sys
    import torch
    from safetensors.torch import save_file
    from kgrec.config import KGRecConfig
    from kgrec.data import load_dataset, random_split
    from kgrec.distributed import init_distributed, launched_by_torchrun, shutdown, world
    from kgrec.evaluate import evaluate
    from kgrec.train import build_context, fit_model

    torch.set_num_threads(1)
    out = sys.argv[1]
    if launched_by_torchrun():
        init_distributed("cpu")
    rank, size = world()
    config = KGRecConfig().replace(
        model={"hybrid_components": ("dlae", "lightgcn"), "embedding_size": 16},
        train={"epochs": 6, "eval_every": 2, "seed": 3, "show_progress": False,
               "batch_size": 1024})
    data = load_dataset("sample")
    split = random_split(data.ratings, (0.9, 0.1, 0.0), seed=3)
    ctx = build_context(data, split.train, split.valid, config, text=False)
    fit = fit_model("hybrid", ctx, config)
    record = {"rank": rank, "world": size, "history": fit.training.history,
              "best_epoch": fit.training.best_epoch,
              "weights": fit.details.get("weights")}
    if rank == 0:
        result = evaluate(fit.model, test=ctx.valid, mask=ctx.train, ks=(10,))
        record["valid_ndcg@10"] = result.metrics["ndcg@10"]
    lightgcn = fit.model.components["lightgcn"]
    save_file({k: v.contiguous() for k, v in lightgcn.state_dict().items()
               if k == "embedding.weight"}, f"{out}/rank{rank}-of-{size}.safetensors")
    with open(f"{out}/rank{rank}-of-{size}.json", "w") as f:
        json.dump(record, f)
    shutdown()
''')


def run_script(launch, folder: Path, ranks: int | None):
    """Run :data:`SCRIPT` writing into ``folder``, as one process or under torchrun."""
    path = folder / "job.py"
    path.write_text(SCRIPT, encoding="utf-8")
    return launch([str(path), str(folder)], ranks=ranks)


def test_two_gloo_ranks_train_like_one_process(tmp_path, launch):
    from safetensors.torch import load_file

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    run_script(launch, one, None)
    run_script(launch, two, 2)
    single = json.loads((one / "rank0-of-1.json").read_text())
    rank0 = json.loads((two / "rank0-of-2.json").read_text())
    rank1 = json.loads((two / "rank1-of-2.json").read_text())
    # the target: the same validation NDCG@10 as one process within 0.01
    assert abs(rank0["valid_ndcg@10"] - single["valid_ndcg@10"]) < 0.01
    # DDP averages the shards' gradients to the whole batch's: the runs agree closely
    assert [h["epoch"] for h in rank0["history"]] == [h["epoch"] for h in single["history"]]
    for a, b in zip(rank0["history"], single["history"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        assert a.get("valid_ndcg@10", 0) == pytest.approx(b.get("valid_ndcg@10", 0), abs=1e-3)
    assert sum("valid_ndcg@10" in h for h in single["history"]) == 3  # epochs 2, 4, 6
    assert rank1["history"] == [dict(h, seconds=r["seconds"])
                                for h, r in zip(rank0["history"], rank1["history"])]
    w1 = load_file(str(one / "rank0-of-1.safetensors"))["embedding.weight"]
    w2 = load_file(str(two / "rank0-of-2.safetensors"))["embedding.weight"]
    w2b = load_file(str(two / "rank1-of-2.safetensors"))["embedding.weight"]
    assert torch.equal(w2, w2b)  # the ranks hold one model
    assert torch.allclose(w1, w2, atol=1e-4)
    # closed forms and fusion weights: computed once, on rank 0
    assert single["weights"] and rank0["weights"] == pytest.approx(single["weights"], abs=1e-6)
    assert rank1["weights"] is None


def test_two_gloo_ranks_are_reproducible(tmp_path, launch):
    """Same seed, same world size: the same weights, bit for bit."""
    from safetensors.torch import load_file

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    run_script(launch, a, 2)
    run_script(launch, b, 2)
    assert torch.equal(load_file(str(a / "rank0-of-2.safetensors"))["embedding.weight"],
                       load_file(str(b / "rank0-of-2.safetensors"))["embedding.weight"])


def test_single_process_helpers_answer_as_rank_zero_of_one():
    from kgrec import distributed

    assert distributed.world() == (0, 1)
    assert distributed.is_primary()
    assert distributed.broadcast_float(0.25) == 0.25
    assert distributed.all_reduce_sum(1.5) == 1.5
    assert distributed.rank_device("cuda") == "cuda"  # no group: unchanged
    distributed.barrier()  # a no-op


def test_distributed_outside_torchrun_says_how_to_launch():
    from kgrec import distributed

    if distributed.launched_by_torchrun():
        pytest.skip("the test run itself was launched by torchrun")
    with pytest.raises(RuntimeError, match="torchrun --nproc-per-node"):
        distributed.init_distributed("cpu")


def test_batch_shards_sum_to_the_whole_batch():
    from kgrec.train.bpr import _shard

    for size in (1, 2, 7, 1024, 2047):
        for world in (1, 2, 3):
            if size < world:
                continue
            parts = [_shard(size, r, world) for r in range(world)]
            assert parts[0][0] == 0 and parts[-1][1] == size
            assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
            assert max(b - a for a, b in parts) - min(b - a for a, b in parts) <= 1
