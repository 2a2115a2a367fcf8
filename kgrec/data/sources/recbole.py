"""RecBole atomic files: ``<name>.inter`` / ``.item`` / ``.kg`` / ``.link``.

Each file is TAB-separated, UTF-8, with a typed header line (``user_id:token
item_id:token rating:float timestamp:float``); fields are read by name, the ``:type``
suffix is ignored. Columns used:

* ``.inter``: ``user_id``, ``item_id`` (required), ``rating`` (default 1.0, noted),
  ``timestamp`` (default 0);
* ``.item`` (optional): ``item_id``, ``movie_title`` (or ``title``), ``release_year`` (or
  ``year``), ``class`` (or ``genre``: space-separated genre names → ``has_genre``);
* ``.link``: ``item_id`` → ``entity_id`` (a Freebase mid);
* ``.kg``: ``head_id``, ``relation_id``, ``tail_id``.

KG mapping (:func:`kg_triples`): linked entities become ``movie:<item_id>``; Freebase
relations ``film.film.*`` become kgrec relations (:data:`RELATIONS`), with typed tails
``person:<mid>``, ``genre:<mid>``, ``country:<mid>``, ``language:<mid>``; other
``film.film.*`` relations keep their last name component in snake case with
``entity:<mid>`` tails (``film.film.award_nomination`` → ``award_nomination``), or
``movie:<id>`` when the tail is itself a linked movie (sequels). Inverse relations
(:data:`INVERSE_RELATIONS`) duplicate their forward twins and are dropped; so is every
triple whose head is not a linked movie of the dataset. Freebase mids have no labels.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from kgrec.data.dataset import DataError, MovieDataset, empty_triples
from kgrec.data.sources import _tables as T
from kgrec.data.sources import linking as L

log = logging.getLogger("kgrec.data")

#: Freebase relation → (kgrec relation, tail entity type).
RELATIONS: dict[str, tuple[str, str]] = {
    "film.film.actor": ("starring", "person"),
    "film.film.directed_by": ("directed_by", "person"),
    "film.film.genre": ("has_genre", "genre"),
    "film.film.written_by": ("written_by", "person"),
    "film.film.produced_by": ("produced_by", "person"),
    "film.film.country": ("from_country", "country"),
    "film.film.language": ("in_language", "language"),
}

#: Inverse twins of film.film.* relations (head is the person, genre, ...): dropped.
INVERSE_RELATIONS = frozenset({
    "film.director.film", "film.film_genre.films_in_this_genre", "film.producer.film",
    "film.writer.film", "film.actor.film", "film.cinematographer.film",
    "film.content_rating.film", "film.production_company.films", "film.film_subject.films",
})


def relation_name(freebase: str) -> tuple[str, str]:
    """(kgrec relation, tail type) for a Freebase relation name."""
    if freebase in RELATIONS:
        return RELATIONS[freebase]
    last = freebase.rsplit(".", 1)[-1]
    return re.sub(r"[^0-9a-z]+", "_", last.lower()).strip("_") or "related_to", "entity"


def _atomic(path: Path, columns: tuple[str, ...]) -> T.Table:
    """Read an atomic file; header names lose their ``:type`` suffix."""
    table = T.read_table(path, sep="\t", encoding="utf-8")
    table.frame.columns = [c.split(":", 1)[0].strip() for c in table.frame.columns]
    missing = [c for c in columns if c not in table.frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(map(repr, missing))} (header fields are "
                        "'name:type', e.g. 'user_id:token')", path=path, line=1)
    return table


def _single(folder: Path, suffix: str, name: str | None) -> Path | None:
    if name is not None:
        path = folder / f"{name}{suffix}"
        return path if path.is_file() else None
    found = sorted(folder.glob(f"*{suffix}"))
    if len(found) > 1:
        raise DataError(f"several {suffix} files ({', '.join(p.name for p in found)}); pass "
                        "name= to choose one", path=folder)
    return found[0] if found else None


def read_recbole(folder: str | Path, *, name: str | None = None) -> MovieDataset:
    """Read a folder of RecBole atomic files.

    Args:
        folder: Folder holding ``<name>.inter`` and optionally ``.item``, ``.kg``, ``.link``.
        name: Dataset name (file stem); needed only when the folder holds several
            ``.inter`` files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("RecBole folder not found", path=folder)
    inter_path = _single(folder, ".inter", name)
    if inter_path is None:
        raise DataError(f"no {name + '.inter' if name else '*.inter'} file (RecBole atomic "
                        "interactions) in this folder", path=folder)
    stem = inter_path.stem
    notes: list[str] = []
    inter = _atomic(inter_path, ("user_id", "item_id"))
    item_path = folder / f"{stem}.item"
    triples = []
    labels: dict[str, str] = {}
    if item_path.is_file():
        item_table = _atomic(item_path, ("item_id",))
        frame = item_table.frame
        T.check_nonempty(item_table, ["item_id"])
        T.check_unique(item_table, ["item_id"], "item id")
        title = _first_column(frame, ("movie_title", "title"))
        year = _first_column(frame, ("release_year", "year"))
        items = pd.DataFrame({
            "item_id": frame["item_id"],
            "title": frame[title].str.strip() if title else frame["item_id"],
            "year": (T.to_year(item_table, year) if year
                     else pd.Series(pd.NA, index=frame.index, dtype="Int64")),
            "text": "",
        })
        T.check_titles(item_table, items["title"])
        genre = _first_column(frame, ("class", "genre", "genres"))
        if genre:
            names = frame[genre].str.split().explode().dropna()
            names = names[names.ne("")]
            entities = "genre:" + names
            triples.append(pd.DataFrame({"head": "movie:" + items["item_id"].loc[names.index],
                                         "relation": "has_genre", "tail": entities}))
            labels.update(zip(entities, names))
    else:
        ids = pd.unique(inter.frame["item_id"])
        items = pd.DataFrame({"item_id": ids, "title": ids, "year": pd.NA, "text": ""})
        notes.append(f"recbole: no {stem}.item; items are the {len(ids):,} item ids of "
                     f"{inter_path.name}, titled by id")
    has_rating = "rating" in inter.frame.columns
    has_time = "timestamp" in inter.frame.columns
    if not has_rating:
        notes.append(f"recbole: {inter_path.name} has no rating column; every interaction "
                     "counts as rating 1.0")
    ratings = T.ratings_frame(inter, items["item_id"], items_where=f"{stem}.item",
                              rating="rating" if has_rating else None,
                              timestamp="timestamp" if has_time else None)
    genre_triples = (pd.concat(triples, ignore_index=True) if triples
                     else empty_triples())
    dataset = MovieDataset(stem, items, ratings, genre_triples, labels, notes)
    if _single(folder, ".kg", stem) is not None:
        dataset = merge_kg(dataset, folder, name=stem)
    return dataset


