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
from dataclasses import dataclass, field, replace
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
#: Weight of a Chinese word matched only by a telling character of it (扣钱 ~ 扣除).
FUZZY_WEIGHT = 0.4
#: Characters that tell nothing on their own.
_CHAR_STOP = set("的了吗呢么是我你您他她它们这那个里上下中后前时人多少什怎样如何哪些吧啊呀请问一二三四五六七八九十"
                 "给到被把让从为以之其该对将已等并于而不没有要会能可就都也还又在和与及或自己去来说得过着")
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
    r"|documents?|paperwork|papers\b|forms?\b|proof|what (?:do|should|must) (?:i|we) (?:need to )?(?:send|provide|submit|bring|prepare)",
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
    r"|不再(?:属于|适用)|不在此限"
    r"|does not apply|do not apply|not affected by|remains? covered|still covered|is covered in full|are covered"
    r"|no longer (?:excluded|applies)", re.I)
_DOC_CODE = re.compile(r"\*\*DOC-[A-Z0-9-]+\*\*\s*|\s*[（(]DOC-[A-Z0-9-]+[)）]|\bDOC-[A-Z0-9-]+\s*")


@dataclass
class Answer:
    """The quoted sentences and the clauses they come from."""

    text: str
    citations: list[dict[str, Any]] = field(default_factory=list)
    relevance: float = 0.0


#: English forms the stemmer leaves apart that mean the same for matching.
_SAME = {"paid": "pay", "payment": "pay", "repaid": "repay"}


#: "Tell" is a stop word to the keyword tokenizer; telling the insurer is not.
_NOTIFY = re.compile(r"\b(?:tell|telling|told|inform\w*|notif\w*|let (?:you|us) know)\b", re.I)


def content_tokens(text: str) -> set[str]:
    """Question words that carry meaning (stop words and single Latin letters dropped)."""
    out = {_SAME.get(tok, tok) for tok in tokenize(text) if tok not in _STOP and not re.fullmatch(r"[a-z]|\W+", tok)}
    if _NOTIFY.search(text):
        out.add("notifi")
    return out


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
def _lexicon() -> list[tuple[tuple[tuple[str, frozenset[str]], ...], frozenset[str]]]:
    """The query lexicon: per rule, its customer phrases (squashed, and their words) and
    the words of the policy terms it adds."""
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
            phrases = tuple((squash(str(w)), frozenset(content_tokens(str(w)))) for w in rule.get("when") or [])
            terms: set[str] = set()
            for t in rule.get("add") or []:
                terms |= content_tokens(str(t))
            rules.append((phrases, frozenset(terms)))
    return rules


_EXCLUSION_MARKERS = {t for w in ("exclusion 责任免除 除外责任 除外 免除").split() for t in tokenize(w)}


