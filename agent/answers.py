"""Policy answers built from retrieved clauses (extractive, deterministic).

The sentences of the best clauses that answer the question are quoted and the clauses
cited. An answer is refused (``None``: the advisor says it does not know and offers a
human) when no retrieved clause is relevant enough: the dense similarity of the best
clause and its word overlap with the question are both low.

How the quote is chosen:

* the question is cut into its sub-questions (``犹豫期是几天？退保扣钱吗`` asks two
  things) and each gets the clause sentence that answers it best;
* a sentence scores by the IDF weight of the question words it contains, plus (at half
  weight) the policy terms the query lexicon maps the customer's words to
  (``knowledge/data/query_lexicon.yaml``: "nose job" → cosmetic, plastic surgery);
  a sentence with the kind of number asked for (days, times, an amount, an age) scores
  higher, and the question of a FAQ pair lends its words to the answer that follows it;
* a sentence that introduces a list (ends with a colon) brings the list items that
  match the question, or the whole list, compactly, when the question asks which
  documents are needed; a table row is quoted with its column names;
* when the best clause is an exclusion and the question asks whether something is
  covered, the answer says first that it is not covered, unless the question is about
  an exception the clause itself makes (``本责任免除不适用于…``).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from anxin.knowledge.text import tokenize

#: Relevance floor: a clause counts when its dense cosine reaches SIM_FLOOR or when
#: OVERLAP_FLOOR of the question's word weight (IDF) occurs in it. Chosen on the
#: project's 226 own questions (95% answered) against 21 questions the wordings cannot
#: answer (11 refused); see the closing note of issue 4.
SIM_FLOOR = 0.86
OVERLAP_FLOOR = 0.35
#: When the search's first clause is not relevant, one of the next two still answers
#: when this share of the question's word weight occurs in it.
FALLBACK_OVERLAP = 0.5
#: Longest answer quoted from clauses (characters; English says the same in more).
MAX_CHARS = 320
MAX_CHARS_EN = 480
#: Longest quote of a whole list (the claim documents a question asks for).
MAX_LIST_CHARS = 640
#: Weight of a lexicon term (policy vocabulary for the customer's words) against a
#: word the customer used.
EXPANSION_WEIGHT = 0.5

_STOP = set("""的 了 吗 呢 么 是 我 你 您 他 她 它 们 这 那 在 有 和 与 及 或 就 都 也 还 又 要 会 能 可以 可 吧 啊 呀 请问 请 问 一下 下 什么 怎么 怎样 如何 多少 哪些 哪个 为什么 是否 保险 产品
a an the is are was were be been do does did i me my you your we our it its of to in on for with and or if
what how when which who can could would should will shall may might please tell about this that there any much many""".split())

_SENT = re.compile(r"[^。；;！？!?\n]+[。；;！？!?]?|[^\n]+")
# An English sentence ends with a full stop followed by a capital (or an opening bracket).
_EN_STOP = re.compile(r"(?<=[a-z0-9%)\]\"'’]\.)\s+(?=[A-Z(\"“])")
_HOW_LONG = re.compile(r"多久|多长|几天|多少天|多少|几个|how long|how many|how much|what is the (?:limit|amount)", re.I)

#: What kind of number a (sub-)question asks for, and how a sentence states one.
_ASKS = {
    "days": re.compile(r"多久|多长|几天|多少天|几个月|几年|哪天|什么时候|how long|how many (?:days|months|years)|how soon|when\b", re.I),
    "times": re.compile(r"几次|多少次|how many times|how often", re.I),
    "amount": re.compile(r"多少|几成|比例|上限|限额|最高|how much|what (?:percentage|share|proportion)|\blimit\b|up to|maximum|\bamount\b", re.I),
    "age": re.compile(r"几岁|多大|年龄|岁数|how old|what age|which age", re.I),
}
_STATES = {
    "days": re.compile(r"\d+\s*(?:天|日|个月|年|小时|分钟)|[一二两三四五六七八九十百]+(?:天|日|个月|年)|\d+[- ]?(?:days?|months?|years?|hours?|minutes?)\b", re.I),
    "times": re.compile(r"\d+\s*次|[一二两三四五六七八九十]次|\d+\s*times|\b(?:once|twice)\b", re.I),
    "amount": re.compile(r"\d[\d,.]*\s*(?:%|％|元|万|percent)|\d{1,3}(?:,\d{3})+|\d{4,}|\d+\s*成", re.I),
    "age": re.compile(r"\d+\s*(?:周岁|岁)|\baged?\s+\d+|\d+\s*years?\s+old|\bage\b.{0,20}\bbirthday|周岁", re.I),
}
_CONTINUES = re.compile(r"^(?:instead|however|in that case|otherwise|but\b|then\b|但|但是|而是|此时|届时|否则|不过)", re.I)
_ANY_NUMBER = re.compile(r"\d|[一二两三四五六七八九十百千万]")
_EXAMPLE = re.compile(r"^\s*(?:举例|例如|比如|示例|for example|e\.g\.|example)", re.I)
#: A question that asks which documents (materials) are needed: the whole list answers it.
_DOCS = re.compile(
    r"材料|资料|单据|文件|证件|证明|要带什么|准备什么|准备啥|提供什么|交什么|寄什么"
    r"|documents?|paperwork|forms?\b|proof|what (?:do|should|must) (?:i|we) (?:need to )?(?:send|provide|submit|bring|prepare)",
    re.I)
#: A question whether something is covered / paid (a yes-or-no about cover).
_COVER_Q = re.compile(
    r"赔不赔|赔吗|能赔|会赔|可以赔|给赔|赔付吗|理赔吗|能理赔|报不报|能报|可以报|报销吗|保不保|能保|保吗|管不管|管吗|负责吗"
    r"|算不算保险|保障范围|承保吗|包括吗|包含吗|赔偿吗|给付吗"
    r"|\b(?:am i|are we|are they|is (?:it|this|that|he|she|my|the)|does|do|will|would|can|could|should)\b.{0,120}"
    r"\b(?:cover\w*|pay|pays|paid|payout|pay out|reimburs\w*|compensat\w*)\b|\b(?:still )?covered\b", re.I)
#: Words that only say "is it covered": left out when weighing an exclusion against its exceptions.
_COVER_WORDS = {t for w in ("cover covered coverage pay paid payout reimburse compensate claim benefit insurance policy "
                            "赔 赔付 理赔 报 报销 保 保障 管 负责 承保 赔偿 给付 保险金 保险").split() for t in tokenize(w)}
#: An exclusion's own exception ("does not apply to …", "remains covered").
_EXCEPTION = re.compile(
    r"不适用于|不受本|不属于本(?:条|责任免除)|仍(?:然)?(?:属于|予|按|负责|承担|在保障|可获得)|仍属|照常"
    r"|does not apply|do not apply|not affected by|remains? covered|still covered|is covered in full|are covered", re.I)
_DOC_CODE = re.compile(r"\*\*DOC-[A-Z0-9-]+\*\*\s*|\s*[（(]DOC-[A-Z0-9-]+[)）]|\bDOC-[A-Z0-9-]+\s*")


@dataclass
class Answer:
    """The quoted sentences and the clauses they come from."""

    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    relevance: float = 0.0


#: English forms the stemmer leaves apart that mean the same for matching.
_SAME = {"paid": "pay", "payment": "pay", "repaid": "repay"}


def content_tokens(text: str) -> set[str]:
    """Question words that carry meaning (stop words and single Latin letters dropped)."""
    return {_SAME.get(tok, tok) for tok in tokenize(text) if tok not in _STOP and not re.fullmatch(r"[a-z]|\W+", tok)}


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


# --------------------------------------------------------------------------- lexicon

@lru_cache(maxsize=1)
def _lexicon() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(customer phrases, policy terms) of the query lexicon, phrases squashed."""
    try:
        import yaml

        from anxin.knowledge.names import squash
        from anxin.knowledge.query_expansion import LEXICON

        data = yaml.safe_load(LEXICON.read_text(encoding="utf-8")) or {}
    except Exception:  # noqa: BLE001 - answers still work on the question's own words
        return []
    rules = []
    for lang_rules in data.values():
        for rule in lang_rules or []:
            rules.append((tuple(squash(str(w)) for w in rule.get("when") or []),
                          tuple(str(t) for t in rule.get("add") or [])))
    return rules


