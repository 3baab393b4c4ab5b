"""The committed underwriting guide is exactly what underwriting.yaml renders to."""
from __future__ import annotations

import copy

import pytest

from anxin.knowledge import filing, render_uw_guide


# ids carry "UW-GUIDE" so that `pytest -k "UW-GUIDE"` selects these tests too
LANG_IDS = [f"UW-GUIDE-{lang}" for lang in render_uw_guide.LANGS]


@pytest.fixture(autouse=True)
def shipped_filing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render from the filing shipped with the project, whatever the environment says."""
    monkeypatch.delenv("ANXIN_FILING_DIR", raising=False)


@pytest.mark.parametrize("lang", render_uw_guide.LANGS, ids=LANG_IDS)
def test_committed_guide_matches_a_fresh_render(lang: str) -> None:
    path = render_uw_guide.output_path(lang)
    assert path.exists(), f"missing {path}; run: python -m anxin.knowledge.render_uw_guide"
    assert path.read_text(encoding="utf-8") == render_uw_guide.render(lang), (
        f"{path} differs from underwriting.yaml; run: python -m anxin.knowledge.render_uw_guide"
    )


@pytest.mark.parametrize("lang", render_uw_guide.LANGS, ids=LANG_IDS)
def test_section_order_matches_the_filing(lang: str) -> None:
    uw = filing.load_underwriting()
    assert render_uw_guide.clause_ids(uw) == filing.underwriting_clause_ids()
    text = render_uw_guide.render(lang)
    headings = [line[3:].split(None, 1)[0] for line in text.splitlines() if line.startswith("## ")]
    assert headings == filing.underwriting_clause_ids()


@pytest.mark.parametrize("doc", ["UW-GUIDE"])
def test_a_changed_rule_changes_the_guide(doc: str) -> None:
    uw = copy.deepcopy(filing.load_underwriting())
    rule = uw["conditions"]["thyroid_nodule"]["rules"][1]
    assert rule["rule_id"] == "UW-THY-02"
    rule["outcomes"]["life"] = "loading:25"
    zh = render_uw_guide.render("zh", uw=uw)
    en = render_uw_guide.render("en", uw=uw)
    assert zh != render_uw_guide.render("zh")
    section = zh.split("## UW-THY-02 ", 1)[1].split("\n## ", 1)[0]
    assert "寿险（TL-300）：加费25%" in section
    section = en.split("## UW-THY-02 ", 1)[1].split("\n## ", 1)[0]
    assert "Life (TL-300): loading 25%" in section


@pytest.mark.parametrize("doc", ["UW-GUIDE"])
def test_outcome_words(doc: str) -> None:
    uw = filing.load_underwriting()
    words = render_uw_guide.outcome_words
    assert words(uw, "standard", "zh") == "标准体"
    assert words(uw, "loading:25", "zh") == "加费25%"
    assert words(uw, "exclude:EX-THYROID", "zh") == "除外 EX-THYROID（甲状腺疾病及其并发症）"
    assert words(uw, "postpone:6", "zh") == "延期6个月"
    assert words(uw, "decline", "zh") == "拒保"
    assert words(uw, "exclude:EX-THYROID", "en") == "exclusion EX-THYROID (thyroid diseases and their complications)"
    assert words(uw, "postpone:6", "en") == "postponed 6 months"
