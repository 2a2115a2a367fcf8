"""Knowledge-graph links are claims to check: id translation, agreement, named directors.

Three jobs, used by :func:`kgrec.data.sources.recbole.merge_kg`:

* **Id translation for ML-100K.** RecBole's ``ml-100k.link`` (and KB4Rec's ``ml2fb.txt``)
  are keyed by MovieLens-20M movie ids, not by ML-100K item ids. :func:`ml100k_to_ml20m`
  maps each ML-100K movie to its ML-1M id (ML-1M ids are ML-20M ids) by title and year
  against ``ml-1m/movies.dat`` (:func:`kgrec.data.titles.match_titles`), found by
  :func:`find_reference`.
* **Link agreement** (:func:`link_agreement`): how strongly the KG's genre entities
  associate with the dataset's own genres, compared with the same statistic when the links
  are shuffled among the linked movies. A file keyed by the wrong ids scores like its
  shuffles; a correct one far above them.
* **Named directors** (:func:`director_names`): Freebase mids carry no names; HetRec 2011's
  ``movie_directors.dat`` names each film's directors by ML-10M id (= ML-20M id), so a
  Freebase director entity is named by a majority vote over the films it directed.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.data.dataset import DataError
from kgrec.data.sources import _tables as T
from kgrec.data.sources.download import (
    HETREC_2K,
    ML_1M,
    DatasetUnavailableError,
    RemoteSource,
    cache_root,
    fetch,
    find_local,
)
from kgrec.data.sources.movielens import split_title
from kgrec.data.titles import TitleMatch, match_titles

log = logging.getLogger("kgrec.data")

__all__ = [
    "DatasetUnavailableError", "LinkAgreement", "director_names", "find_reference", "link_agreement", "ml100k_to_ml20m",
    "read_ml1m_titles",
]

#: Lift (association over its mean under shuffled links) a link file must reach.
MIN_LIFT = 2.0
#: Fewest linked movies with genres on both sides for the agreement to be measurable.
MIN_MOVIES = 30


# -- reference files --------------------------------------------------------------------
def find_reference(source: RemoteSource, data_dir: str | Path | None = None, *,
                   download: bool = True, needed_for: str = "") -> Path:
    """Folder of a reference dataset used to check or translate links.

    Looked for where kgrec finds datasets: under ``data_dir`` (a cache root), beside it
    (``data_dir`` may be a dataset folder such as ``.../ml-100k``), under
    ``$KGREC_DATA_DIR`` / the user cache folder; downloaded (sha256-checked) into the
    cache root when absent and ``download`` allows.

    Raises:
        DatasetUnavailableError: Not found and not downloadable; the message names the
            files to provide and where.
    """
    roots: list[Path | None] = []
    if data_dir is not None:
        roots += [Path(data_dir).expanduser(), Path(data_dir).expanduser().parent]
    roots.append(None)
    for root in roots:
        found = find_local(source, root)
        if found is not None:
            return found
    target = cache_root(None if data_dir is None else roots[1]) / source.folder
    if download:
        try:
            return fetch(source, None if data_dir is None else roots[1], download=True)
        except DatasetUnavailableError as err:
            reason = str(err)
        else:  # pragma: no cover - fetch returns or raises
            pass
    else:
        reason = "downloads are disabled"
    why = f" ({needed_for})" if needed_for else ""
    raise DatasetUnavailableError(
        f"{source.name} is needed{why} but was not found beside the dataset, under "
        f"$KGREC_DATA_DIR or in the user cache, and could not be downloaded: {reason}. "
        f"Provide {', '.join(source.required)} of {source.url} in {target}.", path=target)


def read_ml1m_titles(folder: str | Path) -> list[tuple[str, str, int | None]]:
    """``(ML-1M id, title without year, year)`` per line of ``movies.dat``."""
    table = T.read_table(Path(folder) / "movies.dat", sep="::", header=False,
                         encoding="latin-1", num_fields=3)
    titles, years = split_title(table.frame[1])
    return [(i, t, None if pd.isna(y) else int(y))
            for i, t, y in zip(table.frame[0], titles, years)]


def ml100k_to_ml20m(items: pd.DataFrame, ml1m_folder: str | Path) -> TitleMatch:
    """Map ML-100K item ids to ML-1M (= ML-20M) movie ids by title and year.

    Args:
        items: the ML-100K items table (``item_id``, ``title`` without year, ``year``).
        ml1m_folder: folder holding ML-1M's ``movies.dat``.
    """
    source = [(i, str(t), None if pd.isna(y) else int(y))
              for i, t, y in zip(items["item_id"], items["title"], items["year"])]
    return match_titles(source, read_ml1m_titles(ml1m_folder))


def translation_note(match: TitleMatch, items: pd.DataFrame, linked: int) -> str:
    """The ``dataset.notes`` line of an ML-100K → ML-20M translation."""
    titles = dict(zip(items["item_id"], items["title"]))
    n = len(items)
    unmatched = [f"{titles[i]} ({i})" for i in match.unmatched]
    ambiguous = [f"{titles[i]} ({i})" for i in match.ambiguous]
    parts = [f"kg: ML-100K ids translated to ML-20M ids by title and year against "
             f"ml-1m/movies.dat: {match.num_matched:,} of {n:,} movies matched "
             f"({match.num_matched / max(n, 1):.1%}; {len(match.near_year)} with the year "
             f"off by one); {linked:,} of them are in the link file"]
    if unmatched:
        parts.append(f"unmatched ({len(unmatched)}): " + "; ".join(unmatched))
    if ambiguous:
        parts.append(f"ambiguous, left unlinked ({len(ambiguous)}): " + "; ".join(ambiguous))
    return ". ".join(parts)


# -- agreement ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkAgreement:
    """Association between the KG's genres and the dataset's own genres.

    :math:`\\mathrm{MI}` is the mutual information (bits) of the co-occurrence table
    :math:`C = A^\\top B` (``A`` [movies, KG genres], ``B`` [movies, dataset genres],
    binary) normalised to a joint distribution; ``shuffled`` its mean when the rows of
    ``A`` are permuted (links shuffled among the same movies), over ``repeats`` seeded
    permutations, and ``lift = mi / shuffled``.

    Attributes:
        movies: linked movies with genres on both sides (``0``: not measurable).
        mi, shuffled, shuffled_sd, lift: as above (``nan`` when not measurable).
        passed: ``lift >= MIN_LIFT`` (``None`` when not measurable).
    """

    movies: int
    mi: float
    shuffled: float
    shuffled_sd: float
    lift: float
    passed: bool | None

    def describe(self) -> str:
        if self.passed is None:
            return (f"link agreement not measurable ({self.movies} linked movies with genres "
                    f"on both sides, at least {MIN_MOVIES} needed)")
        return (f"genre agreement of the links: {self.mi:.4f} bits of mutual information "
                f"between KG genres and the dataset's genres over {self.movies:,} movies, vs "
                f"{self.shuffled:.4f} ± {self.shuffled_sd:.4f} with the links shuffled "
                f"(lift {self.lift:.2f}; at least {MIN_LIFT:g} required)")


def _mutual_information(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts / total
    rows, cols = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] / (rows @ cols)[nz])).sum())


def link_agreement(kg_genres: pd.DataFrame, own_genres: pd.DataFrame, *, repeats: int = 20,
                   seed: int = 0) -> LinkAgreement:
    """Genre agreement of linked movies (see :class:`LinkAgreement`).

    Args:
        kg_genres: ``head`` (movie entity), ``tail`` (KG genre entity) from the link file.
        own_genres: ``head``, ``tail``: the dataset's own genre triples.
        repeats: shuffles for the baseline.
        seed: seed of the shuffles.
    """
    movies = sorted(set(kg_genres["head"]) & set(own_genres["head"]))
    if len(movies) < MIN_MOVIES:
        return LinkAgreement(len(movies), math.nan, math.nan, math.nan, math.nan, None)
    row = {m: i for i, m in enumerate(movies)}

    def matrix(frame: pd.DataFrame) -> np.ndarray:
        frame = frame[frame["head"].isin(row)].drop_duplicates(["head", "tail"])
        cols = {t: j for j, t in enumerate(sorted(frame["tail"].unique()))}
        out = np.zeros((len(movies), len(cols)), dtype=np.float64)
        out[frame["head"].map(row).to_numpy(), frame["tail"].map(cols).to_numpy()] = 1.0
        return out

    a, b = matrix(kg_genres), matrix(own_genres)
    mi = _mutual_information(a.T @ b)
    rng = np.random.default_rng(seed)
    shuffled = np.array([_mutual_information(a[rng.permutation(len(a))].T @ b)
                         for _ in range(repeats)])
    base = float(shuffled.mean())
    lift = mi / base if base > 0 else math.inf
    return LinkAgreement(len(movies), mi, base, float(shuffled.std()), lift, lift >= MIN_LIFT)


# -- named directors --------------------------------------------------------------------
def director_names(directed: pd.DataFrame, ml20m_of: dict[str, str],
                   hetrec_folder: str | Path) -> tuple[dict[str, str], dict[str, int]]:
    """Names of Freebase director entities, voted by the films they share with HetRec.

    For each movie with KG directors :math:`P(m)` and HetRec directors :math:`D(m)` (by
    its ML-20M id), every pair :math:`(p, d) \\in P(m) \\times D(m)` is one vote for
    naming :math:`p` as :math:`d`. An entity gets the name with the most votes when it
    holds a strict majority of the entity's votes (ties and split votes stay unnamed).
    Up to three rounds: a name given to one director of a film no longer counts for the
    film's other directors (so co-directors of a single film are told apart).

    Args:
        directed: ``head`` (movie entity ``movie:<item_id>``), ``tail`` (person entity)
            of the ``directed_by`` triples.
        ml20m_of: item id → ML-20M id.
        hetrec_folder: folder holding HetRec's ``movie_directors.dat``.

    Returns:
        ``(labels, counts)``: person entity → name, and counts for the note
        (``entities``, ``named``, ``tied``, ``no_film``).
    """
    table = T.read_table(Path(hetrec_folder) / "movie_directors.dat", sep="\t",
                         encoding="latin-1", columns=("movieID", "directorID", "directorName"))
    names: dict[str, list[str]] = defaultdict(list)
    for movie, name in zip(table.frame["movieID"], table.frame["directorName"]):
        if name.strip():
            names[movie].append(name.strip())
    films: dict[str, list[str]] = defaultdict(list)  # movie → its KG directors
    for head, person in zip(directed["head"], directed["tail"]):
        films[head].append(person)
    labels: dict[str, str] = {}
    tied = 0
    voted: set[str] = set()
    for _ in range(3):  # names settled on a film are not candidates for its co-directors
        votes: dict[str, Counter] = defaultdict(Counter)
        for head, people in films.items():
            ml20m = ml20m_of.get(head.partition(":")[2])
            candidates = names.get(ml20m, []) if ml20m else []
            taken = {labels[p] for p in people if p in labels}
            for person in people:
                if person in labels:
                    continue
                for name in candidates:
                    if name not in taken:
                        votes[person][name] += 1
        voted |= set(votes)
        fresh, tied = {}, 0
        for person, counter in votes.items():
            (best, top), *rest = counter.most_common(2) + [("", 0)]
            if top * 2 > sum(counter.values()) and top > rest[0][1]:
                fresh[person] = best
            else:
                tied += 1
        if not fresh:
            break
        labels.update(fresh)
    entities = int(directed["tail"].nunique())
    return labels, {"entities": entities, "named": len(labels), "tied": tied,
                    "no_film": entities - len(voted)}


def hetrec_folder(data_dir: str | Path | None, download: bool) -> Path | None:
    """HetRec 2011 folder (for director names), or ``None`` when it cannot be found."""
    try:
        return find_reference(HETREC_2K, data_dir, download=download,
                              needed_for="director names")
    except DatasetUnavailableError as err:
        log.info("%s", err)
        return None


def ml1m_folder(data_dir: str | Path | None, download: bool) -> Path:
    """ML-1M folder (for the ML-100K → ML-20M id translation)."""
    return find_reference(ML_1M, data_dir, download=download,
                          needed_for="translating ML-100K ids to the ML-20M ids that "
                          "RecBole's ml-100k.link and KB4Rec's ml2fb.txt are keyed by; only "
                          "movies.dat is read")


def refuse(agreement: LinkAgreement, link_path: Path, keys: str) -> DataError:
    """The error for a link file whose links disagree with the dataset."""
    hint = ("RecBole's ml-100k.link is keyed by MovieLens-20M ids, not ML-100K item ids: "
            "load it with link_keys='ml-20m' (kgrec translates ML-100K ids by title and "
            "year through ml-1m/movies.dat), or ")
    return DataError(
        f"the links joined by {keys} disagree with the dataset's own metadata: "
        f"{agreement.describe()}. The file is probably keyed by another dataset's ids, so "
        f"the graph would attach films' directors and casts to the wrong movies. Fix: "
        + hint + "re-key the file by this dataset's item ids; pass trust_links=True to "
        "merge it anyway (recorded in dataset.notes).", path=link_path)


def check_ids_known(link_ids: pd.Series, known: set[str]) -> float:
    """Share of link-file ids that are item ids of the dataset."""
    return float(link_ids.isin(known).mean()) if len(link_ids) else 0.0


def shared_genre_frames(added: pd.DataFrame, own: pd.DataFrame
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KG genre triples and the dataset's own genre triples (``has_genre``)."""
    kg = added[added["relation"].eq("has_genre")]
    mine = own[own["relation"].eq("has_genre")]
    return kg, mine