def lexicon_terms(text: str) -> tuple[set[str], set[str]]:
    """(words of the customer phrases the lexicon recognises in ``text``, the words of
    the policy terms it maps them to)."""
    rules = _lexicon()
    if not rules:
        return set(), set()
    from anxin.knowledge.names import squash

    q = squash(text)
    phrase_tokens: set[str] = set()
    terms: set[str] = set()
    for phrases, add in rules:
        hit = [p for p in phrases if p and p in q]
        if not hit:
            continue
        for p in hit:
            phrase_tokens |= content_tokens(p)
        for t in add:
            terms |= content_tokens(t)
    return phrase_tokens, terms


# --------------------------------------------------------------------------- relevance

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


@dataclass
class _Query:
    """The question's words and the lexicon's policy terms for them, whole and per sub-question."""

    tokens: set[str]
    rewritten: set[str]                       # customer phrases replaced by policy terms
    phrase_tokens: set[str]                   # words of the customer phrases the lexicon recognised
    terms: set[str]                           # the policy terms it maps them to
    parts: list[tuple[str, set[str], set[str]]]  # (text, words, lexicon terms)
    weight: Callable[[str], float]


def _split_question(question: str) -> list[str]:
    """The sub-questions of a question (``等待期多长？等待期里确诊怎么办`` → 2)."""
    pieces = re.split(r"[？?！!。；;\n]+|(?<=[a-z])\.\s+(?=[A-Z])|,?\s+(?:and|also|plus)\s+(?=(?:how|what|when|which|who|whom|can|could|do|does|did|is|are|will|would|should|if|am)\b)"
                      r"|[，,]\s*(?:还有|另外|以及|并且|而且|那么?|同时)", question, flags=re.I)
    return [p.strip(" ，,、") for p in pieces if p and p.strip(" ，,、")]


