"""KGRecConfig: defaults, TOML/JSON round trip, clear errors."""

import pytest

from kgrec.config import ExplainConfig, KGRecConfig, ModelConfig, TextConfig, TrainConfig


def test_toml_and_json_round_trip(tmp_path):
    cfg = KGRecConfig().replace(model={"name": "lightgcn", "kg_relations": ("directed_by",)},
                                train={"epochs": 7, "learning_rate": 0.01})
    for name in ("cfg.toml", "cfg.json"):
        path = cfg.save(tmp_path / name)
        assert KGRecConfig.load(path) == cfg


def test_file_maps_to_api(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nname = "ease"\nease_reg = 100.0\n[train]\nepochs = 3\n')
    cfg = KGRecConfig.load(path)
    assert cfg.model.name == "ease" and cfg.model.ease_reg == 100.0 and cfg.train.epochs == 3
    assert cfg.text == KGRecConfig().text


@pytest.mark.parametrize("text, match", [
    ('[model]\nname = "nope"\n', "unknown model"),
    ('[model]\nembedding = 3\n', "unknown keys"),
    ('[trian]\nepochs = 3\n', "unknown config sections"),
    ('[train]\nepochs = 0\n', "epochs"),
    ('[model\n', "c.toml"),
])
def test_bad_config_errors(tmp_path, text, match):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        KGRecConfig.load(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        KGRecConfig.load(tmp_path / "missing.toml")


def test_hybrid_components_validated():
    with pytest.raises(ValueError, match="hybrid components"):
        ModelConfig(hybrid_components=("dlae", "hybrid"))


def test_shipped_configs_load():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))
    assert configs
    for path in configs:
        assert KGRecConfig.load(path).model.name in ("hybrid", "lightgcn", "sage")


def test_one_set_of_defaults():
    from kgrec.train.options import TrainConfig as ReExported

    assert KGRecConfig.from_dict({}) == KGRecConfig()
    assert KGRecConfig.from_dict({"train": {}, "model": {}}) == KGRecConfig()
    assert KGRecConfig.from_toml("") == KGRecConfig()
    assert ReExported is TrainConfig and KGRecConfig().train == TrainConfig()
    # the benchmark file is the package default plus its stated changes only
    shipped = KGRecConfig.load(_configs()[0])
    assert shipped.replace(model={"embedding_size": 64}) == KGRecConfig()


def test_no_config_key_is_dead():
    """Every key of every section is read somewhere in the package outside config.py
    (as ``.key`` on a config object or by name in a ``replace`` / ``getattr``)."""
    import re
    from dataclasses import fields
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "kgrec"
    source = "\n".join(p.read_text(encoding="utf-8") for p in package.rglob("*.py")
                       if p.name != "config.py" or p.parent.name != "kgrec")
    dead = []
    for section in (ModelConfig, TrainConfig, TextConfig, ExplainConfig):
        for f in fields(section):
            if not re.search(rf"\.{f.name}\b|[\"']{f.name}[\"']", source):
                dead.append(f"{section.__name__}.{f.name}")
    assert not dead, f"config keys nobody reads: {dead}"


def test_unknown_keys_are_errors_in_every_section():
    for section in ("model", "train", "text", "explain"):
        with pytest.raises(ValueError, match="unknown"):
            KGRecConfig.from_dict({section: {"no_such_key": 1}})


def test_model_names_live_in_the_registry():
    from kgrec import config
    from kgrec.models import registry

    assert config.MODEL_NAMES is registry.MODEL_NAMES
    assert set(registry.REGISTRY) == set(registry.MODEL_NAMES)


def _configs():
    from pathlib import Path

    return sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))
