"""CPU time of ``Recommender.recommend(user, k=10)`` in process, with and without
explanations: for each of the first ``--users`` users, the smallest of ``--repeats`` CPU times
of this thread (so other jobs on the machine barely move it), the explainer's per-user caches
cleared before each call.

    python scripts/recommend_cpu.py /tmp/ml100k-model --users 120 --repeats 4
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import torch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="folder of a saved recommender")
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args(argv)
    if args.users < 1 or args.repeats < 1:
        parser.error("--users and --repeats must be at least 1")
    torch.set_num_threads(1)
    from kgrec import Recommender

    rec = Recommender.load(args.model)
    users = list(rec.dataset_.ratings.user_id.unique()[:args.users])
    rec.recommend(user=users[0], k=10, explain=True)  # lazy set-up outside the timing
    best = {explain: np.full(len(users), np.inf) for explain in (False, True)}
    for _ in range(args.repeats):
        for explain in (False, True):
            for j, user in enumerate(users):
                rec.explainer_._caches = threading.local()
                start = time.thread_time()
                rec.recommend(user=user, k=10, explain=explain)
                best[explain][j] = min(best[explain][j], time.thread_time() - start)
    for explain in (False, True):
        ms = best[explain] * 1000
        print(f"explain={explain}: mean {ms.mean():.2f} ms, p95 {np.percentile(ms, 95):.2f} ms "
              f"of CPU per request ({len(users)} users)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
