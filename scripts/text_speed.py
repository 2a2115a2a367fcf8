#!/usr/bin/env python3
"""Encoder speed and fidelity per precision on a catalogue's movie texts.

    HF_HUB_OFFLINE=1 python scripts/text_speed.py CATALOGUE_DIR [--texts 400] [--threads 1]

Takes the first ``--texts`` movies of ``CATALOGUE_DIR/items.csv`` (a make_catalog.py
folder), builds their texts in full (``kgrec.text.movie_text``, up to 5 people named)
and compact (no people: the large-graph form) and encodes them with the default model
in float32, bfloat16 and dynamic int8 (``torch.ao.quantization.quantize_dynamic``,
per-tensor and per-channel weights). Prints texts per CPU second (the comparable figure
on a shared machine) and the cosine of each vector to its float32 counterpart.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import warnings
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("catalogue", type=Path)
    p.add_argument("--texts", type=int, default=400)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    import pandas as pd
    import torch

    from kgrec.text import TextConfig, TextEncoder, movie_text

    warnings.filterwarnings("ignore")
    torch.set_num_threads(a.threads)
    items = pd.read_csv(a.catalogue / "items.csv", nrows=a.texts)

    def texts(cast: int) -> list[str]:
        return [movie_text(r.title, r.year, str(r.genres).split("|"),
                           str(r.directors).split("|"), str(r.actors).split("|"),
                           r.description, max_cast=cast) for r in items.itertuples()]

    encoder = TextEncoder(TextConfig(show_progress=False, dtype="float32"), cache=False)
    encoder.encode(["warm up"])
    base = encoder._model
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    variants = {
        "float32": base,
        "bfloat16": copy.deepcopy(base).to(torch.bfloat16),
        "int8 per-tensor": quantize_dynamic(copy.deepcopy(base), {torch.nn.Linear},
                                            dtype=torch.qint8),
        "int8 per-channel": quantize_dynamic(copy.deepcopy(base),
                                             {torch.nn.Linear: per_channel_dynamic_qconfig},
                                             dtype=torch.qint8),
    }
    for form, cast in (("full", 5), ("compact", 0)):
        batch = texts(cast)
        reference = None
        for name, model in variants.items():
            encoder._model = model
            cpu = time.process_time()
            vectors = encoder._embed(batch)
            rate = len(batch) / (time.process_time() - cpu)
            if reference is None:
                reference = vectors
            cos = (vectors * reference).sum(1)
            print(json.dumps({"texts": form, "precision": name, "texts_per_cpu_s": round(rate, 1),
                              "cosine_min": round(float(cos.min()), 4),
                              "cosine_mean": round(float(cos.mean()), 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