#: Words that only ask for a number or a yes/no ("几次", "多久", "how many"): the kind of
#: answer they want is scored separately (_ASKS), the words themselves match nothing.
_QWORDS = {t for w in ("几次 几天 几年 几个 几个月 几成 几岁 多久 多长 多长时间 多大 多少钱 多少天 多少次 能不能 可不可以 "
                       "算不算 是不是 有没有 要不要 会不会 怎么办 how many much long often soon old need").split()
           for t in tokenize(w)}


def _with_bigrams(words: set[str]) -> set[str]:
    """Words plus the character pairs of longer Chinese words (``那中症`` → ``中症``): a word
    the segmenter glued to its neighbour still matches. Only used to choose sentences,
    where words a clause does not have are left out anyway."""
    out = set(words)
    for w in words:
        if len(w) >= 3 and re.fullmatch(r"[\u4e00-\u9fff]+", w):
            out |= {w[i:i + 2] for i in range(len(w) - 1)}
    return out


def _query(question: str, idf: Callable[[str], float] | None, ignore: set[str] | None) -> _Query:
    ignore = ignore or set()
    tokens = content_tokens(question) - ignore
    phrase_tokens, terms = lexicon_terms(question)
    terms -= ignore
    rewritten = (tokens - phrase_tokens) | terms
    parts = []
    for piece in _split_question(question):
        words = _with_bigrams(content_tokens(piece)) - ignore - _QWORDS
        _, part_terms = lexicon_terms(piece)
        if words or part_terms or any(a.search(piece) for a in _ASKS.values()):
            parts.append((piece, words, (part_terms - ignore) - words))
    if not parts:
        parts = [(question, tokens - _QWORDS, terms - tokens)]
    # a later sub-question goes on about the subject of the one before ("轻症赔多少？能赔几次")
    for n in range(1, len(parts)):
        piece, words, part_terms = parts[n]
        parts[n] = (piece, words, part_terms | (parts[n - 1][1] - words))
    return _Query(tokens=tokens, rewritten=rewritten, phrase_tokens=phrase_tokens, terms=terms - tokens,
                  parts=parts, weight=idf or (lambda _t: 1.0))


def _relevance(query: _Query, hit: dict[str, Any]) -> tuple[float, float]:
    """Relevance of a clause: the question's own words, or the question read with the
    lexicon's policy terms for the customer phrases it recognised. Read that way, a
    recognised phrase's words count only where the clause has them (they were
    translated), and the policy terms, alternatives of one another, count fully when
    the clause has half of their weight."""
    overlap, sim = relevance(query.tokens, hit, query.weight)
    if query.terms:
        clause = content_tokens(f"{hit.get('heading', '')} {hit.get('text', '')}")
        w = query.weight
        own = query.tokens - query.phrase_tokens
        opt = query.tokens & query.phrase_tokens & clause
        half = 0.5 * sum(w(t) for t in query.terms)
        found = sum(w(t) for t in own & clause) + sum(w(t) for t in opt) + min(half, sum(w(t) for t in query.terms & clause))
        total = sum(w(t) for t in own) + sum(w(t) for t in opt) + half
        if total > 0:
            overlap = max(overlap, found / total)
    return overlap, sim


# --------------------------------------------------------------------------- clause units

def clean_heading(heading: str, clause_id: str) -> str:
    """A clause heading without its leading clause id (``MED-100-WAITING 等待期`` -> ``等待期``)."""
    h = (heading or "").strip()
    if clause_id and h.upper().startswith(clause_id.upper()):
        h = h[len(clause_id):].strip(" :：-—")
    return h or clause_id


