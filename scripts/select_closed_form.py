"""Choose the closed-form models' settings on validation data only (never test).

    python scripts/select_closed_form.py gf-cf warm
    python scripts/select_closed_form.py kg-text-dlae warm --w-kg 0,10,30,100,300 --w-text 0,10,30,100,300
    python scripts/select_closed_form.py kg-text-dlae cold --w-kg 3,10,30,100,300,1000,3000,10000 \
        --w-text 0,10,30,100,300,1000,3000

``warm``: fit on ``random-811-seed0/train.tsv``, rank all items for ``valid.tsv`` (train
masked). ``cold``: the split made by ``kgrec.data.splits.cold_validation_split`` from
``cold-items-seed0`` (fraction 0.2, seed 0): fit on the remaining training movies, rank the
carved cold validation movies only. Prints validation NDCG@10 and Recall@20 per setting.
"""

from __future__ import annotations

import argparse
import itertools

import torch

from kgrec.data import load_dataset, read_split
from kgrec.data.splits import cold_validation_split
from kgrec.evaluate import candidate_indices, evaluate, to_csr
from kgrec.graph import KnowledgeGraph
from kgrec.train import ModelContext

BENCH = "../shared/benchmarks/ml-100k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("gf-cf", "kg-text-dlae"))
    parser.add_argument("setting", choices=("warm", "cold"))
    parser.add_argument("--data-dir", default="../shared/datasets/ml-100k")
    parser.add_argument("--kg-dir", default="../shared/datasets/kg-links/RecBole-ml-100k")
    parser.add_argument("--w-kg", default="0,10,30,100,300")
    parser.add_argument("--w-text", default="0,10,30,100,300")
    parser.add_argument("--alpha", default="0.1,0.3,0.5,1")
    parser.add_argument("--components", default="0,16,32,64,128,256")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ds = load_dataset("ml-100k", data_dir=args.data_dir, kg_dir=args.kg_dir)
    if args.setting == "warm":
        split = read_split(f"{BENCH}/random-811-seed0")
    else:
        split = cold_validation_split(read_split(f"{BENCH}/cold-items-seed0"), fraction=0.2,
                                      seed=0)
    kg = KnowledgeGraph.from_dataset(ds, split.train)
    valid = to_csr(split.valid, kg)
    if args.setting == "warm":
        target, mask, candidates = valid, kg.interaction_matrix(), None
    else:  # the carved split's test part holds the cold *validation* ratings
        target = to_csr(split.test, kg)
        mask = (kg.interaction_matrix() + valid).tocsr()
        candidates = candidate_indices(split.cold_items, kg)
    train = kg.interaction_matrix()

    def report(label: str, model) -> None:
        r = evaluate(model.fit(train), test=target, mask=mask, ks=(10, 20), candidates=candidates)
        print(f"{args.setting} {label} valid ndcg@10={r['ndcg@10']:.4f} "
              f"recall@20={r['recall@20']:.4f}", flush=True)

    if args.model == "gf-cf":
        from kgrec.models.graph_filter import GraphFilterCF

        for k in (int(x) for x in args.components.split(",")):
            for alpha in ((0.0,) if k == 0 else [float(a) for a in args.alpha.split(",")]):
                report(f"k={k} alpha={alpha:g}", GraphFilterCF(
                    kg.num_users, kg.num_items, alpha=alpha, num_components=k))
        return
    from kgrec.models.side_linear import KGTextDLAE
    from kgrec.text.encoder import TextEncoder
    from kgrec.text.node_text import node_texts

    text = TextEncoder().encode(node_texts(kg, ds)["movie"])
    entities = ModelContext.from_graph(kg).item_entities()[0]
    for a, b in itertools.product([float(x) for x in args.w_kg.split(",")],
                                  [float(x) for x in args.w_text.split(",")]):
        # one weight pair for every column: the setting decides which pair it selects
        report(f"w_kg={a:g} w_text={b:g}", KGTextDLAE(
            kg.num_users, kg.num_items, item_entities=entities, item_text=text, w_kg=a,
            w_text=b, cold_w_kg=a, cold_w_text=b))


if __name__ == "__main__":
    main()