def _first_column(frame: pd.DataFrame, candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in frame.columns), None)


def kg_triples(kg: pd.DataFrame, link: pd.DataFrame) -> pd.DataFrame:
    """Map RecBole ``.kg`` triples to kgrec triples (see the module docstring).

    Args:
        kg: Columns ``head_id``, ``relation_id``, ``tail_id`` (Freebase mids and relations).
        link: Columns ``item_id``, ``entity_id``: the movies of the dataset. Several items
            may link to one entity (a film listed twice): each gets the entity's triples.

    Returns:
        ``head``/``relation``/``tail`` triples, heads all ``movie:<item_id>``, no duplicates.
    """
    link = link.drop_duplicates(["item_id", "entity_id"])
    movies = pd.DataFrame({"head_id": link["entity_id"].to_numpy(),
                           "head": ("movie:" + link["item_id"]).to_numpy()})
    kg = kg[~kg["relation_id"].isin(INVERSE_RELATIONS)]
    kg = kg.merge(movies, on="head_id", how="inner")
    mapping = {r: relation_name(r) for r in kg["relation_id"].unique()}
    relations = kg["relation_id"].map({r: m[0] for r, m in mapping.items()})
    kinds = kg["relation_id"].map({r: m[1] for r, m in mapping.items()})
    # a tail that is itself a linked movie (sequels) becomes that movie (every copy)
    tails = kg[["tail_id"]].assign(relation=relations.to_numpy(), kind=kinds.to_numpy(),
                                   head=kg["head"].to_numpy())
    tails = tails.merge(movies.rename(columns={"head_id": "tail_id", "head": "tail"}),
                        on="tail_id", how="left")
    tails["tail"] = tails["tail"].where(tails["tail"].notna(),
                                        tails["kind"] + ":" + tails["tail_id"])
    out = pd.DataFrame({"head": tails["head"].to_numpy(), "relation": tails["relation"].to_numpy(),
                        "tail": tails["tail"].to_numpy()})
    out = out[out["head"] != out["tail"]]
    return out.drop_duplicates(ignore_index=True)