def exclusion_vocabulary(text: str) -> list[set[str]]:
    """For each lexicon rule recognised in ``text`` that points at an exclusion (its terms
    include "exclusion" / 责任免除), the words of its other terms ("nose job" →
    cosmetic, plastic surgery …)."""
    rules = _lexicon()
    if not rules:
        return []
    from anxin.knowledge.names import squash

    q = squash(text)
    out = []
    for phrases, add in rules:
        if add & _EXCLUSION_MARKERS and any(p and p in q for p, _ in phrases):
            rest = set(add - _EXCLUSION_MARKERS)
            if rest:
                out.append(rest)
    return out


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
        hit = [words for p, words in phrases if p and p in q]
        if hit:
            for words in hit:
                phrase_tokens |= words
            terms |= add
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
    return _Query(tokens=tokens, phrase_tokens=phrase_tokens, terms=terms - tokens,
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
    line: int = -1                                   # the line of the clause it comes from
    block: int = -1                                  # for an item: the first item of its list


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
    for line_no, raw in enumerate(text.splitlines()):
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
            u.block = units[-1].block if units and units[-1].kind == "item" else u.idx
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
            short = len(sent.split()) <= 3 if not re.search(r"[\u4e00-\u9fff]", sent) else len(sent) < 8
            if short and not sent.endswith(("：", ":", "？", "?")) and not re.search(r"\d", sent):
                carry = sent
                continue
            merged.append(sent)
        if carry:
            merged.append(carry)
        answered = False
        for s in merged:
            s = s.strip(" -*\t")
            if len(s) < 4:
                continue
            if s.endswith(("？", "?")):
                pending_q |= content_tokens(s)
                units.append(_Unit(idx=len(units), text=s, kind="question", tokens=content_tokens(s)))
                continue
            u = _Unit(idx=len(units), text=s, tokens=content_tokens(s), aux=set(pending_q), line=line_no)
            answered = answered or bool(pending_q)
            units.append(u)
            last_sent = u.idx
        if answered:
            pending_q = set()             # a FAQ question lends its words to the sentences of its answer
    return units


# --------------------------------------------------------------------------- choosing what to quote

def _has(tokens: set[str], t: str) -> bool:
    """``t`` is among ``tokens``, or (English) one is the other's stem-prefix of at least
    five letters (the stemmer keeps "accid" and "accident", "burgl" and "burglari" apart)."""
    if t in tokens:
        return True
    if len(t) < 5 or not t.isascii() or not t.isalpha():
        return False
    return any(len(x) >= 5 and x.isascii() and (x.startswith(t) or t.startswith(x)) for x in tokens)


def _score(unit: _Unit, words: set[str], terms: set[str], piece: str, weight: Callable[[str], float],
           question_has_number: bool, present: set[str] | None = None,
           common: set[str] | None = None, chars: set[str] | None = None) -> float:
    """How well a unit answers one sub-question, about 0..1: the share of the weight of
    the question's own words found in the unit (words lent to it count half), with the
    lexicon's policy terms for them as a smaller second share, plus small bonuses (the
    kind of number asked for, the opening sentence). With ``present`` (the clause's
    words) the shares are of the words the clause has at all: words none of its
    sentences contains do not tell them apart."""
    def w(t: str) -> float:
        # "is it covered" words, and words most of the clause's sentences use, tell little
        return weight(t) * (0.25 if t in _COVER_WORDS else 0.4 if common and t in common else 1.0)

    # a Chinese word the clause does not use may still share its leading character with
    # the clause's word for it (扣钱 / 扣除, 退钱 / 退还): a weak match
    fuzzy: dict[str, set[str]] = {}
    if present is not None:
        if chars:
            for t in words:
                # two-character words only, and not the pieces of a longer word (查出来 → 出来)
                if (not _has(present, t) and re.fullmatch(r"[\u4e00-\u9fff]{2}", t)
                        and not any(t != o and t in o for o in words)):
                    cs = {t[0]} & chars       # the leading character carries the meaning: 扣钱, 退钱
                    if cs:
                        fuzzy[t] = cs
        words = {t for t in words if _has(present, t)}
        terms = {t for t in terms if _has(present, t)}
    terms = terms - words
    if words - _COVER_WORDS or terms:
        words = words - _COVER_WORDS       # "is it covered" says nothing about which sentence answers

    def share(ts: set[str], loose: dict[str, set[str]] | None = None) -> float:
        total = sum(w(t) for t in ts)
        found = sum(w(t) if _has(unit.tokens, t) else 0.5 * w(t) if _has(unit.aux, t) else 0.0 for t in ts)
        for t, cs in (loose or {}).items():
            total += FUZZY_WEIGHT * w(t)
            found += FUZZY_WEIGHT * w(t) if any(c in unit.text for c in cs) else 0.0
        return found / total if total > 0 else -1.0

    own, lent = share(words, fuzzy), share(terms)
    if lent > 0:
        lent = min(1.0, 2 * lent)          # the lexicon's terms are alternatives: half of them is a full match
    if own < 0 and lent < 0:
        return 0.0
    score = own if lent < 0 else lent if own < 0 else (1 - EXPANSION_WEIGHT / 2) * own + EXPANSION_WEIGHT / 2 * lent
    if score <= 0:
        return 0.0
    text = unit.text
    asked = [kind for kind, asks in _ASKS.items() if asks.search(piece)]
    if asked:
        if any(_STATES[kind].search(text) for kind in asked):
            score += 0.25
        else:
            # a sentence without the number asked for ("赔多少") answers it at best in part
            score = 0.6 * score + (0.05 if _ANY_NUMBER.search(text) else 0.0)
    if _EXAMPLE.search(text) and not question_has_number:
        score -= 0.1
    if unit.idx == 0:
        score += 0.08                      # the opening sentence states the rule
    if len(text) > 220:
        score -= 0.05
    return score - 0.0005 * unit.idx


def _telling_chars(units: list[_Unit]) -> set[str]:
    """Chinese characters of the clause that fewer than 60% of its sentences use."""
    cands = [u for u in units if u.kind != "question"]
    df: dict[str, int] = {}
    for u in cands:
        for c in set(re.findall(r"[\u4e00-\u9fff]", u.text)):
            df[c] = df.get(c, 0) + 1
    return {c for c, n in df.items() if c not in _CHAR_STOP and n < 0.6 * max(1, len(cands))}


def _common_words(units: list[_Unit]) -> set[str]:
    """Words that most of a clause's sentences use (its topic word, "犹豫期" in the
    cooling-off clause): they do not tell its sentences apart."""
    cands = [u for u in units if u.kind != "question"]
    if len(cands) < 3:
        return set()
    df: dict[str, int] = {}
    for u in cands:
        for t in u.tokens | u.aux:
            df[t] = df.get(t, 0) + 1
    return {t for t, c in df.items() if c >= 0.6 * len(cands)}


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
    common = _common_words(units)
    chars = _telling_chars(units)
    table = {}
    absolute = {}
    for n, (piece, words, terms) in enumerate(query.parts):
        for u in cands:
            table[(n, u.idx)] = _score(u, words, terms, piece, query.weight, has_number, present, common, chars)
            absolute[(n, u.idx)] = _score(u, words, terms, piece, query.weight, has_number, evidence)
    best_per_part = [max((absolute[(n, u.idx)] for u in cands), default=0.0) for n in range(len(query.parts))]
    chosen: list[int] = []
    if wants_list:
        intro = next((u.idx for u in units if len(u.items) >= 2 and units[u.items[0]].kind == "item"), None)
        if intro is not None:
            chosen.append(intro)
    overall = {u.idx: max(table[(n, u.idx)] for n in range(len(query.parts))) for u in cands}
    if limit <= 1 and not chosen:
        best = max(overall, key=lambda i: (overall[i], -i))
        chosen = [best] if overall[best] > 0 else [cands[0].idx]
    for n in range(len(query.parts)):
        if limit <= 1:
            break
        ranked = sorted(cands, key=lambda u: -table[(n, u.idx)])
        for u in ranked:
            if table[(n, u.idx)] <= 0:
                break
            if u.idx in chosen or (u.intro is not None and u.intro in chosen and wants_list):
                break
            chosen.append(u.idx)
            break
    # fill up to the limit with the next best units for the question as a whole
    top = max(overall.values()) if overall else 0.0
    first = cands[0].idx
    for idx in sorted(overall, key=lambda i: (i != first, -overall[i])):
        if len(chosen) >= max(limit, 1):
            break
        # the opening sentence states the clause's rule: it frames the answer when there is room
        floor = 0.0 if idx == cands[0].idx and cands[0].kind == "sent" else 0.5 * top
        if idx in chosen or overall[idx] <= 0 or overall[idx] < floor:
            continue
        chosen.append(idx)
    if not chosen:
        chosen = [cands[0].idx]
    # a sentence that only goes on from a chosen one ("Instead, we refund …", "但…"), or the
    # short parallel part after a semicolon, comes with it
    for idx in list(chosen):
        nxt = idx + 1
        if nxt >= len(units) or nxt in chosen or units[idx].kind != "sent" or units[nxt].kind != "sent":
            continue
        same_line = units[nxt].line == units[idx].line >= 0
        if _CONTINUES.match(units[nxt].text) or (
                same_line and units[idx].text.endswith(("；", ";")) and len(units[idx].text) + len(units[nxt].text) <= 150):
            chosen.append(nxt)
    return chosen, best_per_part


def _first_clause(text: str) -> str:
    """Text up to its first comma outside brackets ("pathology report, where …" → "pathology report")."""
    depth = 0
    for k, ch in enumerate(text):
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        elif depth == 0 and (ch == "，" or (ch == "," and text[k + 1:k + 2] == " ")):
            return text[:k].strip()
    return text


def _compact_item(text: str, docs: bool) -> str:
    t = _DOC_CODE.sub("", text).strip()
    t = re.sub(r"^(?:and|or)\s+", "", t)
    t = re.sub(r"(?:[;；,，。.]\s*(?:and|or)?\s*)+$", "", t).strip()
    return _first_clause(t) if docs else t


def _render(units: list[_Unit], chosen: list[int], query: _Query, lang: str, wants_list: bool,
            scores: dict[int, float], budget: int, max_items: int = 3) -> str:
    """The chosen units in clause order, within ``budget`` characters (the best first).
    A list item or table row is quoted after the sentence that introduces its list (a
    chosen intro brings its best-matching items, or all of them when the question asks
    for the whole list); rows carry their column names; items of a list without an
    intro are quoted together."""
    zh = lang == "zh"
    end = "。" if zh else "."
    groups: dict[int, list[int]] = {}       # intro -> items to quote with it
    order: list[int] = []                    # pieces, best first
    for idx in chosen:
        u = units[idx]
        if u.items:
            if wants_list and units[u.items[0]].kind == "item":
                items = list(u.items)
            else:
                top_item = max((scores.get(i, 0) for i in u.items), default=0)
                matched = [i for i in u.items if scores.get(i, 0) > 0 and scores.get(i, 0) >= 0.7 * top_item]
                if not matched and sum(len(units[i].text) for i in u.items) <= 160:
                    matched = u.items
                items = sorted(matched, key=lambda i: -scores.get(i, 0))[:max_items]
            groups.setdefault(idx, [])
            groups[idx] += [i for i in items if i not in groups[idx]]
            key = idx
        elif u.intro is not None and len(units[u.intro].text) <= 160 and u.kind in ("item", "row"):
            groups.setdefault(u.intro, [])
            if idx not in groups[u.intro]:
                groups[u.intro].append(idx)
            key = u.intro
        else:
            key = idx
        if key not in order:
            order.append(key)
    grouped = set().union(*groups.values()) if groups else set()
    order = [k for k in order if k in groups or k not in grouped]   # an item quoted with its intro is not repeated
    pieces: dict[int, str] = {}
    for key in order:
        u = units[key]
        items = sorted(groups.get(key, []))
        if items:
            docs = wants_list and units[items[0]].kind == "item"
            texts = [_row_text(units[i], zh) if units[i].kind == "row" else _compact_item(units[i].text, docs)
                     for i in items]
            body = ("、" if docs else "；").join(texts) if zh else "; ".join(texts)
            head = u.text.rstrip("：: ")
            pieces[key] = f"{head}：{body}{end}" if zh else f"{head}: {body}{end}"
        elif u.kind == "row":
            pieces[key] = _row_text(u, zh) + end
        elif u.kind == "item":
            pieces[key] = _compact_item(u.text, False)
        else:
            pieces[key] = u.text
        pieces[key] = _DOC_CODE.sub("", pieces[key])
    kept: list[int] = []
    size = 0
    for key in order:
        if kept and size + len(pieces[key]) > budget:
            continue
        kept.append(key)
        size += len(pieces[key])
    out = ""
    prev: _Unit | None = None
    for k in sorted(kept):
        u = units[k]
        loose_item = u.kind == "item" and k not in groups
        if prev is not None:
            if loose_item and prev.kind == "item" and prev.block == u.block and prev.idx not in groups:
                out += "；" if zh else "; "          # items of one list, quoted together
            else:
                if prev.kind == "item" and prev.idx not in groups:
                    out += end
                out += "" if zh else " "
        out += pieces[k]
        prev = u
    if prev is not None and prev.kind == "item" and prev.idx not in groups:
        out += end
    return out


def _row_text(u: _Unit, zh: bool) -> str:
    cells = u.text.split(" | ")
    if u.header and len(u.header) == len(cells):
        return ("，" if zh else ", ").join(f"{h}：{c}" if zh else f"{h}: {c}" for h, c in zip(u.header, cells) if h and c)
    return u.text


def best_sentences(question: str, text: str, limit: int = 2, q: set[str] | None = None,
                   idf: Callable[[str], float] | None = None, lang: str | None = None) -> list[str]:
    """The quote that best answers the question from one clause text (its chosen
    sentences, in the clause's order, as one string in a list; empty when the text has
    none). ``q``: the question's words, when the caller already removed the
    uninformative ones."""
    query = _query(question, idf, None)
    if q is not None:
        query.tokens = set(q)
        query.parts = [(p, w & q if w & q else w, t) for p, w, t in query.parts]
    units = _units(text)
    chosen, _ = _choose(units, query, question, limit)
    quote = _quote(units, chosen, query, question, lang or ("zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"), False)
    return [quote] if quote else []


def _quote(units: list[_Unit], chosen: list[int], query: _Query, question: str, lang: str, wants_list: bool,
           max_items: int = 3) -> str:
    has_number = bool(re.search(r"\d", question))
    present = set().union(*(u.tokens | u.aux for u in units)) if units else set()
    common = _common_words(units)
    chars = _telling_chars(units)
    scores = {u.idx: max((_score(u, w, t, p, query.weight, has_number, present, common, chars)
                          for p, w, t in query.parts), default=0.0)
              for u in units}
    budget = MAX_CHARS if lang == "zh" else MAX_CHARS_EN
    return _render(units, chosen, query, lang, wants_list, scores,
                   max(budget, MAX_LIST_CHARS) if wants_list else budget, max_items)


# --------------------------------------------------------------------------- exclusions

def _exception_units(units: list[_Unit]) -> set[int]:
    """The units of an exclusion clause that state its exceptions (with their list items)."""
    out: set[int] = set()
    for u in units:
        if u.kind != "question" and _EXCEPTION.search(u.text):
            out.add(u.idx)
            out |= set(u.items)
    return out


def _exception_applies(units: list[_Unit], query: _Query, heading: str = "") -> int | None:
    """The exception unit of an exclusion clause that the question is about, if any:
    the question (with the lexicon's terms for its words, less the words of the
    exclusion's heading, which any question about it uses) shares more weight with the
    clause's exceptions than with the rest of it."""
    exc_units = _exception_units(units)
    if not exc_units:
        return None
    in_exc: set[str] = set()
    in_rule: set[str] = set()
    for u in units:
        if u.kind == "question":
            continue
        (in_exc if u.idx in exc_units else in_rule).update(u.tokens)
    words = (query.tokens | query.terms) - _COVER_WORDS - _EXCLUSION_MARKERS - content_tokens(heading)
    exc_only = sum(query.weight(t) for t in words & (in_exc - in_rule))
    rule_only = sum(query.weight(t) for t in words & (in_rule - in_exc))
    if exc_only <= rule_only or exc_only <= 0:
        return None
    return max(exc_units, key=lambda i: (sum(query.weight(t) for t in words & units[i].tokens), -i))


def _not_covered_lead(lang: str, exceptions: bool) -> str:
    """The answer's first line when an exclusion answers "is it covered?"."""
    if exceptions:
        return ("这种情况属于责任免除，一般不在保障范围内（条款另有例外情形）。" if lang == "zh"
                else "This is generally not covered (exclusion), with the exceptions the clause sets out.")
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
    original_top = results[0]
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
        exception = _exception_applies(top_units, query, clean_heading(top.get("heading", ""), top.get("clause_id", "")))
        if exception is None:
            exceptions = _exception_units(top_units)
            lead = _not_covered_lead(lang, bool(exceptions))
            if exceptions and not exceptions & set(chosen):
                # the exception closest to the question comes last (quoted when there is room)
                words = query.tokens - _COVER_WORDS
                best = max(exceptions, key=lambda i: (sum(query.weight(t) for t in words & top_units[i].tokens), -i))
                unit = top_units[best]
                chosen = chosen + [unit.intro if unit.intro is not None and unit.kind == "item" else best]
        else:
            unit = top_units[exception]
            pick = unit.intro if unit.intro is not None else exception
            chosen = [pick] + [i for i in chosen if i != pick][:1]

    cited = [top]
    quotes = [_quote(top_units, chosen, query, question, lang, top_list)]
    second, part = _second_clause(results, top, query, question, promoted=top is not original_top)
    if second is not None:
        units = _units(second.get("text", ""))
        sub_list = wants_list and any(len(u.items) >= 2 for u in units) and not top_list
        # the sentence for the sub-question this clause answers better than the first
        sub_query = replace(query, parts=[query.parts[part]]) if part is not None else query
        picked, _ = _choose(units, sub_query, question, limit=1, wants_list=sub_list)
        quote = _quote(units, picked, query, question, lang, sub_list, max_items=1)
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


def _term_share(terms: set[str], hit: dict[str, Any], weight: Callable[[str], float]) -> float:
    """Share of the weight of ``terms`` that the clause uses."""
    if not terms:
        return 0.0
    clause = content_tokens(f"{hit.get('heading', '')} {hit.get('text', '')}")
    total = sum(weight(t) for t in terms)
    return sum(weight(t) for t in terms & clause) / total if total else 0.0


def _pick_top(results: list[dict[str, Any]], query: _Query, question: str) -> tuple[dict[str, Any] | None, float, float]:
    """The clause to answer from, with its relevance. The search's first when it is
    relevant, except that a question whether something is covered goes to an exclusion
    among the next two (same product) whose vocabulary the lexicon found in the customer's
    words ("跑滴滴" → 营运, 网约车) and the first clause (a cover clause or another
    exclusion) does not use. When the first is
    not relevant, the next two count only with enough words in common. (None, …) when
    none is relevant."""
    top = results[0]
    o1, s1 = _relevance(query, top)
    if _relevant(o1, s1):
        vocab = exclusion_vocabulary(question)
        if not _COVER_Q.search(question) or not vocab:
            return top, o1, s1
        for hit in results[1:3]:
            if "-EXC-" not in str(hit.get("clause_id", "")) or hit.get("product_id") != top.get("product_id"):
                continue
            o, s_ = _relevance(query, hit)
            if not _relevant(o, s_):
                continue
            top_is_exclusion = "-EXC-" in str(top.get("clause_id", ""))
            for terms in vocab:
                t, t1 = _term_share(terms, hit, query.weight), _term_share(terms, top, query.weight)
                # an exclusion first stays unless it has nothing of that vocabulary
                if t >= 0.5 and t >= t1 + 0.3 and (not top_is_exclusion or t1 < 0.25):
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
                   promoted: bool = False) -> tuple[dict[str, Any] | None, int | None]:
    """A second clause of the same product (or a general clause) that is also relevant:
    the first one that shares most of the question's words with the first clause, unless
    another one clearly answers better a sub-question the first clause answers less well
    (then also the index of that sub-question). ``promoted``: the first clause is not the
    search's first (it was chosen for the lexicon's policy terms, which then count here too)."""
    def overlap_of(hit: dict[str, Any]) -> tuple[float, float]:
        return _relevance(query, hit) if promoted else relevance(query.tokens, hit, query.weight)

    overlap = overlap_of(top)[0]
    others = [h for h in results[1:3]
              if h.get("product_id") == top.get("product_id") or str(h.get("clause_id", "")).startswith("GEN-")]
    if not others:
        return None, None
    evidence: set[str] = set()
    units_of = {}
    for hit in [top, *others]:
        units_of[id(hit)] = _units(hit.get("text", ""))
        for u in units_of[id(hit)]:
            evidence |= u.tokens | u.aux
    _, top_best = _choose(units_of[id(top)], query, question, limit=1, evidence=evidence)
    fallback = None
    gains: list[tuple[float, int, dict[str, Any], int]] = []
    for n, hit in enumerate(others):
        o2, s2 = overlap_of(hit)
        if fallback is None and _relevant(o2, s2) and o2 >= 0.6 * overlap and o2 > 0:
            fallback = hit
        if not _relevant(*_relevance(query, hit)):
            continue
        _, best = _choose(units_of[id(hit)], query, question, limit=1, evidence=evidence)
        per_part = [max(0.0, b - a) for a, b in zip(top_best, best)]
        part = max(range(len(per_part)), key=lambda i: per_part[i]) if per_part else 0
        gains.append((sum(per_part), -n, hit, part))
    if gains:
        gain, _, hit, part = max(gains, key=lambda g: g[:2])
        fallback_gain = next((g[0] for g in gains if g[2] is fallback), 0.0)
        if gain >= 0.15 and (hit is fallback or gain >= fallback_gain + 0.1):
            return hit, (part if len(query.parts) > 1 else None)
    return fallback, None


