"""Numbers as customers write them, in Chinese and English.

``find_numbers`` finds every number in a text — Arabic (``500,000``, ``1.5``),
Chinese (``五十万``, ``三千五``, ``十二万五``), mixed (``1.5万``, ``3千``), with
Latin multipliers (``2k``, ``1.5 million``, ``50w``), English number words
(``fifty thousand``) — with the unit written next to it (``%``, ``yuan``, ``age``,
``kg``, ``cm``...). Dates are one mention each (unit ``date``); identifiers such as
policy numbers (``XH-CI200-2016-000123``), claim ids (``CLM-2026-0008``) and
clause ids (``MED-100-WAITING``) yield no mention at all.

``parse_amount`` reads one money amount, ``numbers_equal`` compares two numbers
within a tolerance and ``format_money`` prints money the way the advisor does
(``12,345.60``).

Vocabulary (non-numeric words, unit words, multipliers) lives in
``agent/data/entity_lexicon.yaml`` under ``numbers``; the regexes are built once
at import.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "entity_lexicon.yaml"

__all__ = [
    "NumberMention", "find_numbers", "parse_amount", "numbers_equal", "format_money",
    "normalise_text", "parse_chinese_numeral", "to_decimal", "identifier_spans", "load_lexicon",
]


@lru_cache(maxsize=1)
def load_lexicon() -> dict[str, Any]:
    """The entity lexicon (``agent/data/entity_lexicon.yaml``) as plain data, read once."""
    with open(LEXICON_PATH, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


@dataclass(frozen=True)
class NumberMention:
    """One number found in a text.

    ``value``: the number (multipliers applied, ``斤``/``lb`` converted to kg, ``米``
    to cm; a date is ``YYYYMMDD`` as a number); ``start``/``end``: the span in the
    original text, unit words included; ``raw``: that span's text; ``unit``: ``%``,
    ``yuan``, ``age``, ``day``, ``week``, ``month``, ``year``, ``kg``, ``cm``, ``km``,
    ``sqm``, ``hour``, ``minute``, ``points``, ``times``, ``seat``, ``floor``,
    ``class``, ``level``, ``count``, ``ordinal``, ``date``, ``time``, ``weekday``
    or ``None``; ``scaled``: a multiplier (万, 亿, k, million...) was written;
    ``date``: the ISO date (``YYYY-MM-DD``; ``YYYY-MM`` or ``--MM-DD`` when
    partial) for unit ``date``.
    """

    value: Decimal
    start: int
    end: int
    raw: str
    unit: str | None = None
    scaled: bool = False
    date: str | None = field(default=None, compare=False)

    @property
    def is_money_like(self) -> bool:
        """True when the mention may be a money amount (yuan, or no unit and not an ordinal)."""
        return self.unit in ("yuan", None)


# --------------------------------------------------------------------------- normalisation

def normalise_text(text: str) -> str:
    """Length-preserving normalisation: full-width ASCII to half-width (the Chinese comma
    ``，`` kept), ideographic space to space, ASCII lower-cased. Positions in the result
    are positions in the input."""
    out = []
    for ch in text:
        o = ord(ch)
        if 0xFF01 <= o <= 0xFF5E and ch != "，":
            ch = chr(o - 0xFEE0)
        elif ch == "\u3000":
            ch = " "
        if "A" <= ch <= "Z":
            ch = ch.lower()
        out.append(ch)
    return "".join(out)


def to_decimal(value: Any) -> Decimal | None:
    """A Decimal from an int, float (via its string), Decimal or numeric string; else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        s = normalise_text(value).strip().replace(",", "")
        try:
            return Decimal(s)
        except InvalidOperation:
            return parse_amount(value)
    return None


# --------------------------------------------------------------------------- lexicon → regex