#: How the ids of a ``.link`` file may be read (``link_keys=``).
LINK_KEYS = ("auto", "item_id", "ml-20m")


def merge_kg(dataset: MovieDataset, kg_dir: str | Path, *, name: str | None = None,
             link_keys: str = "auto", trust_links: bool = False,
             data_dir: str | Path | None = None, download: bool = True) -> MovieDataset:
    """Add the triples of a RecBole ``.kg``/``.link`` pair to ``dataset``, checked.

    E.g. ``merge_kg(load_dataset("ml-100k"), "kg-links/RecBole-ml-100k")`` adds Freebase
    directors, actors, writers, ... (``--kg-dir`` on the command line). The links are
    facts to verify (:mod:`kgrec.data.sources.linking`):

    * ``link_keys="item_id"`` joins the file's ``item_id`` column to the dataset's item
      ids; ``"ml-20m"`` reads it as MovieLens-20M ids and translates ML-100K ids by title
      and year (RecBole's ``ml-100k.link`` and KB4Rec's ``ml2fb.txt`` are keyed so; only
      for ML-100K, needs ML-1M's ``movies.dat``); ``"auto"`` tries ``item_id`` and, for
      ML-100K when that join fails the check below, ``ml-20m``.
    * The join's genre agreement with the dataset's own genres
      (:func:`~kgrec.data.sources.linking.link_agreement`) is reported in ``notes``; a
      join that agrees no better than shuffled links is refused with a
      :class:`DataError` saying how to fix it, unless ``trust_links=True`` (recorded in
      ``notes``).
    * With ML-20M ids, Freebase directors are named from HetRec 2011's
      ``movie_directors.dat`` when it can be found
      (:func:`~kgrec.data.sources.linking.director_names`).

    Links to items the dataset does not have are ignored (counted in the note).

    Args:
        dataset: The dataset to extend (not modified).
        kg_dir: Folder holding ``<name>.kg`` and ``<name>.link``.
        name: File stem; needed only when the folder holds several ``.kg`` files.
        link_keys: One of :data:`LINK_KEYS`.
        trust_links: Merge even when the links disagree with the dataset.
        data_dir: Where the dataset was loaded from (reference files such as
            ``ml-1m/movies.dat`` are looked for beside it).
        download: Allow downloading reference files that are absent.

    Returns:
        A new :class:`MovieDataset` with the union of the triples, labels and notes.
    """
    if link_keys not in LINK_KEYS:
        raise ValueError(f"link_keys must be one of {', '.join(map(repr, LINK_KEYS))}, "
                         f"got {link_keys!r}")
    kg_dir = Path(kg_dir)
    if not kg_dir.is_dir():
        raise DataError("KG folder not found (expected <name>.kg and <name>.link)", path=kg_dir)
    kg_path = _single(kg_dir, ".kg", name)
    if kg_path is None:
        raise DataError(f"no {name + '.kg' if name else '*.kg'} file in this folder",
                        path=kg_dir)
    link_path = kg_dir / f"{kg_path.stem}.link"
    T.require_file(link_path, f"it links the item ids of {kg_path.name} to its entities")
    link_table = _atomic(link_path, ("item_id", "entity_id"))
    T.check_nonempty(link_table, ["item_id", "entity_id"])
    link = link_table.frame[["item_id", "entity_id"]]
    kg_table = _atomic(kg_path, ("head_id", "relation_id", "tail_id"))
    T.check_nonempty(kg_table, ["head_id", "relation_id", "tail_id"])
    kg = kg_table.frame[["head_id", "relation_id", "tail_id"]]
    is_ml100k = dataset.name == "ml-100k"
    if link_keys == "ml-20m" and not is_ml100k:
        raise ValueError(f"link_keys='ml-20m' translates ML-100K ids; dataset "
                         f"{dataset.name!r} is not ML-100K (use 'item_id')")
    tried = ["item_id", "ml-20m"] if link_keys == "auto" else [link_keys]
    if not is_ml100k:
        tried = [k for k in tried if k != "ml-20m"]
    notes: list[str] = []
    own = dataset.triples
    candidates = []  # (keys, keyed links, triples, agreement, notes), in the order tried
    for keys in tried:
        if keys == "item_id":
            keyed, extra = link, []
        else:
            try:
                folder = L.ml1m_folder(data_dir, download)
            except L.DatasetUnavailableError:
                if any(c[3].passed is None for c in candidates):
                    break  # the unmeasured item-id join stands
                raise
            match = L.ml100k_to_ml20m(dataset.items, folder)
            by_ml20m = pd.DataFrame({"item_id": list(match.mapping),
                                     "ml20m": list(match.mapping.values())})
            keyed = by_ml20m.merge(link.rename(columns={"item_id": "ml20m"}), on="ml20m")
            extra = [L.translation_note(match, dataset.items, keyed["item_id"].nunique())]
        added = kg_triples(kg, keyed[keyed["item_id"].isin(dataset.items["item_id"])])
        agreement = L.link_agreement(*L.shared_genre_frames(added, own))
        candidates.append((keys, keyed, added, agreement, extra))
        if agreement.passed:
            break
    # a join that agrees wins; else one that cannot be measured; else the first (refused)
    chosen = next((c for c in candidates if c[3].passed), None) or next(
        (c for c in candidates if c[3].passed is None), candidates[0])
    for c in candidates:
        if c is not chosen:
            verdict = "refused" if c[3].passed is False else "not used"
            notes.append(f"kg: links joined by {c[0]} {verdict} ({c[3].describe()})")
    keys, keyed, added, agreement, extra = chosen
    if agreement.passed is False:
        if not trust_links:
            raise L.refuse(agreement, link_path, keys)
        notes.append(f"kg: LINK CHECK OVERRIDDEN (trust_links=True): merged the links joined "
                     f"by {keys} although they disagree with the dataset: "
                     f"{agreement.describe()}")
    else:
        notes.append(f"kg: links joined by {keys}: {agreement.describe()}")
    notes += extra
    labels = dict(dataset.labels)
    if keys == "ml-20m":
        notes.append(_name_directors(added, keyed, labels, data_dir, download))
    present = link["item_id"].isin(dataset.items["item_id"]) if keys == "item_id" else None
    counts = added["relation"].value_counts()
    linked = keyed["item_id"][keyed["item_id"].isin(dataset.items["item_id"])].nunique()
    with_triples = added["head"].nunique()
    note = (f"kg: added {len(added):,} triples from {kg_path.name} "
            f"({linked:,} of {len(dataset.items):,} movies linked, {with_triples:,} with "
            "triples"
            + (f"; {int((~present).sum()):,} links to unknown items ignored"
               if present is not None and (~present).any() else "")
            + "; " + ", ".join(f"{r} {n:,}" for r, n in counts.items()) + ")")
    notes.append(note)
    for line in notes:
        log.info(line)
    triples = pd.concat([dataset.triples, added], ignore_index=True).drop_duplicates(
        ignore_index=True)
    return MovieDataset(dataset.name, dataset.items, dataset.ratings, triples, labels,
                        [*dataset.notes, *notes])


