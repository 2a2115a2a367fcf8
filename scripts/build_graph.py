#!/usr/bin/env python
"""Build a dataset's knowledge graph and write its artifacts: ``kgrec build-graph``.

Usage: ``python scripts/build_graph.py --dataset hetrec-2k --data-dir ../shared/datasets``
(all options: ``--help``).
"""

import sys

from kgrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["build-graph", *sys.argv[1:]]))