_LEX = load_lexicon().get("numbers", {})
ZH_DIGITS: dict[str, int] = {str(k): int(v) for k, v in _LEX.get("zh_digits", {}).items()}
ZH_MULTS: dict[str, int] = {str(k): int(v) for k, v in _LEX.get("zh_multipliers", {}).items()}
EN_SMALL: dict[str, int] = {str(k): int(v) for k, v in _LEX.get("en_small", {}).items()}
EN_SCALES: dict[str, int] = {str(k): int(v) for k, v in _LEX.get("en_scales", {}).items()}
MONTHS_EN: dict[str, int] = {str(k): int(v) for k, v in _LEX.get("months_en", {}).items()}
WEEKDAYS: dict[str, int] = {str(k): int(v) for k, v in _LEX.get("weekdays", {}).items()}
_CLASSIFIERS = set(_LEX.get("classifier_chars", ""))
_ZH_CHARS = "".join(ZH_DIGITS) + "".join(ZH_MULTS)
_ZH_DIGIT_CHARS = "".join(ZH_DIGITS)

_LATIN_MULTS = [(re.compile(r"\s*(?:" + m["re"] + r")(?![a-z])"), int(m["value"])) for m in _LEX.get("latin_multipliers", [])]
_UNITS_AFTER = [
    (re.compile(r"(?:\s*-\s*(?=[a-z])|\s*)(?:" + u["re"] + r")"), str(u["unit"]), Decimal(str(u.get("factor", 1))))
    for u in _LEX.get("units_after", [])
]
_UNITS_BEFORE = [(re.compile(u["re"]), str(u["unit"])) for u in _LEX.get("units_before", [])]

_NON_NUMERIC = re.compile(
    r"(?<![" + _ZH_CHARS + r"\d])(?:" + "|".join(sorted((re.escape(w) for w in _LEX.get("zh_non_numeric_words", [])), key=len, reverse=True))
    + r")"
)
# 一点 is "a little" unless a digit follows (一点五 = 1.5)
_YIDIAN = re.compile(r"(?<![" + _ZH_CHARS + r"\d])一点(?![" + _ZH_DIGIT_CHARS + r"\d])")

_ARABIC = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:\.\d+)?|\.\d+")

# identifiers: policy numbers, claim ids, clause ids, product ids, plan codes, masked phones
_IDENTIFIERS = [
    re.compile(r"(?<![a-z0-9])xh[\s_-]*[a-z]+\s*-?\s*\d+[\s_-]*\d{4}[\s_-]*\d{3,}(?![0-9])"),
    re.compile(r"(?<![a-z0-9])clm[\s_-]*\d{4}[\s_-]*\d{3,}(?![0-9])"),
    re.compile(r"(?<![a-z0-9])[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*[-_]\d[a-z0-9]*(?:[-_][a-z0-9]+)*"),
    re.compile(r"(?<![a-z0-9])(?!(?:rmb|cny|usd|hkd|eur|yuan|aged?|dob|id|no|x)\d)[a-z]+\d[a-z0-9]*(?:[-_][a-z0-9]+)*"),
    re.compile(r"\d{3}\*{2,}\d{2,4}"),
    re.compile(r"(?<![\d.\-])(?:400|800|95\d|1[3-9]\d|0\d{2,3})[-\s]\d{3,4}[-\s]\d{3,4}(?![\d\-])"),
    re.compile(r"(?<![\d.])\d{11,}[\dx]?(?![\d.])"),
]

