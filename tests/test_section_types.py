"""Clause types: id → type mapping, the shipped exemplars, and the confident-type rule."""
from __future__ import annotations

import numpy as np
import yaml

from anxin.knowledge import section_types as st
from anxin.knowledge.query_expansion import section_hints
from anxin.knowledge.names import squash


def test_clause_type_of_ids() -> None:
    t = st.CLAUSE_TYPES
    assert st.clause_type("MED-100-COV-GEN_MED", t) == "COV"
    assert st.clause_type("MED-100-EXC-02", t) == "EXC"
    assert st.clause_type("CI-200-CLAIM-DOCS", t) == "CLAIM-DOCS"
    assert st.clause_type("UBI-600-BENEFIT-PERIOD", t) == "BENEFIT-PERIOD"
    assert st.clause_type("GEN-COOLING-OFF", t) == "COOLING-OFF"
    assert st.clause_type("GEN-ROUNDING", t) is None and st.clause_type("UW-THY-02", t) is None
    assert st.clause_type("", t) is None


def test_exemplars_cover_every_clause_type_in_both_languages() -> None:
    data = yaml.safe_load(st.EXEMPLARS.read_text(encoding="utf-8"))
    assert set(data) == set(st.CLAUSE_TYPES)
    for langs in data.values():
        assert len(langs["zh"]) >= 20 and len(langs["en"]) >= 20


def test_section_cues_name_known_types() -> None:
    assert section_hints(squash("买了不想要了，能全额退吗")) >= {"COOLING-OFF"}
    assert "CLAIM-DOCS" in section_hints(squash("what documents do I need to send"))
    assert section_hints(squash("你好")) == set()


class _FakeEmbedder:
    name = "fake"
    dim = 2

    def embed_passages(self, texts):
        return np.asarray([[1.0, 0.0] if "退" in t or "refund" in t else [0.0, 1.0] for t in texts], dtype=np.float32)

    def embed_query(self, text):
        return self.embed_passages([text])[0]


def test_confident_type_needs_a_margin(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ANXIN_HOME", str(tmp_path))
    path = tmp_path / "ex.yaml"
    path.write_text(yaml.safe_dump({"COOLING-OFF": {"zh": ["全额退"], "en": ["full refund"]},
                                    "WAITING": {"zh": ["多久"], "en": ["how soon"]}}, allow_unicode=True), encoding="utf-8")
    model = st.SectionTypeModel(_FakeEmbedder(), path)
    assert model.confident_types(np.asarray([1.0, 0.0], dtype=np.float32), 0.5) == {"COOLING-OFF"}
    assert model.confident_types(np.asarray([0.7, 0.7], dtype=np.float32), 0.01) == set()