@dataclass
class _Unit:
    """A quotable piece of a clause: a sentence, a list item or a table row."""

    idx: int
    text: str
    kind: str = "sent"              # sent | item | row | question
    intro: int | None = None        # the sentence that introduces this item's list / row's table
    items: list[int] = field(default_factory=list)   # for an intro: its list items or table rows
    header: list[str] = field(default_factory=list)  # for a row: the column names
    tokens: set[str] = field(default_factory=set)
    aux: set[str] = field(default_factory=set)       # words lent by a FAQ question / column names / the intro


def _strip_marks(text: str) -> str:
    return re.sub(r"\*\*|__|`", "", text).strip(" -*\t")


def _split_sentences(line: str) -> list[str]:
    out = []
    for s in _SENT.findall(line):
        out += _EN_STOP.split(s) if re.search(r"[A-Za-z]{3}", s) else [s]
    return [s.strip() for s in out if s.strip()]


def _units(text: str) -> list[_Unit]:
    """The clause as quotable units, with lists attached to the sentence introducing them."""
    units: list[_Unit] = []
    last_sent: int | None = None      # the latest plain sentence (a list's intro when it ends with a colon)
    list_intro: int | None = None
    table: list[str] | None = None
    table_intro: int | None = None
    pending_q: set[str] = set()       # words of a FAQ question, lent to the next sentence
    for raw in text.splitlines():
        line = raw.strip()
        if not line or re.match(r"^#+\s", line):
            table = None
            continue
        if line.startswith("|"):
            cells = [_strip_marks(c) for c in line.strip("|").split("|")]
            if table is None:
                table = cells
                table_intro = last_sent if last_sent is not None and units[last_sent].text.rstrip().endswith((":", "：")) else None
                continue
            if all(re.fullmatch(r":?-{2,}:?", c.strip()) for c in cells if c.strip()):
                continue
            u = _Unit(idx=len(units), text=" | ".join(cells), kind="row", intro=table_intro, header=table)
            u.tokens = content_tokens(" ".join(cells))
            u.aux = content_tokens(" ".join(table))
            units.append(u)
            if table_intro is not None:
                units[table_intro].items.append(u.idx)
            continue
        table = None
        m = re.match(r"^(?:[-*•]\s+|\d+[.)、]\s*|[（(][a-z0-9一二三四五六七八九十]+[)）]\s*)", line)
        if m and (line[0] in "-*•" or units):
            body = _strip_marks(line[m.end():] if line[0] in "-*•" else line)
            if len(body) < 2:
                continue
            intro = list_intro
            if intro is None and last_sent is not None and units[last_sent].text.rstrip().endswith((":", "：")):
                intro = last_sent
            list_intro = intro
            u = _Unit(idx=len(units), text=body, kind="item", intro=intro)
            u.tokens = content_tokens(body)
            if intro is not None:
                units[intro].items.append(u.idx)
                u.aux = units[intro].tokens
            units.append(u)
            continue
        list_intro = None
        # a bold lead-in ("**Grace period.** If a premium …") belongs to the sentence after it
        lead = re.match(r"^\*\*([^*]{1,100}?[.。])\*\*\s*(\S.*)$", line)
        if lead:
            sents = _split_sentences(_strip_marks(lead.group(2)))
            if sents:
                sep = " " if re.search(r"[A-Za-z]", lead.group(1)) else ""
                sents[0] = f"{lead.group(1).strip()}{sep}{sents[0]}"
        else:
            sents = _split_sentences(_strip_marks(line))
        merged: list[str] = []
        carry = ""
        for sent in sents:
            if carry:
                sent = carry + (" " if re.search(r"[A-Za-z]", sent) else "") + sent
                carry = ""
            # a very short fragment ("Lapse.") belongs to the sentence after it
            short = len(sent.split()) <= 3 if re.search(r"[A-Za-z]{3}", sent) else len(sent) < 8
            if short and not sent.endswith(("：", ":", "？", "?")) and not re.search(r"\d", sent):
                carry = sent
                continue
            merged.append(sent)
        if carry:
            merged.append(carry)
        for s in merged:
            s = s.strip(" -*\t")
            if len(s) < 4:
                continue
            if s.endswith(("？", "?")):
                pending_q |= content_tokens(s)
                u = _Unit(idx=len(units), text=s, kind="question", tokens=content_tokens(s))
                units.append(u)
                continue
            u = _Unit(idx=len(units), text=s, tokens=content_tokens(s), aux=pending_q)
            pending_q = set()
            units.append(u)
            last_sent = u.idx
    return units


