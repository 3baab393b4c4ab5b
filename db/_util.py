"""Small shared helpers: dates, money, names and filing look-ups."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any

from anxin.knowledge.filing import load_catalog, load_demo_data
from anxin.tools.errors import ToolError

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$"),
)


def parse_date(value: Any, field: str) -> dt.date:
    """A date from a ``date``/``datetime`` or a string such as ``2026-10-05``,
    ``2026/10/5``, ``20261005`` or ``2026年10月5日``; INVALID_VALUE otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if "T" in text:
            text = text.split("T", 1)[0]
        for pattern in _DATE_PATTERNS:
            m = pattern.match(text)
            if m:
                try:
                    return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    break
    raise ToolError("INVALID_VALUE", f"{field}={value!r} is not a date (YYYY-MM-DD)", field=field)


def optional_date(value: Any) -> dt.date | None:
    """``None`` stays ``None``; anything else goes through :func:`parse_date` (seed data)."""
    return None if value is None else parse_date(value, "date")


def naive_utc(moment: dt.datetime | None) -> dt.datetime:
    """A timestamp as naive UTC (the storage convention); naive input is taken as UTC."""
    if moment is None:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if moment.tzinfo is not None:
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def iso(value: dt.date | dt.datetime | None) -> str | None:
    """ISO text of a date or timestamp (None stays None)."""
    return None if value is None else value.isoformat()


def money(value: Decimal | float | int | None) -> int | float | None:
    """JSON-friendly amount: an int when whole, else a float with 2 decimals."""
    if value is None:
        return None
    d = Decimal(str(value)).quantize(Decimal("0.01"))
    return int(d) if d == d.to_integral_value() else float(d)


def norm_text(value: str | None) -> str:
    """Case-, width- and space-insensitive form of a name (drops spaces, dots, hyphens,
    middle dots and commas)."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return re.sub(r"[\s\.\-·•・,'’_]+", "", text)


def name_tokens(value: str | None) -> tuple[str, ...]:
    """The sorted words of a Latin-script name (to accept "Wei Zhang" for "Zhang Wei")."""
    if not value:
        return ()
    text = unicodedata.normalize("NFKC", str(value)).casefold()
    return tuple(sorted(t for t in re.split(r"[\s\.\-·•・,_]+", text) if t))


def norm_id_last4(value: Any) -> str:
    """Upper-case, space-free form of the last 4 ID characters (``053x`` → ``053X``)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).upper()


def norm_key(value: Any) -> str:
    """Upper-case, space-free policy number or claim id."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value or ""))).upper()


def demo_today() -> dt.date:
    """The demo world's date (``meta.as_of_date`` of demo_data.yaml, 2026-11-01)."""
    return parse_date(load_demo_data()["meta"]["as_of_date"], "as_of_date")


def general() -> dict[str, Any]:
    return load_catalog()["general"]


def status_entry(kind: str, code: str) -> dict[str, str]:
    """``{"code", "zh", "en"}`` of a policy (``kind='policy'``) or claim status."""
    table = general()["policy_statuses" if kind == "policy" else "claim_statuses"]
    texts = table.get(code) or {}
    return {"code": code, "zh": texts.get("zh", code), "en": texts.get("en", code)}


def document_entry(doc_id: str) -> dict[str, Any]:
    """``{"id", "zh", "en", "auto_retrieved"}`` of a claim document id."""
    texts = load_catalog().get("claim_documents", {}).get(doc_id) or {}
    en = texts.get("en", doc_id)
    return {
        "id": doc_id,
        "zh": texts.get("zh", doc_id),
        "en": en,
        "auto_retrieved": "auto-retrieved" in en,
    }


def age_on(dob: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))
