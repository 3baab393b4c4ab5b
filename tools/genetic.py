"""Genetic data is refused everywhere: one matcher for the filing's lists of prohibited keys.

catalog.yaml (``general.genetic_data_policy``, for quotes) and underwriting.yaml
(``genetic_data``, for declarations) each file their own list of names and substrings;
both are applied the same way, case-insensitively.
"""
from __future__ import annotations

from typing import Any, Iterable


def is_prohibited(name: Any, listed: Iterable[str], substrings: Iterable[str]) -> bool:
    """Whether ``name`` is one of ``listed`` or contains one of ``substrings`` (case-insensitive)."""
    if not isinstance(name, str):
        return False
    n = name.strip().casefold()
    return n in {x.casefold() for x in listed} or any(s.casefold() in n for s in substrings)
