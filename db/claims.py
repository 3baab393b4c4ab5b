"""Claim services behind the ``claim_status`` and ``file_claim`` tools.

Both need a :class:`~anxin.db.verification.VerifiedIdentity` (or its ``to_dict()`` form):
without one they raise NOT_VERIFIED; a policy or claim the identity may not see (or
that does not exist: the answer is the same) raises FORBIDDEN. Every disclosure and
every filing is audited.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from anxin.db._util import (
    demo_today,
    document_entry,
    iso,
    money,
    norm_key,
    parse_date,
    status_entry,
)
from anxin.db.audit import audit
from anxin.db.models import Claim, ClaimEvent, IdempotencyKey, Policy
from anxin.db.verification import VerifiedIdentity, coerce_identity
from anxin.knowledge.filing import product as catalog_product
from anxin.tools.errors import ToolError

IDEMPOTENCY_SCOPE = "file_claim"
FILED_NOTE = {"zh": "通过安心智能顾问在线提交理赔申请", "en": "claim submitted online via the Anxin advisor"}

# Policy fields (from demo_data) that describe where a policy stands; shown with its status.
POLICY_STATUS_FIELDS = (
    "cancellation", "lapsed_since", "grace_period_end", "unpaid_premium_due", "reinstatement_deadline",
    "next_premium_due", "premium_status", "benefit_status", "deductible", "deductible_used_this_year",
    "guaranteed_renewal_until", "coverage_period", "free_cancellation_until",
)
# Claim fields that are neither columns nor the timeline: returned under "details".
_ACCIDENT_WORDS = (
    "accident", "injur", "fractur", "crash", "collision", "slip", "fall", "fell", "burn", "sprain",
    "wound", "bite", "意外", "骨折", "摔", "车祸", "撞", "跌", "烧伤", "烫伤", "扭伤", "外伤", "咬伤", "溺水",
)
# Coverages that are only limits (nothing to claim): no benefit, scope, perils or trigger.
_LIMIT_ONLY_KEYS = {"code", "name", "sum_insured", "limit"}


# --------------------------------------------------------------------------- shapes
def coverage_entry(product: dict[str, Any], code: str) -> dict[str, Any]:
    """``{"code", "zh", "en", "clause_id"}`` of a product coverage."""
    for cov in product.get("coverages", []):
        if cov.get("code") == code:
            names = cov.get("name") or {}
            return {"code": code, "zh": names.get("zh", code), "en": names.get("en", code),
                    "clause_id": f"{product['id']}-COV-{code}"}
    return {"code": code, "zh": code, "en": code, "clause_id": f"{product['id']}-COV-{code}"}


def claimable_coverages(product: dict[str, Any]) -> list[str]:
    """Coverage codes a claim can be filed under (all but pure limits such as ANNUAL_LIMIT)."""
    return [c["code"] for c in product.get("coverages", [])
            if c.get("code") and not set(c) <= _LIMIT_ONLY_KEYS]


def policy_summary(policy: Policy) -> dict[str, Any]:
    """Where a policy stands: product, status (code + zh/en), dates, premium and the
    status-related fields of the filing (cancellation, lapse, deductible used, ...)."""
    product = catalog_product(policy.product_id) or {"id": policy.product_id, "name": {}}
    summary: dict[str, Any] = {
        "policy_number": policy.policy_number,
        "product_id": policy.product_id,
        "product_name": dict(product.get("name") or {}),
        "status": status_entry("policy", policy.status),
        "policyholder_id": policy.policyholder_id,
        "insured_id": policy.insured_id,
        "insured_name": policy.insured.name if policy.insured is not None else None,
        "start_date": iso(policy.start_date),
        "end_date": iso(policy.end_date),
        "original_issue_date": iso(policy.original_issue_date),
        "cooling_off_until": iso(policy.cooling_off_until),
        "waiting_period_until": iso(policy.waiting_period_until),
        "renewal_count": policy.renewal_count,
        "premium": money(policy.premium),
        "premium_frequency": policy.premium_frequency,
        "sum_insured": policy.sum_insured,
    }
    details = policy.details or {}
    for key in POLICY_STATUS_FIELDS:
        if key in details:
            summary[key] = details[key]
    return summary


def claim_to_dict(claim: Claim) -> dict[str, Any]:
    """A claim as the tools return it: status (code + zh/en), dated timeline, missing
    documents (id + zh/en), rejection reason with clause ids, settlement or estimate."""
    product = catalog_product(claim.policy.product_id) if claim.policy else None
    product = product or {"id": claim.policy.product_id if claim.policy else "", "coverages": []}
    rejection = dict(claim.rejection_reason) if claim.rejection_reason else None
    return {
        "claim_id": claim.claim_id,
        "policy_number": claim.policy_number,
        "product_id": product.get("id"),
        "insured_id": claim.insured_id,
        "type": dict(claim.claim_type or {}),
        "coverages": [coverage_entry(product, c) for c in claim.coverages or []],
        "incident_date": iso(claim.incident_date),
        "submitted_date": iso(claim.submitted_date),
        "status": status_entry("claim", claim.status),
        "amount_claimed": money(claim.amount_claimed),
        "approved_amount": money(claim.approved_amount),
        "paid_amount": money(claim.paid_amount),
        "paid_date": iso(claim.paid_date),
        "timeline": [
            {
                "status": ev.status,
                "status_zh": status_entry("claim", ev.status)["zh"],
                "status_en": status_entry("claim", ev.status)["en"],
                "date": iso(ev.event_date),
                "note": dict(ev.note or {}),
            }
            for ev in claim.events
        ],
        "missing_documents": [document_entry(d) for d in claim.missing_documents or []],
        "rejection_reason": rejection,
        "clause_refs": list((rejection or {}).get("clause_refs") or []),
        "settlement": claim.settlement,
        "estimate_if_approved": claim.estimate_if_approved,
        "description": claim.description,
        "source": claim.source,
        "details": dict(claim.details or {}),
    }


def _forbidden(ident: VerifiedIdentity, what: str) -> ToolError:
    visible = ", ".join(ident.policy_numbers) or "none"
    return ToolError("FORBIDDEN", f"{what} is not among the verified customer's policies ({visible})")


# --------------------------------------------------------------------------- claim_status
def claim_status(
    db: Session,
    identity: VerifiedIdentity | dict[str, Any] | None,
    *,
    policy_number: str | None = None,
    claim_id: str | None = None,
) -> dict[str, Any]:
    """Claims the verified customer may see: one claim (``claim_id``) or every claim on a
    policy (``policy_number``, oldest first) with the policy's status summary.

    Result: ``{"customer_id", "policy_number", "claim_id", "as_of", "policy": {...},
    "claims": [claim...], "claim_count", "claim": {...} (claim_id queries only)}``; each
    claim as :func:`claim_to_dict`. Raises NOT_VERIFIED, MISSING_PARAM, FORBIDDEN.
    """
    ident = coerce_identity(db, identity)
    if not policy_number and not claim_id:
        raise ToolError("MISSING_PARAM", "policy_number or claim_id", field="policy_number")
    if claim_id:
        cid = norm_key(claim_id)
        claim = db.get(Claim, cid)
        if claim is None or not ident.can_see(claim.policy_number):
            raise _forbidden(ident, f"claim {cid}")
        if policy_number and norm_key(policy_number) != claim.policy_number:
            raise ToolError("INVALID_VALUE", f"claim {cid} does not belong to policy {norm_key(policy_number)}",
                            field="policy_number")
        policy = claim.policy
        claims = [claim]
        subject = cid
    else:
        pn = norm_key(policy_number)
        policy = db.get(Policy, pn) if ident.can_see(pn) else None
        if policy is None:
            raise _forbidden(ident, f"policy {pn}")
        claims = list(db.scalars(
            select(Claim).where(Claim.policy_number == pn).order_by(Claim.submitted_date, Claim.claim_id)
        ))
        subject = pn
    result: dict[str, Any] = {
        "customer_id": ident.customer_id,
        "policy_number": policy.policy_number,
        "claim_id": norm_key(claim_id) if claim_id else None,
        "as_of": iso(demo_today()),
        "policy": policy_summary(policy),
        "claims": [claim_to_dict(c) for c in claims],
        "claim_count": len(claims),
    }
    if claim_id:
        result["claim"] = result["claims"][0]
    audit(db, f"customer:{ident.customer_id}", "claim_status.disclose", subject,
          {"session_id": ident.session_id, "policy_number": policy.policy_number,
           "claim_ids": [c.claim_id for c in claims]})
    db.commit()
    return result


# --------------------------------------------------------------------------- file_claim
def _norm_code(value: str) -> str:
    return re.sub(r"[\s\-]+", "_", unicodedata.normalize("NFKC", str(value)).strip()).upper()


def match_coverage(product: dict[str, Any], claim_type: str) -> str:
    """The coverage code ``claim_type`` names (code, case-insensitive; ``-``/space for ``_``;
    or the clause id ``<PID>-COV-<code>``); INVALID_VALUE listing the valid codes."""
    valid = claimable_coverages(product)
    raw = str(claim_type or "").strip()
    want = _norm_code(raw)
    prefix = _norm_code(f"{product['id']}-COV-")
    if want.startswith(prefix):
        want = want[len(prefix):]
    for code in valid:
        if want == code.upper():
            return code
    raise ToolError("INVALID_VALUE", f"claim_type={raw!r}; valid for {product['id']}: {', '.join(valid)}",
                    field="claim_type")


def documents_for(product: dict[str, Any], code: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Documents a claim under coverage ``code`` needs: the product's ``claim_documents``
    plus ``claim_documents_conditional[code]`` (each ``{"id", "zh", "en", "auto_retrieved"}``),
    and the other conditional groups as ``[{"condition", "documents"}]`` (needed only when
    that condition applies, e.g. DEATH, FRACTURE)."""
    conditional = product.get("claim_documents_conditional") or {}
    ids: list[str] = []
    for doc in list(product.get("claim_documents") or []) + list(conditional.get(code) or []):
        if doc not in ids:
            ids.append(doc)
    other = [
        {"condition": key, "documents": [document_entry(d) for d in docs or []]}
        for key, docs in conditional.items() if key != code
    ]
    return [document_entry(d) for d in ids], other