_MONTH_NAMES = "|".join(sorted(MONTHS_EN, key=len, reverse=True))
_ZHN = r"[" + _ZH_CHARS + r"\d]"
_DATE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?<![\d.])(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?![\d])"), "ymd"),
    (re.compile(r"(?<![\d])(\d{4}|[" + _ZH_DIGIT_CHARS + r"]{4})\s*年\s*(" + _ZHN + r"{1,3})\s*月\s*(?:(" + _ZHN + r"{1,3})\s*[日号])?"), "zh"),
    (re.compile(r"(?<![\d])(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{4})(?![\d])"), "dmy_or_mdy"),
    (re.compile(r"(?<![a-z\d])(\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?(" + _MONTH_NAMES + r")\.?,?\s*(\d{4})(?![\d])"), "d_mon_y"),
    (re.compile(r"(?<![a-z])(" + _MONTH_NAMES + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s*(\d{4})(?![\d])"), "mon_d_y"),
    (re.compile(r"(?<![\d年])(" + _ZHN + r"{1,3})\s*月\s*(" + _ZHN + r"{1,3})\s*[日号]"), "zh_md"),
    (re.compile(r"(?<![a-z])(" + _MONTH_NAMES + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?![\d:])"), "mon_d"),
    (re.compile(r"(?<![a-z\d])(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(" + _MONTH_NAMES + r")(?![a-z])"), "d_mon"),
]
_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-3])\s*[:：]\s*([0-5]\d)(?![\d:])")
_WEEKDAY = re.compile(r"(?<![" + _ZH_CHARS + r"\d])(?:星期|礼拜|周)([" + "".join(WEEKDAYS) + r"])(?![次天个])")
_LINE_ORDINAL = re.compile(r"(?m)^[ \t]*(\d{1,2})[.、)](?![\d])")
_HEIGHT_ZH = re.compile(r"(?<![\d.])([12一两二])\s*米\s*([0-9]{1,2}|[" + _ZH_DIGIT_CHARS + r"十]{1,2})(?![\d.])")
_HEIGHT_CUE = re.compile(r"身高|个子|height|tall")
_EN_WORDS = sorted(list(EN_SMALL) + list(EN_SCALES), key=len, reverse=True)
_SCALE_WORDS = "|".join(sorted(EN_SCALES, key=len, reverse=True))
# "half a million", "one and a half million", "a million and a half", "2 and a half thousand"
_HALF = re.compile(
    r"(?<![a-z\d.])(?:(?P<lead>(?:a|" + "|".join(_EN_WORDS) + r")(?:[\s-]+(?:" + "|".join(_EN_WORDS) + r"))*|\d+)"
    r"\s+and\s+a\s+half|half(?:\s+an?)?)[\s-]+(?P<scale>" + _SCALE_WORDS + r")(?![a-z])"
    r"|(?<![a-z\d.])(?P<lead2>a|one|\d+)\s+(?P<scale2>" + _SCALE_WORDS + r")\s+and\s+a\s+half(?![a-z])"
)
_EN_NUMBER = re.compile(
    r"(?<![a-z])(?:a\s+(?=(?:hundred|thousand|million|billion)(?![a-z])))?(?:" + "|".join(_EN_WORDS) + r")(?![a-z])"
    r"(?:(?:\s+and\s+|\s+|-)(?:" + "|".join(_EN_WORDS) + r")(?![a-z]))*"
)


# --------------------------------------------------------------------------- value parsing

def parse_chinese_numeral(chars: str) -> Decimal | None:
    """Value of a run of Chinese numerals, Arabic digits allowed between units.

    Handles 五十万, 一百万, 十二万五 (=125000), 三千五 (=3500), 一千二百五十, 两千,
    一千零五, 1.5万, 3千, 1万2 (=12000), 5百万, 二〇二六 (digit by digit = 2026) and
    一点五 (=1.5). Returns None when the text is not a numeral.
    """
    s = chars.replace(" ", "")
    if not s:
        return None
    if "点" in s:
        whole, _, frac = s.partition("点")
        w = parse_chinese_numeral(whole) if whole else Decimal(0)
        mults = frac.lstrip(_ZH_DIGIT_CHARS + "0123456789")
        frac = frac[: len(frac) - len(mults)]
        if w is None or not frac or any(c not in ZH_MULTS for c in mults):
            return None
        digits = "".join(str(ZH_DIGITS[c]) if c in ZH_DIGITS else c for c in frac)
        value = w + Decimal("0." + digits)
        for c in mults:
            value *= ZH_MULTS[c]
        return value
    # split into elements: Decimal numbers and multiplier ints
    elems: list[tuple[str, Decimal]] = []
    i = 0
    while i < len(s):
        c = s[i]
        if c.isdigit() or (c == "." and i + 1 < len(s) and s[i + 1].isdigit()):
            m = _ARABIC.match(s, i)
            if not m:
                return None
            elems.append(("n", Decimal(m.group().replace(",", ""))))
            i = m.end()
            continue
        if c in ZH_DIGITS:
            elems.append(("d", Decimal(ZH_DIGITS[c])))
        elif c in ZH_MULTS:
            elems.append(("m", Decimal(ZH_MULTS[c])))
        else:
            return None
        i += 1
    if not any(k == "m" for k, _ in elems):
        if all(k == "d" for k, _ in elems):
            return Decimal("".join(str(int(v)) for _, v in elems))   # 二〇二六 -> 2026
        if len(elems) == 1:
            return elems[0][1]
        return None
    total = Decimal(0)      # completed 万/亿 groups
    section = Decimal(0)    # below 万
    current: Decimal | None = None
    last_mult: Decimal | None = None
    after_zero = False
    for kind, v in elems:
        if kind in ("n", "d"):
            if kind == "d" and v == 0:
                after_zero = True
                current = None
                continue
            current = v
            continue
        # multiplier
        if v >= 10000:
            group = section + (current if current is not None else Decimal(0))
            if group == 0:
                group = total if total else Decimal(1)
                total = Decimal(0)
            total += group * v
            section = Decimal(0)
        else:
            section += (current if current is not None else Decimal(1)) * v
        current = None
        last_mult = v
        after_zero = False
    if current is not None:
        if last_mult is not None and not after_zero and last_mult >= 100 and current < 10:
            # colloquial: 三千五 = 3500, 十二万五 = 125000, 一万二 = 12000
            section += current * (last_mult / 10)
        else:
            section += current
    return total + section


