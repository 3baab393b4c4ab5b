"""Type coercion of quote inputs for JSON callers, and date helpers.

* ``int``: an int, a whole float (``30.0``) or a digit string (``"30"``);
* ``number``: an int, a float or a decimal string (``"29.5"``), never NaN/inf;
* ``bool``: a JSON boolean only (``"true"`` is refused);
* ``enum``: one of the listed values; integer enums also take ``"5000"`` or
  ``5000.0``; text enums match case-insensitively (``"f"`` -> ``"F"``);
* ``dict``: a JSON object (see :func:`coerce_dict`).

Anything else (``"五十万"``, ``"30岁"``, ``"1,000"``) is ``INVALID_VALUE``:
turning words into numbers is the language layer's job.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from anxin.tools.errors import ToolError
from anxin.tools.pricing_tables import dec

_NUMERIC = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def bad_value(field_name: str, value: Any, expected: str) -> ToolError:
    """An INVALID_VALUE error naming the field, the value and what was expected."""
    hint = ""
    if isinstance(value, str) and not _NUMERIC.fullmatch(value.strip()) and "number" in expected:
        hint = " (write amounts as digits, e.g. 500000 for 五十万; words are not parsed here)"
    return ToolError("INVALID_VALUE", f"{field_name}={value!r}: expected {expected}{hint}", field=field_name)


def coerce_number(value: Any, field_name: str) -> Decimal:
    """A ``number`` input as an exact Decimal (int, float or decimal string)."""
    if isinstance(value, bool):
        raise bad_value(field_name, value, "a number")
    if isinstance(value, (int, float, Decimal)):
        d = dec(value)
    elif isinstance(value, str) and _NUMERIC.fullmatch(value.strip()):
        d = Decimal(value.strip())
    else:
        raise bad_value(field_name, value, "a number")
    if not d.is_finite():
        raise bad_value(field_name, value, "a finite number")
    return d


def coerce_int(value: Any, field_name: str) -> int:
    """An ``int`` input (int, whole float, digit string)."""
    try:
        d = coerce_number(value, field_name)
    except ToolError:
        raise bad_value(field_name, value, "a whole number") from None
    if d != d.to_integral_value():
        raise bad_value(field_name, value, "a whole number")
    return int(d)


def coerce_bool(value: Any, field_name: str) -> bool:
    """A ``bool`` input: JSON true/false only."""
    if not isinstance(value, bool):
        raise bad_value(field_name, value, "true or false")
    return value


def coerce_enum(spec: Mapping[str, Any], value: Any, field_name: str) -> Any:
    """An ``enum`` input normalised to the catalog's own value."""
    allowed = list(spec["values"])
    listing = ", ".join(str(a) for a in allowed)
    if all(isinstance(a, int) and not isinstance(a, bool) for a in allowed):
        try:
            n = coerce_int(value, field_name)
        except ToolError:
            raise bad_value(field_name, value, f"one of {listing}") from None
        if n in allowed:
            return n
        raise bad_value(field_name, value, f"one of {listing}")
    if isinstance(value, str):
        for a in allowed:
            if str(a).casefold() == value.strip().casefold():
                return a
    raise bad_value(field_name, value, f"one of {listing}")


def coerce(product: Mapping[str, Any], spec: Mapping[str, Any], value: Any) -> Any:
    """Coerce one param value by its ``type`` in ``rating.params``."""
    name, kind = spec["name"], spec["type"]
    if kind == "int":
        return coerce_int(value, name)
    if kind == "number":
        return coerce_number(value, name)
    if kind == "bool":
        return coerce_bool(value, name)
    if kind == "enum":
        return coerce_enum(spec, value, name)
    if kind == "dict":
        return coerce_dict(product, spec, value)
    raise ToolError("INTERNAL_ERROR", f"unknown param type {kind!r} for {name}")


def coerce_dict(product: Mapping[str, Any], spec: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """A dict param. With a dict ``default`` (HOME sensors) the keys are the default's keys,
    the values take the default's types, and missing keys keep their default. For
    ``driving_indicators`` all indicator keys are required numbers (missing ->
    MISSING_PARAM, unknown -> INVALID_PARAM)."""
    name = spec["name"]
    if not isinstance(value, Mapping):
        raise bad_value(name, value, "an object of key/value pairs")
    default = spec.get("default")
    if isinstance(default, Mapping):
        out = dict(default)
        for key, sub in value.items():
            if key not in default:
                raise ToolError("INVALID_PARAM", f"{name}.{key} is not defined; keys: {', '.join(default)}",
                                field=f"{name}.{key}")
            if isinstance(default[key], bool):
                out[key] = coerce_bool(sub, f"{name}.{key}")
            else:
                out[key] = coerce_number(sub, f"{name}.{key}")
        return out
    if name == "driving_indicators":
        keys = [i["key"] for i in product["driving_score"]["indicators"]]
        for key in value:
            if key not in keys:
                raise ToolError("INVALID_PARAM", f"{name}.{key} is not an indicator; indicators: {', '.join(keys)}",
                                field=f"{name}.{key}")
        out = {}
        for key in keys:
            if value.get(key) is None:
                raise ToolError("MISSING_PARAM", f"{name}.{key} (all {len(keys)} indicators are required)",
                                field=f"{name}.{key}")
            out[key] = coerce_number(value[key], f"{name}.{key}")
            if out[key] < 0:
                raise bad_value(f"{name}.{key}", value[key], "a number >= 0")
            if key.endswith("_pct") and out[key] > 100:
                raise bad_value(f"{name}.{key}", value[key], "a percentage between 0 and 100")
        return out
    return dict(value)


def parse_date(value: Any, field_name: str) -> dt.date:
    """An ISO date (``YYYY-MM-DD``) or a ``date`` object."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ToolError("INVALID_VALUE", f"{field_name}={value!r}: expected an ISO date YYYY-MM-DD", field=field_name)


def age_last_birthday(birth: dt.date, on: dt.date) -> int:
    """Age last birthday (周岁) on a date. A 29 February birthday falls on 1 March in common years."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
