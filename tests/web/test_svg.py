"""The server-side drawing of explanation subgraphs: well-formed SVG, every path node and
edge drawn once, layered user → anchors → shared entities → movie, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kgrec.web.svg import BOX_W, _columns, explanation_svg

NS = "{http://www.w3.org/2000/svg}"


def step(head, relation, tail, forward=True):
    return {"head": head, "relation": relation, "tail": tail, "forward": forward}


PATHS = [  # user:7 -rated-> Heat -directed_by-> Mann <-directed_by- Collateral
    {"steps": [step("user:7", "rated", "movie:1"), step("movie:1", "directed_by", "person:m"),
               step("movie:9", "directed_by", "person:m", False)]},
    # user:7 -rated-> Casino <-rated- user:3 -rated-> Collateral
    {"steps": [step("user:7", "rated", "movie:2"), step("user:3", "rated", "movie:2", False),
               step("user:3", "rated", "movie:9")]},
    # a stated like (no user): Heat -has_genre-> Crime <-has_genre- Collateral
    {"steps": [step("movie:1", "has_genre", "genre:Crime"),
               step("movie:9", "has_genre", "genre:Crime", False)]},
]
LABELS = {"user:7": "user 7", "user:3": "user 3", "movie:1": "Heat", "movie:2": "Casino",
          "movie:9": "Collateral", "person:m": "Michael Mann", "genre:Crime": "Crime & <Noir>"}


def test_layers_put_the_user_first_and_the_movie_last():
    paths = [["user:7", "movie:1", "person:m", "movie:9"], ["movie:1", "genre:Crime", "movie:9"]]
    col = _columns(paths, "movie:9")
    assert col == {"user:7": 0, "movie:1": 1, "person:m": 2, "genre:Crime": 2, "movie:9": 3}


def test_svg_draws_every_node_and_edge_once():
    svg = explanation_svg(PATHS, "movie:9", LABELS.__getitem__)
    root = ET.fromstring(svg)  # well-formed, with the label's & and < escaped
    titles = [t.text for t in root.iter(f"{NS}title")]
    assert sorted(titles) == sorted(f"{v} ({k})" for k, v in LABELS.items())
    edges = {(s["head"], s["relation"], s["tail"]) for p in PATHS for s in p["steps"]}
    assert len(list(root.iter(f"{NS}line"))) == len(edges)
    boxes = {t.text: g.find(f"{NS}rect") for g in root.iter(f"{NS}g")
             for t in g.iter(f"{NS}title")}
    x = {k: float(boxes[f"{v} ({k})"].get("x")) for k, v in LABELS.items()}
    assert x["user:7"] < x["movie:1"] < x["person:m"] < x["movie:9"]
    assert x["movie:9"] == max(x.values())
    assert float(root.get("width")) >= x["movie:9"] + BOX_W
    assert boxes["Collateral (movie:9)"].get("stroke-width") == "2.5"  # the target stands out
    assert "style=" not in svg and "<script" not in svg


def test_long_labels_are_shortened_with_the_full_name_on_hover():
    labels = {**LABELS, "movie:9": "A Very Long Title That Goes On And On (Director's Cut)"}
    root = ET.fromstring(explanation_svg(PATHS[:1], "movie:9", labels.__getitem__))
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert any(t.endswith("…") and len(t) <= 24 for t in texts)
    assert f"{labels['movie:9']} (movie:9)" in [t.text for t in root.iter(f"{NS}title")]


def test_no_path_gives_a_note():
    root = ET.fromstring(explanation_svg([], "movie:9", LABELS.__getitem__))
    assert "No explanation path" in "".join(root.itertext())