def _sentences(text: str) -> list[str]:
    """The clause's quotable sentences, list items and table rows, in order."""
    return [u.text for u in _units(text) if u.kind != "question"]


# --------------------------------------------------------------------------- choosing what to quote

def _score(unit: _Unit, words: set[str], terms: set[str], piece: str, weight: Callable[[str], float],
           question_has_number: bool, present: set[str] | None = None) -> float:
    """How well a unit answers one sub-question, about 0..1: the share of the weight of
    the question's own words found in the unit (words lent to it count half), with the
    lexicon's policy terms for them as a smaller second share, plus small bonuses (the
    kind of number asked for, the opening sentence). With ``present`` (the clause's
    words) the shares are of the words the clause has at all: words none of its
    sentences contains do not tell them apart."""
    def w(t: str) -> float:
        return weight(t) * (0.25 if t in _COVER_WORDS else 1.0)

    if present is not None:
        words, terms = words & present, terms & present
    terms = terms - words

    def share(ts: set[str]) -> float:
        total = sum(w(t) for t in ts)
        if total <= 0:
            return -1.0
        found = sum(w(t) if t in unit.tokens else 0.5 * w(t) if t in unit.aux else 0.0 for t in ts)
        return found / total

    own, lent = share(words), share(terms)
    if lent > 0:
        lent = min(1.0, 2 * lent)          # the lexicon's terms are alternatives: half of them is a full match
    if own < 0 and lent < 0:
        return 0.0
    score = own if lent < 0 else lent if own < 0 else (1 - EXPANSION_WEIGHT / 2) * own + EXPANSION_WEIGHT / 2 * lent
    if score <= 0:
        return 0.0
    text = unit.text
    for kind, asks in _ASKS.items():
        if asks.search(piece):
            if _STATES[kind].search(text):
                score += 0.25
            elif _ANY_NUMBER.search(text):
                score += 0.05
    if _EXAMPLE.search(text) and not question_has_number:
        score -= 0.1
    if unit.idx == 0:
        score += 0.08                      # the opening sentence states the rule
    if len(text) > 220:
        score -= 0.05
    return score - 0.0005 * unit.idx


def _choose(units: list[_Unit], query: _Query, question: str, limit: int,
            wants_list: bool = False, evidence: set[str] | None = None) -> tuple[list[int], list[float]]:
    """Indices of the units to quote (a list intro stands for its items too) and, per
    sub-question, the best score reached over the words of ``evidence`` (the words of
    all the clauses compared), so that clauses can be compared."""
    cands = [u for u in units if u.kind != "question"]
    if not cands:
        return [], [0.0 for _ in query.parts]
    has_number = bool(re.search(r"\d", question))
    present = set().union(*(u.tokens | u.aux for u in units))
    table = {}
    absolute = {}
    for n, (piece, words, terms) in enumerate(query.parts):
        for u in cands:
            table[(n, u.idx)] = _score(u, words, terms, piece, query.weight, has_number, present)
            absolute[(n, u.idx)] = _score(u, words, terms, piece, query.weight, has_number, evidence)
    best_per_part = [max((absolute[(n, u.idx)] for u in cands), default=0.0) for n in range(len(query.parts))]
    chosen: list[int] = []
    if wants_list:
        intro = next((u.idx for u in units if len(u.items) >= 2 and units[u.items[0]].kind == "item"), None)
        if intro is not None:
            chosen.append(intro)
    for n in range(len(query.parts)):
        ranked = sorted(cands, key=lambda u: -table[(n, u.idx)])
        for u in ranked:
            if table[(n, u.idx)] <= 0:
                break
            if u.idx in chosen or (u.intro is not None and u.intro in chosen and wants_list):
                break
            chosen.append(u.idx)
            break
    # fill up to the limit with the next best units for the question as a whole
    overall = {u.idx: max(table[(n, u.idx)] for n in range(len(query.parts))) for u in cands}
    top = max(overall.values()) if overall else 0.0
    for idx in sorted(overall, key=lambda i: -overall[i]):
        if len(chosen) >= max(limit, 1):
            break
        # the opening sentence states the clause's rule: it frames the answer when there is room
        floor = 0.25 * top if idx == cands[0].idx and cands[0].kind == "sent" else 0.5 * top
        if idx in chosen or overall[idx] <= 0 or overall[idx] < floor:
            continue
        chosen.append(idx)
    if not chosen:
        chosen = [cands[0].idx]
    # a sentence that only goes on from a chosen one ("Instead, we refund …", "但…") comes with it
    for idx in list(chosen):
        nxt = idx + 1
        if (nxt < len(units) and nxt not in chosen and units[idx].kind == "sent" and units[nxt].kind == "sent"
                and _CONTINUES.match(units[nxt].text)):
            chosen.append(nxt)
    return chosen, best_per_part