def _tidy(value: Decimal) -> Decimal:
    """Integral values without a fractional part (15000, not 15000.0); others as written."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value


def _parse_en_words(words: str) -> Decimal | None:
    total = Decimal(0)
    current = Decimal(0)
    seen = False
    for w in re.split(r"[\s-]+", words):
        if not w or w == "and":
            continue
        if w == "a":
            current = Decimal(1) if current == 0 else current
            continue
        if w in EN_SMALL:
            current += EN_SMALL[w]
            seen = True
        elif w in EN_SCALES:
            scale = EN_SCALES[w]
            if current == 0:
                current = Decimal(1)
            if scale == 100:
                current *= scale
            else:
                total += current * scale
                current = Decimal(0)
            seen = True
        else:
            return None
    return total + current if seen else None


# --------------------------------------------------------------------------- scanning

def identifier_spans(text: str) -> list[tuple[int, int]]:
    """Spans of identifiers (policy numbers, claim ids, clause and product ids, plan codes,
    masked phone numbers, long digit strings) in a text; they contain no numbers."""
    norm = normalise_text(text)
    spans: list[tuple[int, int]] = []
    for rx in _IDENTIFIERS:
        for m in rx.finditer(norm):
            if not _overlaps(spans, m.start(), m.end()):
                spans.append((m.start(), m.end()))
    return sorted(spans)


def _overlaps(spans: list[tuple[int, int]], a: int, b: int) -> bool:
    return any(a < e and s < b for s, e in spans)


def _valid_date(y: int, m: int, d: int) -> bool:
    return 1900 <= y <= 2100 and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]


def _small(chars: str | None) -> int | None:
    if chars is None:
        return None
    v = parse_chinese_numeral(chars)
    return int(v) if v is not None and v == int(v) else None


def _find_dates(norm: str, taken: list[tuple[int, int]]) -> list[NumberMention]:
    out: list[NumberMention] = []
    for rx, kind in _DATE_PATTERNS:
        for m in rx.finditer(norm):
            if _overlaps(taken, m.start(), m.end()):
                continue
            iso: str | None = None
            value: int | None = None
            if kind == "ymd":
                y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if _valid_date(y, mo, d):
                    iso, value = f"{y:04d}-{mo:02d}-{d:02d}", y * 10000 + mo * 100 + d
            elif kind == "zh":
                y, mo, d = _small(m.group(1)), _small(m.group(2)), _small(m.group(3))
                if y is None or mo is None:
                    continue
                if d is None:
                    if 1900 <= y <= 2100 and 1 <= mo <= 12:
                        iso, value = f"{y:04d}-{mo:02d}", y * 100 + mo
                elif _valid_date(y, mo, d):
                    iso, value = f"{y:04d}-{mo:02d}-{d:02d}", y * 10000 + mo * 100 + d
            elif kind == "dmy_or_mdy":
                a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
                mo, d = (b, a) if a > 12 else (a, b)
                if _valid_date(y, mo, d):
                    iso, value = f"{y:04d}-{mo:02d}-{d:02d}", y * 10000 + mo * 100 + d
            elif kind == "d_mon_y":
                d, mo, y = int(m.group(1)), MONTHS_EN[m.group(2)], int(m.group(3))
                if _valid_date(y, mo, d):
                    iso, value = f"{y:04d}-{mo:02d}-{d:02d}", y * 10000 + mo * 100 + d
            elif kind == "mon_d_y":
                mo, d, y = MONTHS_EN[m.group(1)], int(m.group(2)), int(m.group(3))
                if _valid_date(y, mo, d):
                    iso, value = f"{y:04d}-{mo:02d}-{d:02d}", y * 10000 + mo * 100 + d
            elif kind in ("mon_d", "d_mon"):
                mo = MONTHS_EN[m.group(1) if kind == "mon_d" else m.group(2)]
                d = int(m.group(2) if kind == "mon_d" else m.group(1))
                if 1 <= d <= calendar.monthrange(2024, mo)[1]:
                    iso, value = f"--{mo:02d}-{d:02d}", mo * 100 + d
            elif kind == "zh_md":
                mo, d = _small(m.group(1)), _small(m.group(2))
                if mo is not None and d is not None and 1 <= mo <= 12 and 1 <= d <= 31:
                    iso, value = f"--{mo:02d}-{d:02d}", mo * 100 + d
            if iso is None or value is None:
                continue
            taken.append((m.start(), m.end()))
            out.append(NumberMention(Decimal(value), m.start(), m.end(), "", "date", False, iso))
    return out


def _unit_after(norm: str, pos: int) -> tuple[str | None, Decimal, int]:
    for rx, unit, factor in _UNITS_AFTER:
        m = rx.match(norm, pos)
        if m and m.end() > pos:
            if unit in ("kg", "cm", "km", "hour", "year", "seat", "sqm", "times", "points", "count", "floor", "class",
                        "level", "age", "month", "week", "day", "minute", "yuan") and m.group().strip()[-1:].isascii() \
                    and m.group().strip()[-1:].isalpha() and m.end() < len(norm) and norm[m.end()].isascii() \
                    and norm[m.end()].isalpha():
                continue   # "5 hours" ok, "5 hourglass" not; "30 yo" ok
            return unit, factor, m.end()
    return None, Decimal(1), pos


def _unit_before(norm: str, start: int) -> str | None:
    head = norm[max(0, start - 12):start]
    for rx, unit in _UNITS_BEFORE:
        if rx.search(head):
            return unit
    return None


def find_numbers(text: str) -> list[NumberMention]:
    """Every number in ``text``, in order, each with its unit (see :class:`NumberMention`).

    Dates (``2026-03-01``, ``2026年3月1日``, ``25 June 1970``, ``06/25/1970``) are one
    mention with unit ``date``; times (``10:30``) unit ``time``; weekdays (周三)
    unit ``weekday``; identifiers (policy numbers, claim and clause ids, masked phone
    numbers) and words like 一下/万一/百万医疗 yield nothing. Ordinals (``第3条``, a
    ``1.`` list marker at line start) are kept with unit ``ordinal``.
    """
    if not text:
        return []
    norm = normalise_text(text)
    taken: list[tuple[int, int]] = list(identifier_spans(text))
    for m in _NON_NUMERIC.finditer(norm):
        taken.append((m.start(), m.end()))
    for m in _YIDIAN.finditer(norm):
        taken.append((m.start(), m.end()))
    found: list[NumberMention] = _find_dates(norm, taken)
    for m in _TIME.finditer(norm):
        if not _overlaps(taken, m.start(), m.end()):
            taken.append((m.start(), m.end()))
            found.append(NumberMention(Decimal(int(m.group(1)) * 100 + int(m.group(2))), m.start(), m.end(),
                                       "", "time"))
    for m in _WEEKDAY.finditer(norm):
        if not _overlaps(taken, m.start(), m.end()):
            taken.append((m.start(), m.end()))
            found.append(NumberMention(Decimal(WEEKDAYS[m.group(1)]), m.start(), m.end(), "", "weekday"))
    for m in _LINE_ORDINAL.finditer(norm):
        a, b = m.start(1), m.end()
        if not _overlaps(taken, a, b):
            taken.append((a, b))
            found.append(NumberMention(Decimal(m.group(1)), a, b, "", "ordinal"))
    for m in _HEIGHT_ZH.finditer(norm):
        if _overlaps(taken, m.start(), m.end()):
            continue
        metres, rest = _small(m.group(1)), m.group(2)
        cm_part = _small(rest)
        if metres is None or cm_part is None:
            continue
        if len(rest) == 1 and cm_part < 10:
            cm_part *= 10                                   # 1米7 = 170
        taken.append((m.start(), m.end()))
        found.append(NumberMention(Decimal(metres * 100 + cm_part), m.start(), m.end(), "", "cm"))
    for m in _HALF.finditer(norm):
        if _overlaps(taken, m.start(), m.end()):
            continue
        lead_raw = m.group("lead") if m.group("scale") else m.group("lead2")
        scale = EN_SCALES[m.group("scale") or m.group("scale2")]
        if lead_raw is None:
            lead = Decimal(0)
        elif lead_raw.isdigit():
            lead = Decimal(lead_raw)
        else:
            lead = Decimal(1) if lead_raw == "a" else _parse_en_words(lead_raw)
        if lead is None:
            continue
        unit, factor, end = _unit_after(norm, m.end())
        taken.append((m.start(), end))
        found.append(NumberMention((lead + Decimal("0.5")) * scale * factor, m.start(), end, "", unit, True))
    scanned = _scan_numbers(norm, taken)
    found += scanned
    found += _scan_en_words(norm, taken + [(n.start, n.end) for n in scanned])
    found.sort(key=lambda n: n.start)
    return [NumberMention(_tidy(n.value), n.start, n.end, text[n.start:n.end], n.unit, n.scaled, n.date) for n in found]


def _scan_numbers(norm: str, taken: list[tuple[int, int]]) -> list[NumberMention]:
    out: list[NumberMention] = []
    n = len(norm)
    i = 0
    blocked = sorted(taken)
    while i < n:
        c = norm[i]
        starts = c.isdigit() or c in _ZH_CHARS or (c == "." and i + 1 < n and norm[i + 1].isdigit())
        if not starts or _overlaps(blocked, i, i + 1):
            i += 1
            continue
        if i > 0 and (norm[i - 1].isascii() and (norm[i - 1].isalpha() or norm[i - 1] in "_")):
            if not re.search(r"(?:rmb|cny|yuan|aged?|x)$", norm[max(0, i - 5):i]):
                i += 1
                continue
        start = i
        j, arabic_only = _consume_token(norm, i, blocked)
        raw = norm[start:j]
        # colloquial trailing digit followed by a classifier is a new number: 十万一年
        core = raw.rstrip()
        if len(core) >= 2 and core[-1] in ZH_DIGITS and core[-2] in ZH_MULTS and ZH_MULTS[core[-2]] >= 100 \
                and j < n and norm[j] in _CLASSIFIERS:
            j = start + len(core) - 1
            raw = norm[start:j]
        value = parse_chinese_numeral(raw)
        if value is None:
            i = j if j > i else i + 1
            continue
        scaled = any(ch in ZH_MULTS and ZH_MULTS[ch] >= 10000 for ch in raw) or (
            any(ch in ZH_MULTS for ch in raw) and any(ch.isdigit() for ch in raw))
        end = j
        unit: str | None = None
        if arabic_only:
            # 1.75m is a height; 1.5m is 1.5 million
            hm = re.match(r"\s*m(?![a-z²2])", norm[end:])
            if hm and Decimal("1.00") <= value < Decimal("2.50") and (
                    re.fullmatch(r"[12]\.\d\d", raw) or re.match(r"\s*(?:tall|high)\b", norm[end + hm.end():])
                    or _HEIGHT_CUE.search(norm[max(0, start - 12):start])):
                out.append(NumberMention(value * 100, start, end + hm.end(), "", "cm"))
                i = end + hm.end()
                continue
            for rx, mult in _LATIN_MULTS:
                mm = rx.match(norm, end)
                if mm:
                    value *= mult
                    scaled = True
                    end = mm.end()
                    break
        # 万元 / 万块: multiplier already in the token, now the unit
        u, factor, uend = _unit_after(norm, end)
        if u is not None:
            unit, end = u, uend
            value = value * factor
            if factor != 1:
                value = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize()
                if value == value.to_integral():
                    value = value.quantize(Decimal(1))
        before = _unit_before(norm, start)
        if before is not None and (unit is None or (before == "yuan" and unit == "yuan")):
            unit = before
        if before == "ordinal":
            unit = "ordinal"
        if before == "%":
            unit = "%"
        # a lone 零/一/two-letter CJK fragment inside a word ("一楼" keeps floor)
        out.append(NumberMention(value, start, end, "", unit, scaled))
        i = max(end, start + 1)
    return out


def _consume_token(norm: str, i: int, blocked: list[tuple[int, int]]) -> tuple[int, bool]:
    """End of the numeral token starting at ``i`` and whether it is Arabic digits only."""
    n = len(norm)
    j = i
    arabic_only = True
    last: str | None = None     # 'n' arabic number, 'd' zh digit, 'm' multiplier
    while j < n:
        if _overlaps(blocked, j, j + 1):
            break
        c = norm[j]
        if c.isdigit() or (c == "." and j + 1 < n and norm[j + 1].isdigit()):
            if last in ("n", "d"):
                break
            m = _ARABIC.match(norm, j)
            if not m:
                break
            j = m.end()
            last = "n"
            continue
        if c in ZH_DIGITS:
            if last == "n":
                break
            arabic_only = False
            last = "d"
            j += 1
            continue
        if c in ZH_MULTS:
            arabic_only = False
            last = "m"
            j += 1
            continue
        if c == "点" and last == "d" and j + 1 < n and norm[j + 1] in ZH_DIGITS:
            j += 1
            last = "."
            continue
        if c == " " and last == "n":
            k = j
            while k < n and norm[k] == " ":
                k += 1
            if k < n and norm[k] in ZH_MULTS:
                j = k
                continue
        break
    if last == "." :
        j -= 1
    return j, arabic_only


def _scan_en_words(norm: str, taken: list[tuple[int, int]]) -> list[NumberMention]:
    out: list[NumberMention] = []
    for m in _EN_NUMBER.finditer(norm):
        if _overlaps(taken, m.start(), m.end()):
            continue
        value = _parse_en_words(m.group())
        if value is None:
            continue
        unit, factor, end = _unit_after(norm, m.end())
        if m.group().strip() == "one" and unit is None:
            continue        # "the one I bought"
        value = value * factor
        scaled = any(w in m.group() for w in ("thousand", "million", "billion"))
        out.append(NumberMention(value, m.start(), end, "", unit, scaled))
    return out


# --------------------------------------------------------------------------- public helpers

def parse_amount(text: str) -> Decimal | None:
    """One money amount written any way customers write it, or None.

    ``500000``, ``500,000``, ``50万``, ``50 万元``, ``五十万``, ``1.5万``, ``1.5 million``,
    ``2k``, ``三千五``, ``一千二百五十块``, ``¥1,234.50``, ``RMB 3000``, ``1亿``, ``十二万五``.
    The first mention that is money-like (unit yuan or none; not a date, age,
    percentage, duration...) is returned.
    """
    if text is None:
        return None
    if isinstance(text, (int, float, Decimal)) and not isinstance(text, bool):
        return to_decimal(text)
    for n in find_numbers(str(text)):
        if n.unit in ("yuan", None):
            return n.value
    return None


def numbers_equal(a: Any, b: Any, tolerance: Decimal = Decimal("0.01")) -> bool:
    """True when two numbers (int, float, Decimal or amount strings such as ``"50万"``)
    differ by at most ``tolerance``; False when either is not a number."""
    da, db = to_decimal(a), to_decimal(b)
    if da is None or db is None:
        return False
    return abs(da - db) <= Decimal(str(tolerance))


def format_money(value: Any, lang: str | None = "zh") -> str:
    """Money as the advisor prints it in both languages: thousands separators and two
    decimals, half-up (``12345.6`` → ``12,345.60``)."""
    d = to_decimal(value)
    if d is None:
        raise ValueError(f"not a number: {value!r}")
    q = d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{q:,.2f}"
