"""Recognise contract and product names inside a query.

Customers name the contract they hold ("我的安心百万医疗", "Guardian critical
illness", "MED-100", a full contract title). A mention boosts that document's
passages in retrieval. Names come from the catalog (names, product types, ids)
and from the titles of every ingested document, so an insurer's own wordings are
recognised the same way as ours.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from anxin.knowledge.text import normalise

_NOISE = re.compile(r"[\s《》〈〉“”\"'‘’()（）\[\]【】·,，.。:：;；!！?？_\-—/]+")
_GENERIC_SUFFIXES = ("产品条款", "保险条款", "条款", "policy wording", "wording", "terms")
_GENERIC_NAMES = {"保险", "insurance", "条款", "policy"}


def squash(text: str) -> str:
    """Lower-cased text without spaces and punctuation, for substring matching."""
    return _NOISE.sub("", normalise(text))


def _core(name: str) -> str:
    core = squash(name)
    for suffix in _GENERIC_SUFFIXES:
        s = squash(suffix)
        if core.endswith(s) and len(core) - len(s) >= 4:
            core = core[: -len(s)]
    return core


@dataclass(frozen=True)
class NameEntry:
    """A name and the document keys (doc ids) it points at."""

    name: str
    core: str
    docs: tuple[str, ...]
    exact_only: bool = False  # ids and short aliases must appear verbatim


CONDITION = "<health-condition>"  # pseudo document: the query declares a health condition


def condition_names(cond_id: str, cond: dict) -> list[str]:
    """How a condition may be written: its zh/en names and their parts, and its id in words."""
    out = [cond_id.replace("_", " ")]
    for lang in ("zh", "en"):
        name = (cond.get("name") or {}).get(lang, "")
        out += [name] + [p.strip() for p in re.split(r"[（）()/／]", name)]
    return [n for n in dict.fromkeys(out) if len(squash(n)) >= (2 if re.search(r"[\u4e00-\u9fff]", n) else 4)]


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


class NameIndex:
    """All known names; :meth:`match` returns ``{doc: strength}`` for a query."""

    def __init__(self, entries: list[NameEntry]) -> None:
        self.entries = [e for e in entries if e.core and e.core not in _GENERIC_NAMES]
        # Character-bigram inverted index: only names sharing enough bigrams with the
        # query are compared character by character (thousands of titles stay cheap).
        self._grams: list[set[str]] = [_bigrams(e.core) for e in self.entries]
        self._postings: dict[str, list[int]] = {}
        for n, grams in enumerate(self._grams):
            for g in grams:
                self._postings.setdefault(g, []).append(n)
        self._short = [n for n, grams in enumerate(self._grams) if not grams]

    @classmethod
    def build(cls, titles: dict[str, set[str]], catalog_products: list[dict] | None = None,
              aliases: dict[str, list[str]] | None = None,
              conditions: dict[str, dict] | None = None) -> "NameIndex":
        """``titles``: doc id → titles of its documents; products add names, types and ids;
        ``aliases``: product id → what customers call it (matched verbatim);
        ``conditions``: underwriting conditions, whose names point at :data:`CONDITION`."""
        entries: list[NameEntry] = []
        for cond_id, cond in (conditions or {}).items():
            for name in condition_names(cond_id, cond):
                entries.append(NameEntry(name, squash(name), (CONDITION,), exact_only=True))
        for pid, words in (aliases or {}).items():
            for word in words:
                entries.append(NameEntry(word, squash(word), (pid,), exact_only=True))
        for doc, names in titles.items():
            for title in names:
                entries.append(NameEntry(title, _core(title), (doc,)))
            entries.append(NameEntry(doc, squash(doc), (doc,), exact_only=True))
        for p in catalog_products or []:
            pid = p["id"]
            for lang in ("zh", "en"):
                for field in ("name", "product_type"):
                    value = (p.get(field) or {}).get(lang)
                    if value:
                        entries.append(NameEntry(value, _core(value), (pid,), exact_only=field == "product_type"))
        return cls(entries)

    def match(self, query: str) -> dict[str, float]:
        """Documents named in the query with a strength in (0, 1]."""
        return self.find(query)[0]

    def find(self, query: str) -> tuple[dict[str, float], str]:
        """Documents named in the query, and the squashed query with those names cut out
        (so words inside a product's name are not read as the customer's question)."""
        q = squash(query)
        found: dict[str, float] = {}
        spans: list[tuple[int, int]] = []
        if not q:
            return found, q
        shared: dict[int, int] = {}
        for g in _bigrams(q):
            for n in self._postings.get(g, ()):
                shared[n] = shared.get(n, 0) + 1
        # a full name shares all its bigrams; a fuzzy match of >= 4 characters shares >= 3
        candidates = [n for n, c in shared.items() if c >= min(3, len(self._grams[n]))] + self._short
        for n in candidates:
            entry = self.entries[n]
            core = entry.core
            at = q.find(core)
            if at >= 0:
                strength, span = 1.0, (at, at + len(core))
            elif entry.exact_only or len(core) < 4:
                continue
            else:
                m = SequenceMatcher(None, core, q, autojunk=False).find_longest_match(0, len(core), 0, len(q))
                if m.size < 4:
                    continue
                strength, span = m.size / len(core), (m.b, m.b + m.size)
                if strength < 0.5:
                    continue
            spans.append(span)
            for doc in entry.docs:
                found[doc] = max(found.get(doc, 0.0), strength)
        keep = [True] * len(q)
        for a, b in spans:
            for i in range(a, b):
                keep[i] = False
        return found, "".join(c if k else " " for c, k in zip(q, keep))