def _parse_amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ToolError("INVALID_VALUE", f"amount={value!r}", field="amount")
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = re.sub(r"(?i)^(cny|rmb|¥|￥)\s*|\s*(元|cny|rmb)$", "", text).replace(",", "").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ToolError("INVALID_VALUE", f"amount={value!r} is not a number", field="amount") from None
    if not amount.is_finite() or amount <= 0:
        raise ToolError("INVALID_VALUE", f"amount={value!r} must be greater than 0", field="amount")
    return amount.quantize(Decimal("0.01"))


def _nature(product: dict[str, Any], code: str, cause: str | None, description: str | None) -> str:
    if cause:
        c = str(cause).strip().lower()
        if c in {"accident", "意外", "accidental", "injury"}:
            return "accident"
        if c in {"illness", "疾病", "disease", "sickness"}:
            return "illness"
        raise ToolError("INVALID_VALUE", f"cause={cause!r}; valid: accident, illness", field="cause")
    if product.get("line") == "accident" or code.upper().startswith("ACC"):
        return "accident"
    text = (description or "").casefold()
    return "accident" if any(w in text for w in _ACCIDENT_WORDS) else "illness"


def _is_renewal(policy: Policy) -> bool:
    return bool(policy.renewal_count) or (policy.quote_params or {}).get("renewal") is True