def _compact_item(text: str, docs: bool) -> str:
    t = _DOC_CODE.sub("", text).strip()
    t = re.sub(r"^(?:and|or)\s+", "", t)
    t = re.sub(r"(?:[;；,，。.]\s*(?:and|or)?\s*)+$", "", t).strip()
    if docs:
        t = re.split(r"[，,](?:\s|(?=[\u4e00-\u9fff]))", t, maxsplit=1)[0].strip()
    return t


def _render(units: list[_Unit], chosen: list[int], query: _Query, lang: str, wants_list: bool,
            scores: dict[int, float], budget: int) -> str:
    """The chosen units in clause order; intros with their (matching) items, rows with
    their column names; within ``budget`` characters (the best units first)."""
    zh = lang == "zh"
    pieces: dict[int, str] = {}
    covered: set[int] = set()
    for idx in chosen:
        u = units[idx]
        if u.kind == "row":
            cells = u.text.split(" | ")
            if u.header and len(u.header) == len(cells):
                pairs = [f"{h}：{c}" if zh else f"{h}: {c}" for h, c in zip(u.header, cells) if h and c]
                pieces[idx] = ("，" if zh else ", ").join(pairs) + ("。" if zh else ".")
            else:
                pieces[idx] = u.text
            continue
        if u.items:
            docs = wants_list and units[u.items[0]].kind == "item"
            if docs:
                items = u.items
            else:
                matched = [i for i in u.items if scores.get(i, 0) > 0]
                if not matched and sum(len(units[i].text) for i in u.items) <= 160:
                    matched = u.items
                items = sorted(matched, key=lambda i: -scores.get(i, 0))[:3]
                items.sort()
            covered |= set(items)
            if items:
                head = u.text.rstrip("：: ")
                if units[items[0]].kind == "row":
                    body = "；".join(_row_text(units[i], zh) for i in items) if zh else "; ".join(_row_text(units[i], zh) for i in items)
                else:
                    parts = [_compact_item(units[i].text, docs) for i in items]
                    body = ("、" if docs else "；").join(parts) if zh else "; ".join(parts)
                pieces[idx] = f"{head}：{body}。" if zh else f"{head}: {body}."
                continue
        if u.kind == "item":
            pieces[idx] = _compact_item(u.text, False) + ("。" if zh else ".")
            continue
        pieces[idx] = u.text
    order = [i for i in chosen if i not in covered]
    kept: list[int] = []
    size = 0
    for i in order:                      # chosen is best-first
        if kept and size + len(pieces[i]) > budget:
            continue
        kept.append(i)
        size += len(pieces[i])
    texts = [pieces[i] for i in sorted(kept)]
    return "".join(texts) if zh else " ".join(texts)


def _row_text(u: _Unit, zh: bool) -> str:
    cells = u.text.split(" | ")
    if u.header and len(u.header) == len(cells):
        return ("，" if zh else ", ").join(f"{h}：{c}" if zh else f"{h}: {c}" for h, c in zip(u.header, cells) if h and c)
    return u.text


def best_sentences(question: str, text: str, limit: int = 2, q: set[str] | None = None,
                   idf: Callable[[str], float] | None = None, lang: str | None = None) -> list[str]:
    """The clause sentences that best answer the question, in the clause's order
    (``q``: the question's words, when the caller already removed the uninformative ones)."""
    query = _query(question, idf, None)
    if q is not None:
        query.tokens = set(q)
        query.parts = [(p, w & q if w & q else w, t) for p, w, t in query.parts]
    units = _units(text)
    chosen, _ = _choose(units, query, question, limit)
    quote = _quote(units, chosen, query, question, lang or ("zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"), False)
    return [quote] if quote else []


def _quote(units: list[_Unit], chosen: list[int], query: _Query, question: str, lang: str, wants_list: bool) -> str:
    has_number = bool(re.search(r"\d", question))
    present = set().union(*(u.tokens | u.aux for u in units)) if units else set()
    scores = {u.idx: max((_score(u, w, t, p, query.weight, has_number, present) for p, w, t in query.parts), default=0.0)
              for u in units}
    budget = MAX_CHARS if lang == "zh" else MAX_CHARS_EN
    return _render(units, chosen, query, lang, wants_list, scores, max(budget, MAX_LIST_CHARS) if wants_list else budget)


# --------------------------------------------------------------------------- exclusions

