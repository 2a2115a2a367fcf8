#!/usr/bin/env python
"""Benchmark kgrec's models on a fixed split: a thin caller of ``kgrec benchmark``.

Example (ML-100K, the fixed 80/10/10 split, RecBole's Freebase KG merged)::

    python scripts/benchmark.py --split-dir ../shared/benchmarks/ml-100k/random-811-seed0 \\
        --dataset ml-100k --data-dir ../shared/datasets/ml-100k \\
        --kg-dir ../shared/datasets/kg-links/RecBole-ml-100k --out results/ml100k.json
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
