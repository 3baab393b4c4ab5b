"""Offline model assembly from packages: concatenation, SHA-256 verification, refusal on mismatch."""
from __future__ import annotations

import hashlib
import sys
import textwrap

import pytest
import yaml

from anxin import model_store


@pytest.fixture
def fake_packages(tmp_path, monkeypatch):
    """Two installed 'part' packages carrying pieces of a model, and a registry naming them."""
    site = tmp_path / "site"
    for n, payload in ((1, b"GGUF-part-one|"), (2, b"part-two")):
        pkg = site / f"fakemodel_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part0{n}.bin").write_bytes(payload)
        (pkg / "__init__.py").write_text(textwrap.dedent(f"""
            import os
            def get_part_path():
                return os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "part0{n}.bin")
        """))
    monkeypatch.syspath_prepend(str(site))
    whole = b"GGUF-part-one|part-two"
    registry = {"models": {"fake-llm": {
        "purpose": "test", "upstream": "none", "licence": "MIT", "packages": ["fakemodel-part{1..2}==1.0"],
        "kind": "files", "files": {"model.gguf": {"join_parts": {"module": "fakemodel_part{n}", "count": 2}}},
        "sha256": {"model.gguf": hashlib.sha256(whole).hexdigest()}}}}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(registry), encoding="utf-8")
    monkeypatch.setattr(model_store, "REGISTRY", path)
    model_store.registry.cache_clear()
    monkeypatch.setenv("ANXIN_HOME", str(tmp_path / "home"))
    yield path, whole
    model_store.registry.cache_clear()
    for n in (1, 2):
        sys.modules.pop(f"fakemodel_part{n}", None)


def test_parts_are_joined_verified_and_stamped(fake_packages) -> None:
    _, whole = fake_packages
    assert not model_store.is_ready("fake-llm")
    seen = []
    model_store.assemble("fake-llm", progress=lambda f, done, total: seen.append((done, total)))
    target = model_store.model_dir("fake-llm") / "model.gguf"
    assert target.read_bytes() == whole
    assert seen[-1] == (len(whole), len(whole))
    assert model_store.is_ready("fake-llm")
    assert model_store.ensure("fake-llm") == target.parent


def test_a_hash_mismatch_is_refused_and_the_file_removed(fake_packages) -> None:
    path, _ = fake_packages
    data = yaml.safe_load(path.read_text())
    data["models"]["fake-llm"]["sha256"]["model.gguf"] = "0" * 64
    path.write_text(yaml.safe_dump(data))
    model_store.registry.cache_clear()
    with pytest.raises(model_store.ModelError, match="mismatch"):
        model_store.assemble("fake-llm")
    assert not (model_store.model_dir("fake-llm") / "model.gguf").exists()
    assert not model_store.is_ready("fake-llm")


def test_missing_package_is_a_clear_error(fake_packages, monkeypatch) -> None:
    path, _ = fake_packages
    data = yaml.safe_load(path.read_text())
    data["models"]["fake-llm"]["files"]["model.gguf"]["join_parts"]["module"] = "not_installed_part{n}"
    path.write_text(yaml.safe_dump(data))
    model_store.registry.cache_clear()
    with pytest.raises(model_store.ModelError, match="not installed"):
        model_store.assemble("fake-llm")


def test_packages_expand_and_the_shipped_registry_pins_every_file() -> None:
    assert model_store.expand_packages("p-part{1..3}==0.2") == ["p-part1==0.2", "p-part2==0.2", "p-part3==0.2"]
    model_store.registry.cache_clear()
    for name, entry in model_store.registry().items():
        assert set(entry["sha256"]) == set(entry["files"]), name
        assert all(len(h) == 64 for h in entry["sha256"].values())


def test_the_embedding_weights_are_verified() -> None:
    model_store.registry.cache_clear()
    assert model_store.assemble("e5-small") == model_store.registry()["e5-small"]["sha256"]


def test_pyproject_models_extra_matches_the_registry() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(model_store.__file__).parent / "pyproject.toml").read_text())
    extra = set(pyproject["project"]["optional-dependencies"]["models"])
    core = set(pyproject["project"]["dependencies"])
    model_store.registry.cache_clear()
    wanted = {r for e in model_store.registry().values() for spec in e["packages"] for r in model_store.expand_packages(spec)}
    assert wanted <= extra | core


def test_the_fast_embedder_option_is_installed_and_normalised() -> None:
    import numpy as np

    from anxin.knowledge.embeddings import get_embedder

    use = get_embedder("use")
    vectors = use.embed_passages(["等待期", "waiting period"])
    assert vectors.shape == (2, use.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
