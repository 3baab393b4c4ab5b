"""The shipped copy of the filing must match ../shared/spec (when that folder exists)."""
from __future__ import annotations

import pytest

from anxin.knowledge import filing
from tests.conftest import SHARED_SPEC


@pytest.mark.parametrize("name", filing.FILING_FILES)
def test_shipped_filing_has_not_drifted(name: str) -> None:
    if not SHARED_SPEC.is_dir():
        pytest.skip("../shared/spec is not beside this checkout")
    shipped = (filing.DATA_DIR / name).read_bytes()
    assert shipped == (SHARED_SPEC / name).read_bytes(), f"knowledge/data/{name} differs from ../shared/spec/{name}: copy it again"


def test_catalog_lists_ten_products_with_unique_ids() -> None:
    ids = list(filing.products())
    assert len(ids) == 10 and len(set(ids)) == 10
    assert filing.product("med-100")["id"] == "MED-100"
    assert filing.product("NOPE") is None


def test_clause_ids_follow_the_filing_conventions() -> None:
    ids = filing.product_section_ids("MED-100")
    assert "MED-100-WAITING" in ids and "MED-100-COV-GEN_MED" in ids and "MED-100-EXC-02" in ids
    assert len(ids) == len(set(ids))
    assert "GEN-COOLING-OFF" in filing.general_clause_ids()
    uw = filing.underwriting_clause_ids()
    assert "UW-THY-02" in uw and "EX-THYROID" in uw and "UW-COMB-CAP" in uw
