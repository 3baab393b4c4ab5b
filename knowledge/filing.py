"""The insurer's filing: catalog, underwriting rules and demo data, loaded once.

The project ships its own copy under ``knowledge/data``; an insurer can point
``ANXIN_FILING_DIR`` at a folder holding its own ``catalog.yaml``,
``underwriting.yaml`` and ``demo_data.yaml``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
FILING_FILES = ("catalog.yaml", "underwriting.yaml", "demo_data.yaml")


def filing_dir() -> Path:
    """Folder holding the filing YAML files (``ANXIN_FILING_DIR`` or the shipped copy)."""
    return Path(os.environ.get("ANXIN_FILING_DIR") or DATA_DIR)


@lru_cache(maxsize=8)
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_catalog() -> dict[str, Any]:
    """The product catalog (``catalog.yaml``) as plain Python data."""
    return _load(str(filing_dir() / "catalog.yaml"))


def load_underwriting() -> dict[str, Any]:
    """The pre-underwriting rules (``underwriting.yaml``)."""
    return _load(str(filing_dir() / "underwriting.yaml"))


def load_demo_data() -> dict[str, Any]:
    """Demo customers, policies and claims (``demo_data.yaml``)."""
    return _load(str(filing_dir() / "demo_data.yaml"))


def product_aliases() -> dict[str, list[str]]:
    """Customer names for products (``product_aliases.yaml`` of the filing, else the shipped one;
    empty when an insurer's filing has none)."""
    path = filing_dir() / "product_aliases.yaml"
    if not path.exists():
        path = DATA_DIR / "product_aliases.yaml" if filing_dir() == DATA_DIR else path
    return dict(_load(str(path))) if path.exists() else {}


def products() -> dict[str, dict[str, Any]]:
    """Products keyed by id, in catalog order."""
    return {p["id"]: p for p in load_catalog()["products"]}


def product(product_id: str) -> dict[str, Any] | None:
    """One product's catalog entry, or None when the id is unknown (case-insensitive)."""
    return products().get(product_id.strip().upper()) if product_id else None


def product_section_ids(product_id: str) -> list[str]:
    """Every citable clause id of a product's wording, in reading order.

    Built from ``general.clause_ids``: the product sections, one per coverage
    (``<ID>-COV-<code>``) and one per exclusion (its own ``id``), plus the
    sections every wording carries (agreement, definitions, claims procedure,
    grace and lapse, cancellation, genetic-data statement).
    """
    p = products()[product_id]
    pid = p["id"]
    ids = [f"{pid}-AGREEMENT", f"{pid}-DEFINITIONS", f"{pid}-ELIGIBILITY"]
    ids += [f"{pid}-COV-{c['code']}" for c in p.get("coverages", [])]
    ids += [f"{pid}-WAITING", f"{pid}-DEDUCTIBLE", f"{pid}-BENEFIT-PERIOD"]
    ids += [e["id"] for e in p.get("exclusions", [])]
    ids += [f"{pid}-CLAIM-PROCEDURE", f"{pid}-CLAIM-DOCS", f"{pid}-CLAIM-SETTLEMENT"]
    ids += [f"{pid}-COOLING-OFF", f"{pid}-RENEWAL", f"{pid}-GRACE", f"{pid}-CANCELLATION"]
    ids += [f"{pid}-GENETIC", f"{pid}-RATING"]
    return ids


def general_clause_ids() -> list[str]:
    """The ``GEN-*`` clause ids of the general terms, plus the HBB programme clause."""
    return list(load_catalog()["general"]["clause_ids"]["general"]) + ["PRG-HBB"]


def rule_nodes(uw: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping in an underwriting document that carries a ``rule_id``, in file order."""
    if isinstance(uw, dict):
        rid = uw.get("rule_id")
        if isinstance(rid, str):
            yield rid, uw
        for value in uw.values():
            yield from rule_nodes(value)
    elif isinstance(uw, list):
        for value in uw:
            yield from rule_nodes(value)


def underwriting_clause_ids(uw: dict[str, Any] | None = None) -> list[str]:
    """Every rule id (``UW-...``, in order of first appearance) and then every exclusion
    clause id (``EX-...``) of underwriting.yaml, or of the given underwriting document."""
    uw = load_underwriting() if uw is None else uw
    ids = list(dict.fromkeys(rid for rid, _ in rule_nodes(uw)))
    return ids + [k for k in uw.get("exclusion_clauses", {}) if k not in ids]