def _exception_applies(units: list[_Unit], query: _Query) -> int | None:
    """The exception unit of an exclusion clause that the question is about, if any:
    the question shares more weight with the clause's exceptions than with its exclusions."""
    exc_units = set()
    for u in units:
        if u.kind == "question":
            continue
        if _EXCEPTION.search(u.text):
            exc_units.add(u.idx)
            exc_units |= set(u.items)
    if not exc_units:
        return None
    in_exc: set[str] = set()
    in_rule: set[str] = set()
    for u in units:
        if u.kind == "question":
            continue
        (in_exc if u.idx in exc_units else in_rule).update(u.tokens)
    words = query.tokens - _COVER_WORDS
    exc_only = sum(query.weight(t) for t in words & (in_exc - in_rule))
    rule_only = sum(query.weight(t) for t in words & (in_rule - in_exc))
    if exc_only <= rule_only or exc_only <= 0:
        return None
    return max(exc_units, key=lambda i: (sum(query.weight(t) for t in words & units[i].tokens), -i))


def _not_covered_lead(lang: str) -> str:
    return "这种情况不在保障范围内（责任免除）。" if lang == "zh" else "This is not covered (exclusion)."


# --------------------------------------------------------------------------- the answer

def answer_from_clauses(question: str, results: list[dict[str, Any]], lang: str,
                        idf: Callable[[str], float] | None = None, ignore: set[str] | None = None) -> Answer | None:
    """An extractive answer from the retrieved clauses, or None when none is relevant.
    ``ignore``: words that say nothing about the answer (the product's own name when
    the search was already limited to that product)."""
    results = [r for r in results if r.get("clause_id")]
    if not results:
        return None
    query = _query(question, idf, ignore)
    top, overlap, sim = _pick_top(results, query, question)
    if top is None:
        return None
    if top is not results[0]:
        results = [top] + [r for r in results if r is not top]
    if _GENERIC_EXCLUSION.search(question):
        siblings = [h for h in results if re.search(r"-EXC-\d+$", str(h.get("clause_id", "")))]
        if len(siblings) >= 2:
            return _list_answer(siblings, lang, max(overlap, sim))
    wants_list = bool(_DOCS.search(question))
    top_units = _units(top.get("text", ""))
    top_list = wants_list and any(len(u.items) >= 2 for u in top_units)
    chosen, _ = _choose(top_units, query, question, limit=2 if lang == "zh" else 3, wants_list=top_list)

    lead = ""
    if "-EXC-" in str(top.get("clause_id", "")).upper() and _COVER_Q.search(question):
        exception = _exception_applies(top_units, query)
        if exception is None:
            lead = _not_covered_lead(lang)
        else:
            unit = top_units[exception]
            pick = unit.intro if unit.intro is not None else exception
            chosen = [pick] + [i for i in chosen if i != pick][:1]

    cited = [top]
    quotes = [_quote(top_units, chosen, query, question, lang, top_list)]
    second = _second_clause(results, top, query, question, lang)
    if second is not None:
        units = _units(second.get("text", ""))
        sub_list = wants_list and any(len(u.items) >= 2 for u in units) and not top_list
        picked, _ = _choose(units, query, question, limit=1, wants_list=sub_list)
        quote = _quote(units, picked[:1] if not sub_list else picked[:1], query, question, lang, sub_list)
        if quote:
            cited.append(second)
            quotes.append(quote)
    parts = []
    for hit, quote in zip(cited, quotes):
        if not quote:
            continue
        heading = clean_heading(hit.get("heading", ""), hit.get("clause_id", ""))
        if lang == "zh":
            parts.append(f"根据条款【{heading}】（{hit.get('clause_id')}）：{quote}")
        else:
            parts.append(f"Under \"{heading}\" ({hit.get('clause_id')}): {quote}")
    if not parts:
        return None
    cited = [h for h, q in zip(cited, quotes) if q]
    text = "\n".join(parts)
    if lead:
        text = f"{lead}\n{text}"
    return Answer(text=text, citations=cited, relevance=max(overlap, sim))


def _term_share(query: _Query, hit: dict[str, Any]) -> float:
    """Share of the weight of the lexicon's policy terms that the clause uses."""
    if not query.terms:
        return 0.0
    clause = content_tokens(f"{hit.get('heading', '')} {hit.get('text', '')}")
    total = sum(query.weight(t) for t in query.terms)
    return sum(query.weight(t) for t in query.terms & clause) / total if total else 0.0


