"""Policy answers built from retrieved clauses (extractive, deterministic).

The sentences of the best clauses that share most words with the question are quoted
and the clauses cited. An answer is refused (``None``: the advisor says it does not
know and offers a human) when no retrieved clause is relevant enough: the dense
similarity of the best clause and its word overlap with the question are both low.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anxin.knowledge.text import tokenize

#: Relevance floor: a clause counts when its dense cosine reaches SIM_FLOOR or when
#: OVERLAP_FLOOR of the question's word weight (IDF) occurs in it. Chosen on the
#: project's 226 own questions (95% answered) against 21 questions the wordings cannot
#: answer (11 refused); see the closing note of issue 4.
SIM_FLOOR = 0.86
OVERLAP_FLOOR = 0.35
#: Longest answer quoted from clauses (characters).
MAX_CHARS = 320

_STOP = set("""的 了 吗 呢 么 是 我 你 您 他 她 它 们 这 那 在 有 和 与 及 或 就 都 也 还 又 要 会 能 可以 可 吧 啊 呀 请问 请 问 一下 下 什么 怎么 怎样 如何 多少 哪些 哪个 为什么 是否 保险 产品
a an the is are was were be been do does did i me my you your we our it its of to in on for with and or if
what how when which who can could would should will shall may might please tell about this that there any much many""".split())

_SENT = re.compile(r"[^。；;！？!?\n]+[。；;！？!?]?|[^\n]+")
_HOW_LONG = re.compile(r"多久|多长|几天|多少天|多少|几个|how long|how many|how much|what is the (?:limit|amount)", re.I)


@dataclass
class Answer:
    """The quoted sentences and the clauses they come from."""

    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    relevance: float = 0.0


def content_tokens(text: str) -> set[str]:
    """Question words that carry meaning (stop words and single Latin letters dropped)."""
    return {tok for tok in tokenize(text) if tok not in _STOP and not re.fullmatch(r"[a-z]|\W+", tok)}


_IDF_CACHE: dict[int, tuple[dict[str, float], float]] = {}


def corpus_idf(searcher: Any) -> Callable[[str], float]:
    """Inverse document frequency of a word over the searcher's clauses (words the
    corpus never uses get the highest weight: a question about them cannot be answered
    from it). Cached per index snapshot."""
    snap = searcher.snapshot()
    key = id(snap)
    if key not in _IDF_CACHE:
        df: dict[str, int] = {}
        for text, meta in zip(snap.texts, snap.metas):
            for tok in set(tokenize(f"{meta.get('heading', '')} {text}")):
                df[tok] = df.get(tok, 0) + 1
        n = max(1, len(snap.texts))
        table = {tok: math.log(1 + n / c) for tok, c in df.items()}
        _IDF_CACHE.clear()
        _IDF_CACHE[key] = (table, math.log(1 + n))
    table, unseen = _IDF_CACHE[key]
    return lambda tok: table.get(tok, unseen)


def relevance(question_tokens: set[str], hit: dict[str, Any],
              idf: Callable[[str], float] | None = None) -> tuple[float, float]:
    """(share of the question's word weight found in the clause, dense similarity).
    With ``idf`` the share is weighted, so rare, specific words decide."""
    sim = float(hit.get("similarity") or 0.0)
    if not question_tokens:
        return 0.0, sim
    clause_tokens = content_tokens(f"{hit.get('heading', '')} {hit.get('text', '')}")
    weight = idf or (lambda _t: 1.0)
    total = sum(weight(t) for t in question_tokens)
    found = sum(weight(t) for t in question_tokens & clause_tokens)
    return (found / total if total else 0.0), sim


def _relevant(overlap: float, sim: float) -> bool:
    return overlap >= OVERLAP_FLOOR or sim >= SIM_FLOOR


def clean_heading(heading: str, clause_id: str) -> str:
    """A clause heading without its leading clause id (``MED-100-WAITING 等待期`` -> ``等待期``)."""
    h = (heading or "").strip()
    if clause_id and h.upper().startswith(clause_id.upper()):
        h = h[len(clause_id):].strip(" :：-—")
    return h or clause_id


def _sentences(text: str) -> list[str]:
    body = re.sub(r"^#+.*$", "", text, flags=re.M)          # drop Markdown headings
    body = re.sub(r"\*\*|__|`", "", body)                     # and emphasis marks
    return [s.strip(" -*\t") for s in _SENT.findall(body) if len(s.strip(" -*\t")) >= 4]


def best_sentences(question: str, text: str, limit: int = 2, q: set[str] | None = None) -> list[str]:
    """The clause sentences that best answer the question, in the clause's order
    (``q``: the question's words, when the caller already removed the uninformative ones)."""
    q = content_tokens(question) if q is None else q
    wants_number = bool(_HOW_LONG.search(question))
    sents = _sentences(text)
    if not sents:
        return []
    scored = []
    for i, s in enumerate(sents):
        toks = content_tokens(s)
        score = len(q & toks) + (1.0 if wants_number and re.search(r"\d|[一二三四五六七八九十百千万]", s) else 0.0)
        score += 0.3 if i == 0 else -0.001 * i              # the opening sentence states the rule
        scored.append((score, i))
    top = sorted(scored, reverse=True)[:limit]
    keep = sorted(i for score, i in top if score > 0) or [0]
    out, size = [], 0
    for i in keep:
        if size + len(sents[i]) > MAX_CHARS and out:
            break
        out.append(sents[i])
        size += len(sents[i])
    return out


def answer_from_clauses(question: str, results: list[dict[str, Any]], lang: str,
                        idf: Callable[[str], float] | None = None, ignore: set[str] | None = None) -> Answer | None:
    """An extractive answer from the retrieved clauses, or None when none is relevant.
    ``ignore``: words that say nothing about the answer (the product's own name when
    the search was already limited to that product)."""
    results = [r for r in results if r.get("clause_id")]
    if not results:
        return None
    q = content_tokens(question) - (ignore or set())
    top = results[0]
    overlap, sim = relevance(q, top, idf)
    if not _relevant(overlap, sim):
        return None
    if _GENERIC_EXCLUSION.search(question):
        siblings = [h for h in results if re.search(r"-EXC-\d+$", str(h.get("clause_id", "")))]
        if len(siblings) >= 2:
            return _list_answer(siblings, lang, max(overlap, sim))
    cited = [top]
    # A second clause of the same product (or a general clause) that is also relevant.
    for hit in results[1:3]:
        o2, s2 = relevance(q, hit, idf)
        same = hit.get("product_id") == top.get("product_id") or str(hit.get("clause_id", "")).startswith("GEN-")
        if same and _relevant(o2, s2) and o2 >= 0.6 * overlap and o2 > 0:
            cited.append(hit)
            break
    parts = []
    for hit in cited:
        sents = best_sentences(question, hit.get("text", ""), limit=2 if hit is top else 1, q=q)
        if not sents:
            continue
        quote = ("".join(sents) if lang == "zh" else " ".join(sents))
        heading = clean_heading(hit.get("heading", ""), hit.get("clause_id", ""))
        if lang == "zh":
            parts.append(f"根据条款【{heading}】（{hit.get('clause_id')}）：{quote}")
        else:
            parts.append(f"Under \"{heading}\" ({hit.get('clause_id')}): {quote}")
    if not parts:
        return None
    return Answer(text="\n".join(parts), citations=cited, relevance=max(overlap, sim))


_GENERIC_EXCLUSION = re.compile(
    r"(?:哪些|什么|有啥|都有).{0,6}(?:不赔|不保|除外|免除|免责)|(?:除外责任|责任免除|免责条款)(?:有哪些|是什么|包括)?"
    r"|\bwhat\b.{0,40}\b(?:exclude|excluded|exclusions|not covered)\b|\bexclusions?\b.{0,10}\?|\blist\b.{0,20}\bexclusions\b",
    re.I)


def _list_answer(hits: list[dict[str, Any]], lang: str, rel: float) -> Answer:
    """The headings of several clauses of one family (e.g. all the exclusions retrieved)."""
    lines = ["主要的责任免除情形包括：" if lang == "zh" else "The main exclusions include:"]
    for h in hits:
        first = (best_sentences(h.get("heading", ""), h.get("text", ""), limit=1) or [""])[0]
        head = clean_heading(h.get("heading", ""), h.get("clause_id", ""))
        lines.append(f"- {head}（{h.get('clause_id')}）：{first}" if lang == "zh"
                     else f"- {head} ({h.get('clause_id')}): {first}")
    return Answer(text="\n".join(lines), citations=hits, relevance=rel)
