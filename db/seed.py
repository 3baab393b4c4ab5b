"""Load demo_data.yaml (customers, policies, claims and their timelines) idempotently.

Rows are keyed by their filing ids (customer_id, policy_number, claim_id): a second run
updates what changed and adds nothing. Claims filed through the advisor
(``source = 'filed'``) are never touched. Fields of the filing without a column of their
own are kept in each row's ``details`` JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from anxin.db._util import optional_date
from anxin.db.models import Claim, ClaimEvent, Customer, Policy
from anxin.knowledge.filing import load_catalog, load_demo_data

_CUSTOMER_COLUMNS = {
    "customer_id", "gender", "dob", "id_type", "id_last4", "phone_masked", "city", "occupation",
    "occupation_class", "smoker", "social_insurance", "hbb_points", "preferred_language", "guardian_id", "name",
}
_POLICY_COLUMNS = {
    "policy_number", "product_id", "policyholder_id", "insured_id", "status", "original_issue_date",
    "receipt_date", "cooling_off_until", "waiting_period_until", "rating_date", "start_date", "end_date",
    "renewal_count", "sum_insured", "premium", "premium_frequency", "quote_params", "underwriting",
}
_CLAIM_COLUMNS = {
    "claim_id", "policy_number", "insured_id", "coverages", "type", "incident_date", "submitted_date",
    "amount_claimed", "status", "approved_amount", "paid_amount", "paid_date", "missing_documents",
    "settlement", "estimate_if_approved", "rejection_reason", "timeline",
}
# Never stored, whatever a filing carries (general.genetic_data_policy).
_FORBIDDEN_KEYS = ("genetic", "gene_test", "dna", "基因")


@dataclass
class SeedReport:
    """Per table: how many rows were added, updated or already up to date."""

    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, table: str, outcome: str) -> None:
        bucket = getattr(self, outcome)
        bucket[table] = bucket.get(table, 0) + 1

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"added": dict(self.added), "updated": dict(self.updated), "unchanged": dict(self.unchanged)}


def _strip_forbidden(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not any(w in str(k).lower() for w in _FORBIDDEN_KEYS)}


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def validate_demo_data(data: dict[str, Any] | None = None, catalog: dict[str, Any] | None = None) -> list[str]:
    """Problems of the demo data against the catalog (statuses, products, coverages,
    document ids, references); an empty list when consistent."""
    data = data or load_demo_data()
    catalog = catalog or load_catalog()
    general = catalog["general"]
    products = {p["id"]: p for p in catalog["products"]}
    docs = catalog.get("claim_documents", {})
    problems: list[str] = []
    customers = {c["customer_id"] for c in data.get("customers", [])}
    policies = {p["policy_number"]: p for p in data.get("policies", [])}
    for c in data.get("customers", []):
        if c.get("guardian_id") and c["guardian_id"] not in customers:
            problems.append(f"{c['customer_id']}: unknown guardian {c['guardian_id']}")
    for p in data.get("policies", []):
        pn = p["policy_number"]
        if p.get("status") not in general["policy_statuses"]:
            problems.append(f"{pn}: unknown policy status {p.get('status')!r}")
        if p.get("product_id") not in products:
            problems.append(f"{pn}: unknown product {p.get('product_id')!r}")
        for role in ("policyholder_id", "insured_id"):
            if p.get(role) not in customers:
                problems.append(f"{pn}: unknown {role} {p.get(role)!r}")
    for c in data.get("claims", []):
        cid = c["claim_id"]
        pol = policies.get(c.get("policy_number"))
        if pol is None:
            problems.append(f"{cid}: unknown policy {c.get('policy_number')!r}")
            continue
        codes = {cov["code"] for cov in products.get(pol["product_id"], {}).get("coverages", [])}
        for code in c.get("coverages", []):
            if code not in codes:
                problems.append(f"{cid}: coverage {code} not in {pol['product_id']}")
        if c.get("status") not in general["claim_statuses"]:
            problems.append(f"{cid}: unknown claim status {c.get('status')!r}")
        for ev in c.get("timeline", []):
            if ev.get("status") not in general["claim_statuses"]:
                problems.append(f"{cid}: unknown timeline status {ev.get('status')!r}")
        for doc in c.get("missing_documents", []):
            if doc not in docs:
                problems.append(f"{cid}: unknown document id {doc}")
    return problems


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _upsert(db: Session, model: type, pk: str, values: dict[str, Any], report: SeedReport, table: str) -> Any:
    row = db.get(model, pk)
    if row is None:
        row = model(**values)
        db.add(row)
        report.count(table, "added")
    elif _apply(row, values):
        report.count(table, "updated")
    else:
        report.count(table, "unchanged")
    return row


def seed(db: Session, data: dict[str, Any] | None = None, *, strict: bool = True) -> SeedReport:
    """Load the demo data into the database (committing); returns what changed.

    With ``strict`` (default) the data is checked against the catalog first and a
    ``ValueError`` lists every inconsistency.
    """
    data = data or load_demo_data()
    if strict:
        problems = validate_demo_data(data)
        if problems:
            raise ValueError("demo data inconsistent with the catalog:\n" + "\n".join(problems))
    report = SeedReport()

    customers = data.get("customers", [])
    added_ids: set[str] = set()
    updated_ids: set[str] = set()
    for c in customers:
        extra = _strip_forbidden({k: v for k, v in c.items() if k not in _CUSTOMER_COLUMNS})
        values = {
            "customer_id": c["customer_id"], "name_zh": c["name"]["zh"], "name_en": c["name"]["en"],
            "gender": c.get("gender"), "dob": optional_date(c["dob"]), "id_type": c.get("id_type"),
            "id_last4": str(c["id_last4"]), "phone_masked": c.get("phone_masked"), "city": c.get("city"),
            "occupation": c.get("occupation"), "occupation_class": c.get("occupation_class"),
            "smoker": c.get("smoker"), "social_insurance": c.get("social_insurance"),
            "hbb_points": int(c.get("hbb_points") or 0), "preferred_language": c.get("preferred_language"),
            "details": extra,
        }
        row = db.get(Customer, c["customer_id"])
        if row is None:  # guardian links are set in a second pass (self-reference)
            db.add(Customer(**values, guardian_id=None))
            added_ids.add(c["customer_id"])
        elif _apply(row, values):
            updated_ids.add(c["customer_id"])
    db.flush()
    for c in customers:
        row = db.get(Customer, c["customer_id"])
        if row is not None and row.guardian_id != c.get("guardian_id"):
            row.guardian_id = c.get("guardian_id")
            if c["customer_id"] not in added_ids:
                updated_ids.add(c["customer_id"])
    for c in customers:
        cid = c["customer_id"]
        report.count("customers", "added" if cid in added_ids else "updated" if cid in updated_ids else "unchanged")
    db.flush()

    for p in data.get("policies", []):
        extra = _strip_forbidden({k: v for k, v in p.items() if k not in _POLICY_COLUMNS})
        values = {
            "policy_number": p["policy_number"], "product_id": p["product_id"],
            "policyholder_id": p["policyholder_id"], "insured_id": p["insured_id"], "status": p["status"],
            "original_issue_date": optional_date(p.get("original_issue_date")),
            "receipt_date": optional_date(p.get("receipt_date")),
            "cooling_off_until": optional_date(p.get("cooling_off_until")),
            "waiting_period_until": optional_date(p.get("waiting_period_until")),
            "rating_date": optional_date(p.get("rating_date")),
            "start_date": optional_date(p["start_date"]), "end_date": optional_date(p.get("end_date")),
            "renewal_count": int(p.get("renewal_count") or 0), "sum_insured": p.get("sum_insured"),
            "premium": _money(p["premium"]), "premium_frequency": p.get("premium_frequency"),
            "quote_params": dict(p.get("quote_params") or {}),
            "underwriting": _strip_forbidden(dict(p["underwriting"])) if p.get("underwriting") else None,
            "details": extra,
        }
        _upsert(db, Policy, p["policy_number"], values, report, "policies")
    db.flush()

    for c in data.get("claims", []):
        extra = _strip_forbidden({k: v for k, v in c.items() if k not in _CLAIM_COLUMNS})
        values = {
            "claim_id": c["claim_id"], "policy_number": c["policy_number"], "insured_id": c["insured_id"],
            "coverages": list(c.get("coverages") or []), "claim_type": c.get("type"),
            "incident_date": optional_date(c.get("incident_date")),
            "submitted_date": optional_date(c["submitted_date"]),
            "amount_claimed": _money(c.get("amount_claimed")), "status": c["status"],
            "approved_amount": _money(c.get("approved_amount")), "paid_amount": _money(c.get("paid_amount")),
            "paid_date": optional_date(c.get("paid_date")),
            "missing_documents": list(c.get("missing_documents") or []),
            "settlement": c.get("settlement"), "estimate_if_approved": c.get("estimate_if_approved"),
            "rejection_reason": c.get("rejection_reason"), "source": "demo", "details": extra,
        }
        row = _upsert(db, Claim, c["claim_id"], values, report, "claims")
        wanted = [(i + 1, ev["status"], optional_date(ev["date"]), ev.get("note"))
                  for i, ev in enumerate(c.get("timeline") or [])]
        have = [(ev.seq, ev.status, ev.event_date, ev.note) for ev in row.events]
        if have != wanted:
            if have:
                row.events.clear()
                db.flush()
                report.count("claim_events", "updated")
            row.events.extend(ClaimEvent(seq=s, status=st, event_date=d, note=n) for s, st, d, n in wanted)
            if not have:
                for _ in wanted:
                    report.count("claim_events", "added")
        else:
            for _ in wanted:
                report.count("claim_events", "unchanged")
    db.commit()
    return report


def expected_counts(data: dict[str, Any] | None = None) -> dict[str, int]:
    """Row counts the demo data yields (customers, policies, claims, claim_events)."""
    data = data or load_demo_data()
    return {
        "customers": len(data.get("customers", [])),
        "policies": len(data.get("policies", [])),
        "claims": len(data.get("claims", [])),
        "claim_events": sum(len(c.get("timeline") or []) for c in data.get("claims", [])),
    }
