"""Tool ``file_claim``: file a new claim for a verified customer
(services: :func:`anxin.db.verification.verify_identity`, :func:`anxin.db.claims.file_claim`)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from anxin.knowledge.filing import products
from anxin.tools.claim_status import Output as _ClaimOutput
from anxin.tools.claim_status import VerificationFields, context_for, identify
from anxin.tools.context import ToolContext, execute, today
from anxin.tools.errors import ToolError

NAME = "file_claim"

_DESCRIPTION = """File (report) a new claim on a policy: returns the new claim id, its status (submitted or documents_pending), the documents still needed and the next steps.

Rules for the caller:
- Only after identity verification (demo_data meta.verification): policy number, the ID document's last 4 characters (id_last4) AND the full name or date of birth (dob) of the policyholder, insured or a minor insured's guardian — in this call or earlier in the conversation. Never reveal whether a policy exists to an unverified caller.
- Before calling, read the claim back to the customer (policy, what happened, incident date, amount) and get an explicit yes; never file a claim the customer has not confirmed.
- claim_type is the coverage code of the policy's product the claim falls under (list below; e.g. GEN_MED for a hospital bill on MED-100); describe what happened in description (say whether it was an accident or an illness: waiting periods differ). incident_date is YYYY-MM-DD and cannot be in the future; amount is the CNY amount claimed as digits (12000, not "一万二").
- Pass an idempotency_key (any unique string, e.g. a UUID made once per confirmed claim) and reuse the SAME key when retrying after a timeout or error: a retry with the same key returns the claim already filed instead of filing it twice.
- Filing is not approval: never promise that the claim will be paid or how much; tell the customer which documents are still needed (from the result).
- A claim inside the waiting period comes back with filed=false and decision=declined (with the clause): explain it, do not retry.
- Errors: MISSING_PARAM, INVALID_VALUE (claim_type, incident_date, amount), POLICY_NOT_IN_FORCE, NOT_VERIFIED, VERIFICATION_FAILED, VERIFICATION_LOCKED, FORBIDDEN.
Coverage codes (claim_type) by product:
{coverages}"""



def _coverage_lines() -> str:
    from anxin.db.claims import claimable_coverages

    lines = []
    for pid, prod in products().items():
        names = {c.get("code"): (c.get("name") or {}).get("en", "") for c in prod.get("coverages", [])}
        lines.append(f"  {pid}: " + ", ".join(f"{code} ({names.get(code) or code})" for code in claimable_coverages(prod)))
    return "\n".join(lines)


DESCRIPTION = _DESCRIPTION.replace("{coverages}", _coverage_lines())


class Input(VerificationFields):
    """The claim to file, plus the verification fields."""

    model_config = ConfigDict(extra="forbid", title="file_claim")

    policy_number: str = Field(..., min_length=1, max_length=64, description="Policy number, e.g. XH-MED100-2026-000102.")
    claim_type: str = Field(..., min_length=1, max_length=200,
                            description="Coverage code of the policy's product the claim falls under, e.g. GEN_MED.")
    incident_date: str | None = Field(None, max_length=32, description="Date of the incident, YYYY-MM-DD (not in the future).",
                                      json_schema_extra={"format": "date"})
    amount: float | None = Field(None, gt=0, lt=1e12, description="Amount claimed in CNY (digits).")
    description: str | None = Field(None, max_length=4000, description="What happened, in the customer's words.")
    idempotency_key: str | None = Field(None, min_length=1, max_length=200,
                                        description="Unique key for this claim; reuse it on retries so the claim is filed once.")

    @field_validator("policy_number", "claim_type", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


Output = _ClaimOutput


def _incident_date(value: str | None, ctx: ToolContext) -> dt.date | None:
    if value is None or not value.strip():
        return None
    from anxin.db._util import parse_date

    day = parse_date(value, "incident_date")
    now = today(ctx)
    if day > now:
        raise ToolError("INVALID_VALUE", f"incident_date {day.isoformat()} is in the future (today is {now.isoformat()})",
                        field="incident_date")
    return day


def invoke(inp: Input, ctx: ToolContext) -> dict[str, Any]:
    """Check the inputs, verify (or reuse the session's verification), then file the claim."""
    from anxin.db.claims import file_claim

    incident = _incident_date(inp.incident_date, ctx)
    amount = Decimal(str(inp.amount)).quantize(Decimal("0.01")) if inp.amount is not None else None
    with ctx.db() as db:
        identity = identify(ctx, db, inp, policy_number=inp.policy_number, claim_id=None)
        result = file_claim(db, identity, policy_number=inp.policy_number, claim_type=inp.claim_type,
                            incident_date=incident, amount=amount, description=inp.description,
                            idempotency_key=inp.idempotency_key, today=today(ctx))
    return result


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args``, verify and file the claim; JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, context_for(args, ctx))
