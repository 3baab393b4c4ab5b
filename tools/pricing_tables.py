"""Exact arithmetic and table look-ups shared by the rating engines.

Every YAML number enters the calculation as ``Decimal(str(value))`` (floats via
their shortest ``repr``), so ``1.10`` is exactly 1.1 and ``236 x 1.25 x 1.10 x
1.15`` is exactly 373.175. Quotients that do not terminate (a return rate, a
driving sub-score) are kept as :class:`fractions.Fraction`. Rounding happens
only where the filing says so: :func:`round_half_up` for money (once, at the
end) and :func:`round1` for BMI and the driving score before banding.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

Number = Decimal | Fraction | int | float


def dec(value: Any) -> Decimal:
    """The exact Decimal of a YAML/JSON number, taken from its decimal string.

    ``float`` goes through ``repr`` (the shortest string that round-trips), so
    ``dec(1.1) == Decimal("1.1")``. Booleans are refused (``True`` is not 1 here).
    """
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Fraction):
        raise TypeError("convert a Fraction with round_half_up, not dec()")
    return Decimal(str(value))


def frac(value: Number) -> Fraction:
    """The exact Fraction of a number (floats through their decimal string)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(dec(value))


def round_half_up(value: Number, places: int = 2) -> Decimal:
    """Round half away from zero to ``places`` decimals, exactly (Decimal or Fraction in)."""
    if isinstance(value, Fraction):
        scaled = abs(value) * 10**places
        units = math.floor(scaled + Fraction(1, 2))
        sign = -1 if value < 0 else 1
        return Decimal(sign * units).scaleb(-places)
    return dec(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round1(value: Number) -> Decimal:
    """``round1(x)``: half-up to one decimal (BMI and driving score, before banding)."""
    return round_half_up(value, 1)


def clamp(value: Decimal, lo: Decimal, hi: Decimal) -> Decimal:
    """``clamp(x, lo, hi)`` = min(max(x, lo), hi)."""
    return min(max(value, lo), hi)


def fmt(value: Number) -> str:
    """A number as plain text without exponent or trailing zeros (``1.10`` -> ``1.1``)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Fraction):
        return fmt(round_half_up(value, 10))
    text = format(dec(value).normalize(), "f")
    return text


def to_json(value: Any) -> Any:
    """A value made JSON-friendly: Decimal -> int when whole else float; dicts/lists recursed."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 10**15 else float(value)
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def find_band(bands: Sequence[Mapping[str, Any]], value: Number) -> Mapping[str, Any] | None:
    """The band holding ``value``: ``min``/``max`` both inclusive; ``gte`` inclusive, ``lt`` exclusive.

    A missing bound is unbounded. Returns None when no band matches.
    """
    v = frac(value)
    for band in bands:
        if "min" in band or "max" in band:
            if "min" in band and v < frac(band["min"]):
                continue
            if "max" in band and v > frac(band["max"]):
                continue
            return band
        if band.get("gte") is not None and v < frac(band["gte"]):
            continue
        if band.get("lt") is not None and v >= frac(band["lt"]):
            continue
        return band
    return None


def band_label(band: Mapping[str, Any]) -> str:
    """A band as text: ``26-30`` for age bands, ``[24.0, 28.0)`` / ``>= 28.0`` / ``< 18.5`` otherwise."""
    if "min" in band or "max" in band:
        lo, hi = band.get("min"), band.get("max")
        if lo is not None and hi is not None:
            return f"{lo}-{hi}"
        return f">= {lo}" if lo is not None else f"<= {hi}"
    lo, hi = band.get("gte"), band.get("lt")
    if lo is not None and hi is not None:
        return f"[{lo}, {hi})"
    if lo is not None:
        return f">= {lo}"
    if hi is not None:
        return f"< {hi}"
    return "all"


_MISSING = object()


def keyed(table: Mapping[Any, Any], key: Any) -> Any:
    """``t[k]`` for an option table (bool, int or str keys as YAML parsed them).

    Booleans never match integers; a key like ``"3+"`` matches any integer at or
    above 3. Raises KeyError when nothing matches.
    """
    k = _table_key(table, key)
    if k is _MISSING:
        raise KeyError(key)
    return table[k]


def keyed_label(table: Mapping[Any, Any], key: Any) -> str:
    """The table key used for ``key`` as text (``"3+"`` for 5 in the claims table)."""
    k = _table_key(table, key)
    if k is _MISSING:
        return str(key)
    return str(k).lower() if isinstance(k, bool) else str(k)


def _table_key(table: Mapping[Any, Any], key: Any) -> Any:
    """The key object of ``table`` that ``key`` selects, or ``_MISSING``."""
    for k in table:
        if k == key and isinstance(k, bool) == isinstance(key, bool):
            return k
    if isinstance(key, int) and not isinstance(key, bool):
        for k in table:
            if isinstance(k, str) and k.endswith("+") and k[:-1].isdigit() and key >= int(k[:-1]):
                return k
    return _MISSING