def _next_claim_id(db: Session, year: int) -> str:
    prefix = f"CLM-{year}-"
    numbers = [int(m.group(1)) for cid in db.scalars(select(Claim.claim_id).where(Claim.claim_id.like(prefix + "%")))
               if (m := re.fullmatch(re.escape(prefix) + r"(\d+)", cid))]
    return f"{prefix}{(max(numbers) if numbers else 0) + 1:04d}"


def _fingerprint(**request: Any) -> str:
    blob = json.dumps(request, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _notice(code: str, zh: str, en: str) -> dict[str, str]:
    return {"code": code, "zh": zh, "en": en}


def _filed_result(claim: Claim, code: str, *, replay: bool, notices: list[dict[str, str]]) -> dict[str, Any]:
    product = catalog_product(claim.policy.product_id) or {"id": claim.policy.product_id}
    needed, other = documents_for(product, code)
    data = claim_to_dict(claim)
    return {
        "filed": True,
        "decision": "submitted",
        "claim_id": claim.claim_id,
        "claim": data,
        "policy": policy_summary(claim.policy),
        "coverage": coverage_entry(product, code),
        "documents_needed": needed,
        "documents_if_applicable": other,
        "missing_documents": data["missing_documents"],
        "clause_refs": [f"{product['id']}-COV-{code}", f"{product['id']}-CLAIM-DOCS"],
        "notices": notices,
        "idempotent_replay": replay,
    }


def _replay(db: Session, row: IdempotencyKey, fingerprint: str) -> dict[str, Any]:
    claim = db.get(Claim, row.claim_id)
    assert claim is not None
    notices = []
    conflict = row.request_fingerprint != fingerprint
    if conflict:
        notices.append(_notice(
            "IDEMPOTENCY_KEY_REUSED",
            "该幂等键已用于另一项理赔请求，返回其当时创建的理赔，未新建理赔。",
            "this idempotency_key was already used for a different request; the claim it created is returned and no new claim was filed.",
        ))
    result = _filed_result(claim, (claim.coverages or [""])[0], replay=True, notices=notices)
    result["idempotency_conflict"] = conflict
    return result


def file_claim(
    db: Session,
    identity: VerifiedIdentity | dict[str, Any] | None,
    *,
    policy_number: str,
    claim_type: str,
    incident_date: str | dt.date | None = None,
    amount: Any = None,
    description: str | None = None,
    idempotency_key: str | None = None,
    today: str | dt.date | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """File a claim on a policy the verified customer may see.

    Checks, in order: the coverage (``claim_type`` = a coverage code of the product,
    case-insensitive; INVALID_VALUE listing the valid ones), the incident date (not in the
    future: INVALID_VALUE; default ``today``, the most favourable assumption), the amount
    (> 0), the policy in force on the incident date (POLICY_NOT_IN_FORCE: status active, or
    expired with the incident inside its term; incident not before the start date nor
    after the end date) and the waiting period (``general.waiting_period_day_count``:
    an illness on or before start_date + N − 1 is declined with ``<PID>-WAITING``;
    accidents have 0 days, renewals none). ``cause`` (accident | illness) overrides the
    nature otherwise inferred from the product line and the description.

    ``today`` defaults to the demo world's date (meta.as_of_date, 2026-11-01).

    Returns ``{"filed": True, "decision": "submitted", "claim_id", "claim", "policy",
    "coverage", "documents_needed", "documents_if_applicable", "missing_documents",
    "clause_refs", "notices", "idempotent_replay"}`` or, for a waiting-period decline (no
    claim is created), ``{"filed": False, "decision": "declined", "claim_id": None,
    "reason": {"code": "WAITING_PERIOD", "zh", "en", "clause_refs"}, "waiting_period",
    "policy", "coverage", "incident_date", "clause_refs", "notices"}``.

    The same ``idempotency_key`` (per verified customer) always returns the claim it first
    created, never a duplicate (unique constraint on scope + owner + key).
    """
    ident = coerce_identity(db, identity)
    if not policy_number:
        raise ToolError("MISSING_PARAM", "policy_number", field="policy_number")
    if not claim_type or not str(claim_type).strip():
        raise ToolError("MISSING_PARAM", "claim_type", field="claim_type")
    pn = norm_key(policy_number)
    policy = db.get(Policy, pn) if ident.can_see(pn) else None
    if policy is None:
        raise _forbidden(ident, f"policy {pn}")
    product = catalog_product(policy.product_id)
    if product is None:
        raise ToolError("UNKNOWN_PRODUCT", policy.product_id)

    key = str(idempotency_key).strip()[:200] if idempotency_key else None
    fingerprint = _fingerprint(policy_number=pn, claim_type=_norm_code(str(claim_type)),
                               incident_date=str(incident_date) if incident_date else None,
                               amount=str(amount) if amount is not None else None,
                               description=description or None, cause=cause or None)
    if key:
        row = db.scalars(select(IdempotencyKey).where(
            IdempotencyKey.scope == IDEMPOTENCY_SCOPE, IdempotencyKey.owner == ident.customer_id,
            IdempotencyKey.key == key)).first()
        if row is not None:
            return _replay(db, row, fingerprint)

    code = match_coverage(product, str(claim_type))
    coverage = coverage_entry(product, code)
    today_d = parse_date(today, "today") if today else demo_today()
    notices: list[dict[str, str]] = []
    if incident_date:
        incident = parse_date(incident_date, "incident_date")
    else:
        incident = today_d
        notices.append(_notice("INCIDENT_DATE_ASSUMED", f"未提供出险日期，按今天（{today_d}）处理。",
                               f"no incident date given; today ({today_d}) was assumed."))
    if incident > today_d:
        raise ToolError("INVALID_VALUE", f"incident_date {incident} is in the future (today is {today_d})",
                        field="incident_date")
    amount_d = _parse_amount(amount)

    status = status_entry("policy", policy.status)
    in_term = incident >= policy.start_date and (policy.end_date is None or incident <= policy.end_date)
    if policy.status == "expired" and in_term:
        notices.append(_notice("EXPIRED_AFTER_INCIDENT", "保单现已满期，但出险日在保险期间内，可以申请理赔。",
                               "the policy has since expired, but the incident happened during its term, so it can be claimed."))
    elif policy.status != "active":
        raise ToolError("POLICY_NOT_IN_FORCE", f"policy {pn} status: {status['en']} / {status['zh']}",
                        field="policy_number")
    if incident < policy.start_date:
        raise ToolError("POLICY_NOT_IN_FORCE", f"incident_date {incident} is before the policy start date {policy.start_date}",
                        field="incident_date")
    if policy.end_date is not None and incident > policy.end_date:
        raise ToolError("POLICY_NOT_IN_FORCE", f"incident_date {incident} is after the policy end date {policy.end_date}",
                        field="incident_date")

    # Waiting period (general.waiting_period_day_count): day 1 = start date.
    wp = product.get("waiting_period_days") or {}
    nature = _nature(product, code, cause, description)
    if _is_renewal(policy):
        days = int(wp.get("renewal") or 0)
    else:
        days = int(wp.get(nature) or 0)
    if days > 0:
        until = policy.start_date + dt.timedelta(days=days - 1)
        if incident <= until:
            return _decline(db, ident, policy, product, coverage, incident, days, until, notices)

    for other in db.scalars(select(Claim).where(Claim.policy_number == pn, Claim.incident_date == incident)):
        if code in (other.coverages or []):
            notices.append(_notice(
                "POSSIBLE_DUPLICATE",
                f"该保单已有同一出险日、同一责任的理赔 {other.claim_id}（{status_entry('claim', other.status)['zh']}）。",
                f"claim {other.claim_id} ({status_entry('claim', other.status)['en']}) already covers the same incident date and benefit.",
            ))
    cov = next((c for c in product.get("coverages", []) if c.get("code") == code), {})
    auto = cov.get("automatic") or (cov.get("trigger") if "paid automatically" in str(cov.get("trigger", "")) else None)
    if isinstance(auto, dict):
        notices.append(_notice("AUTOMATIC_BENEFIT", auto.get("zh", ""), auto.get("en", "")))

    needed, _other = documents_for(product, code)
    missing = [d["id"] for d in needed if not d["auto_retrieved"]]
    details: dict[str, Any] = {"cause": nature, "channel": "anxin", "session_id": ident.session_id}

    for _attempt in range(5):
        claim_id = _next_claim_id(db, today_d.year)
        try:
            with db.begin_nested():
                claim = Claim(
                    claim_id=claim_id, policy_number=pn, insured_id=policy.insured_id, coverages=[code],
                    claim_type={"zh": coverage["zh"], "en": coverage["en"]}, incident_date=incident,
                    submitted_date=today_d, amount_claimed=amount_d, status="submitted",
                    missing_documents=missing, description=(description or None) and str(description)[:4000],
                    source="filed", filed_by_customer_id=ident.customer_id, details=details,
                )
                claim.events = [ClaimEvent(seq=1, status="submitted", event_date=today_d, note=dict(FILED_NOTE))]
                db.add(claim)
                db.flush()
                if key:
                    db.add(IdempotencyKey(scope=IDEMPOTENCY_SCOPE, owner=ident.customer_id, key=key,
                                          request_fingerprint=fingerprint, claim_id=claim_id))
                    db.flush()
        except IntegrityError:
            if key:
                row = db.scalars(select(IdempotencyKey).where(
                    IdempotencyKey.scope == IDEMPOTENCY_SCOPE, IdempotencyKey.owner == ident.customer_id,
                    IdempotencyKey.key == key)).first()
                if row is not None:  # a concurrent request with the same key won the race
                    result = _replay(db, row, fingerprint)
                    db.commit()
                    return result
            continue  # claim id taken concurrently: try the next one
        break
    else:  # pragma: no cover - only under heavy contention
        raise ToolError("INTERNAL_ERROR", "could not allocate a claim id")

    audit(db, f"customer:{ident.customer_id}", "claim.file", claim_id,
          {"session_id": ident.session_id, "policy_number": pn, "coverage": code,
           "incident_date": iso(incident), "amount": money(amount_d), "idempotency_key": key})
    db.commit()
    db.refresh(claim)
    return _filed_result(claim, code, replay=False, notices=notices)


def _decline(
    db: Session, ident: VerifiedIdentity, policy: Policy, product: dict[str, Any], coverage: dict[str, Any],
    incident: dt.date, days: int, until: dt.date, notices: list[dict[str, str]],
) -> dict[str, Any]:
    pid = product["id"]
    rule = product.get("waiting_period_rule") or {}
    zh = (f"疾病首次发生于{days}天等待期内（等待期 {policy.start_date} 至 {until}），不属于保险责任，本次不予受理。"
          + (rule.get("zh", "") or ""))
    en = (f"The illness first occurred within the {days}-day waiting period ({policy.start_date} to {until}) "
          f"and is not covered, so no claim was filed. " + (rule.get("en", "") or "")).strip()
    refs = [f"{pid}-WAITING", "GEN-WAITING"]
    audit(db, f"customer:{ident.customer_id}", "claim.decline", policy.policy_number,
          {"session_id": ident.session_id, "reason": "WAITING_PERIOD", "coverage": coverage["code"],
           "incident_date": iso(incident), "waiting_period_until": iso(until)})
    db.commit()
    return {
        "filed": False,
        "decision": "declined",
        "claim_id": None,
        "reason": {"code": "WAITING_PERIOD", "zh": zh, "en": en, "clause_refs": refs},
        "waiting_period": {"days": days, "start_date": iso(policy.start_date), "until": iso(until)},
        "policy": policy_summary(policy),
        "coverage": coverage,
        "incident_date": iso(incident),
        "clause_refs": refs,
        "notices": notices,
        "idempotent_replay": False,
    }