def _name_directors(added: pd.DataFrame, keyed: pd.DataFrame, labels: dict[str, str],
                    data_dir: str | Path | None, download: bool) -> str:
    """Label Freebase directors from HetRec (into ``labels``); the note saying so."""
    folder = L.hetrec_folder(data_dir, download)
    directed = added[added["relation"].eq("directed_by")]
    if folder is None or not (folder / "movie_directors.dat").is_file():
        return ("kg: directors unnamed: HetRec 2011 movie_directors.dat was not found beside "
                "the dataset (hetrec2011-movielens-2k-v2/); Freebase people have no names")
    names, counts = L.director_names(directed, dict(zip(keyed["item_id"], keyed["ml20m"])),
                                     folder)
    labels.update(names)
    films = directed["head"].nunique()
    named_films = directed[directed["tail"].isin(names)]["head"].nunique()
    return (f"kg: named {counts['named']:,} of {counts['entities']:,} Freebase directors from "
            f"HetRec movie_directors.dat (majority vote over shared films; {counts['tied']} "
            f"tied or split, {counts['no_film']} with no HetRec film): {named_films:,} of "
            f"{films:,} films with a director have a named one. Unnamed: the other "
            "directors, and every actor, writer, producer and cinematographer (the data "
            "have no names for them)")
