"""Customer phrasing → policy vocabulary, from ``data/query_lexicon.yaml``."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from anxin.knowledge.names import squash

LEXICON = Path(__file__).resolve().parent / "data" / "query_lexicon.yaml"


@lru_cache(maxsize=1)
def _rules() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    data = yaml.safe_load(LEXICON.read_text(encoding="utf-8")) or {}
    rules = []
    for lang_rules in data.values():
        for rule in lang_rules:
            rules.append((tuple(squash(w) for w in rule["when"]), tuple(rule["add"])))
    return rules


def expansion_terms(query: str, squashed: str | None = None) -> list[str]:
    """Policy terms to add for the customer phrases found in ``query`` (no duplicates).

    ``squashed`` is the query already squashed (and stripped of product names, see
    :meth:`NameIndex.find`); phrases are matched without spaces or punctuation.
    """
    q = squash(query) if squashed is None else squashed
    out: list[str] = []
    for phrases, add in _rules():
        if any(p in q for p in phrases):
            out += [t for t in add if t not in out and squash(t) not in q]
    return out


def expand(query: str, squashed: str | None = None) -> str:
    """The query with its expansion terms appended."""
    terms = expansion_terms(query, squashed)
    return f"{query} {' '.join(terms)}" if terms else query


CUES = Path(__file__).resolve().parent / "data" / "section_cues.yaml"


@lru_cache(maxsize=1)
def _cues() -> list[tuple[str, tuple[str, ...]]]:
    data = yaml.safe_load(CUES.read_text(encoding="utf-8")) or {}
    return [(suffix, tuple(squash(p) for lang in langs.values() for p in lang)) for suffix, langs in data.items()]


def section_hints(squashed_query: str) -> set[str]:
    """Clause-id suffixes (``WAITING``, ``COOLING-OFF``…) the question asks about."""
    return {suffix for suffix, phrases in _cues() if any(p and p in squashed_query for p in phrases)}