def _pick_top(results: list[dict[str, Any]], query: _Query, question: str) -> tuple[dict[str, Any] | None, float, float]:
    """The clause to answer from, with its relevance. The search's first when it is
    relevant, except that a question whether something is covered goes to an exclusion
    among the next two (same product) whose vocabulary the lexicon found in the customer's
    words ("跑滴滴" → 营运, 网约车) and the first clause does not use. When the first is
    not relevant, the next two count only with enough words in common. (None, …) when
    none is relevant."""
    top = results[0]
    o1, s1 = _relevance(query, top)
    if _relevant(o1, s1):
        if "-EXC-" in str(top.get("clause_id", "")) or not _COVER_Q.search(question) or not query.terms:
            return top, o1, s1
        t1 = _term_share(query, top)
        for hit in results[1:3]:
            if "-EXC-" not in str(hit.get("clause_id", "")) or hit.get("product_id") != top.get("product_id"):
                continue
            o, s_ = _relevance(query, hit)
            t = _term_share(query, hit)
            if _relevant(o, s_) and t >= 0.5 and t >= t1 + 0.3 and o >= o1 - 0.05:
                return hit, o, s_
        return top, o1, s1
    best, best_o, best_s = None, 0.0, 0.0
    for hit in results[1:3]:
        same = hit.get("product_id") == top.get("product_id") or str(hit.get("clause_id", "")).startswith("GEN-")
        if not same:
            continue
        o, s_ = _relevance(query, hit)
        if o >= FALLBACK_OVERLAP and o > best_o:
            best, best_o, best_s = hit, o, s_
    return best, best_o, best_s


def _second_clause(results: list[dict[str, Any]], top: dict[str, Any], query: _Query, question: str,
                   lang: str) -> dict[str, Any] | None:
    """A second clause of the same product (or a general clause) that is also relevant:
    the first one that shares most of the question's words with the first clause, unless
    another one clearly answers better a sub-question the first clause answers less well."""
    overlap = relevance(query.tokens, top, query.weight)[0]
    others = [h for h in results[1:3]
              if h.get("product_id") == top.get("product_id") or str(h.get("clause_id", "")).startswith("GEN-")]
    if not others:
        return None
    evidence: set[str] = set()
    units_of = {}
    for hit in [top, *others]:
        units_of[id(hit)] = _units(hit.get("text", ""))
        for u in units_of[id(hit)]:
            evidence |= u.tokens | u.aux
    _, top_best = _choose(units_of[id(top)], query, question, limit=1, evidence=evidence)
    fallback = None
    gains: list[tuple[float, int, dict[str, Any]]] = []
    for n, hit in enumerate(others):
        o2, s2 = relevance(query.tokens, hit, query.weight)
        if fallback is None and _relevant(o2, s2) and o2 >= 0.6 * overlap and o2 > 0:
            fallback = hit
        if not _relevant(*_relevance(query, hit)):
            continue
        _, best = _choose(units_of[id(hit)], query, question, limit=1, evidence=evidence)
        gains.append((sum(max(0.0, b - a) for a, b in zip(top_best, best)), -n, hit))
    if gains:
        gain, _, hit = max(gains, key=lambda g: g[:2])
        fallback_gain = next((g for g, _, h in gains if h is fallback), 0.0)
        if gain >= 0.15 and gain >= fallback_gain + 0.1:
            return hit
    return fallback


_GENERIC_EXCLUSION = re.compile(
    r"(?:哪些|什么|有啥|都有).{0,6}(?:不赔|不保|除外|免除|免责)|(?:除外责任|责任免除|免责条款)(?:有哪些|是什么|包括)?"
    r"|\bwhat\b.{0,40}\b(?:exclude|excluded|exclusions|not covered)\b|\bexclusions?\b.{0,10}\?|\blist\b.{0,20}\bexclusions\b",
    re.I)


def _list_answer(hits: list[dict[str, Any]], lang: str, rel: float) -> Answer:
    """The headings of several clauses of one family (e.g. all the exclusions retrieved)."""
    lines = ["主要的责任免除情形包括：" if lang == "zh" else "The main exclusions include:"]
    for h in hits:
        units = [u for u in _units(h.get("text", "")) if u.kind != "question"]
        first = units[0].text if units else ""
        if units and units[0].items:
            first = _render(units, [0], _query(h.get("heading", ""), None, None), lang, False, {}, MAX_CHARS)
        head = clean_heading(h.get("heading", ""), h.get("clause_id", ""))
        lines.append(f"- {head}（{h.get('clause_id')}）：{first}" if lang == "zh"
                     else f"- {head} ({h.get('clause_id')}): {first}")
    return Answer(text="\n".join(lines), citations=hits, relevance=rel)
