"""Choose the encoder threshold of :mod:`kgrec.serve.intent` on a held-out phrase list.

The phrases below are our own paraphrases of genres that the curated lexicon does *not*
contain (positives, with the genre meant) and content words that name no genre
(negatives); the encoder score is the margin of
:func:`kgrec.serve.intent.Vocabulary.nearest_genre`. None of them is a query of the query benchmark. Genre labels are those of the
bundled sample. The threshold kept is the one with the best F1 of "a phrase is mapped to
its genre" (a positive mapped to the wrong genre counts as a false positive and a miss).

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 python scripts/tune_intent_threshold.py
"""

from __future__ import annotations

import numpy as np

POSITIVES = [
    ("laugh out loud", "Comedy"), ("slapstick", "Comedy"), ("spine-chilling", "Horror"),
    ("ghosts", "Horror"), ("haunted house", "Horror"), ("zombies", "Horror"),
    ("vampires", "Horror"), ("slasher", "Horror"), ("outer space", "Sci-Fi"),
    ("spaceships", "Sci-Fi"), ("robots", "Sci-Fi"), ("time travel", "Sci-Fi"),
    ("aliens", "Sci-Fi"), ("futuristic", "Sci-Fi"), ("wild west", "Western"),
    ("gunslinger", "Western"), ("frontier town", "Western"), ("soldiers", "War"),
    ("battlefield", "War"), ("world war ii", "War"), ("combat", "War"),
    ("love affair", "Romance"), ("falling in love", "Romance"), ("detectives", "Mystery"),
    ("unsolved murder", "Mystery"), ("songs", "Musical"), ("singing and dancing", "Musical"),
    ("broadway", "Musical"), ("wizards", "Fantasy"), ("dragons", "Fantasy"),
    ("elves", "Fantasy"), ("car chases", "Action"), ("explosions", "Action"),
    ("martial arts", "Action"), ("shootouts", "Action"), ("treasure hunt", "Adventure"),
    ("jungle expedition", "Adventure"), ("bank robbery", "Crime"), ("drug dealers", "Crime"),
    ("hitmen", "Crime"), ("serial killer", "Thriller"), ("psychological", "Thriller"),
    ("tearjerker", "Drama"), ("emotional", "Drama"), ("pixar", "Animation"),
    ("stop motion", "Animation"), ("hand-drawn", "Animation"), ("interviews", "Documentary"),
    ("nature footage", "Documentary"), ("femme fatale", "Film-Noir"),
    ("toddlers", "Family"), ("preschoolers", "Family"),
]
NEGATIVES = [
    "story", "long", "short", "underrated", "hidden gem", "masterpiece", "acclaimed",
    "award winning", "oscar", "english", "french", "black", "white", "red", "cheap",
    "budget", "lengthy", "two hours", "ending", "twist", "sequel", "remake", "trilogy",
    "novel", "hitchcock", "spielberg", "tom", "paris", "new york", "london", "summer",
    "rainy day", "girlfriend", "dad", "friends", "smart", "clever", "slow", "weird",
    "beautiful", "cinematography", "dialogue", "characters", "plot", "ensemble", "indie",
    "foreign", "subtitles", "cult", "obscure", "mainstream", "famous actors",
]


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from kgrec.data import load_dataset
    from kgrec.graph import KnowledgeGraph
    from kgrec.serve.intent import Vocabulary
    from kgrec.text import TextConfig, TextEncoder

    ds = load_dataset("sample")
    enc = TextEncoder(TextConfig(show_progress=False))
    vocab = Vocabulary.from_graph(KnowledgeGraph.from_dataset(ds), ds.items,
                                  encode=lambda xs: enc.encode(xs).numpy())
    pos = vocab.nearest_genre([p for p, _ in POSITIVES])
    neg = vocab.nearest_genre(NEGATIVES)
    right = np.array([vocab.labels[g] == want for (g, _, _), (_, want) in zip(pos, POSITIVES)])
    pos_cos = np.array([m for _, _, m in pos])
    neg_cos = np.array([m for _, _, m in neg])
    best = None
    for t in np.arange(-0.05, 0.30, 0.001):
        tp = int((right & (pos_cos >= t)).sum())
        fp = int(((~right) & (pos_cos >= t)).sum() + (neg_cos >= t).sum())
        fn = len(POSITIVES) - tp
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        if best is None or f1 > best[0]:
            best = (f1, round(float(t), 3), tp, fp, fn)
    f1, t, tp, fp, fn = best
    print(f"{len(POSITIVES)} positives, {len(NEGATIVES)} negatives; nearest genre right for "
          f"{int(right.sum())}/{len(POSITIVES)} positives")
    print(f"best margin threshold {t:.3f}: F1 {f1:.3f}, precision {tp / max(1, tp + fp):.3f}, "
          f"recall {tp / len(POSITIVES):.3f} (tp {tp}, fp {fp}, fn {fn})")
    for (g, _, c), (p, want) in zip(pos, POSITIVES):
        if vocab.labels[g] != want or c < t:
            print(f"  miss  {p!r}: {vocab.labels[g]} {c:.2f} (wanted {want})")
    for (g, _, c), p in zip(neg, NEGATIVES):
        if c >= t:
            print(f"  false {p!r}: {vocab.labels[g]} {c:.2f}")


if __name__ == "__main__":
    main()