_GENERIC_EXCLUSION = re.compile(
    r"(?:哪些|什么|有啥|都有).{0,6}(?:不赔|不保|除外|免除|免责)|(?:除外责任|责任免除|免责条款)(?:有哪些|是什么|包括)?"
    r"|\bwhat\b.{0,40}\b(?:exclude|excluded|exclusions|not covered)\b|\bexclusions?\b.{0,10}\?|\blist\b.{0,20}\bexclusions\b",
    re.I)


def _list_answer(hits: list[dict[str, Any]], lang: str, rel: float) -> Answer:
    """The headings of several clauses of one family (e.g. all the exclusions retrieved),
    each with its opening sentence (and the first items of its list, compactly)."""
    zh = lang == "zh"
    lines = ["主要的责任免除情形包括：" if zh else "The main exclusions include:"]
    for h in hits:
        units = _units(h.get("text", ""))
        cands = [u for u in units if u.kind != "question"]
        first = _DOC_CODE.sub("", cands[0].text) if cands else ""
        if cands and cands[0].items:
            items = cands[0].items
            texts = [_row_text(units[i], zh) if units[i].kind == "row" else _compact_item(units[i].text, True)
                     for i in items[:3]]
            more = ("等" if zh else "; …") if len(items) > 3 else ""
            body = ("；" if zh else "; ").join(texts)
            first = f"{first.rstrip('：: ')}：{body}{more}。" if zh else f"{first.rstrip(': ')}: {body}{more}."
        head = clean_heading(h.get("heading", ""), h.get("clause_id", ""))
        lines.append(f"- {head}（{h.get('clause_id')}）：{first}" if zh else f"- {head} ({h.get('clause_id')}): {first}")
    return Answer(text="\n".join(lines), citations=hits, relevance=rel)
