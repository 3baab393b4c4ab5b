"""Identity verification before any policy or claim disclosure (demo_data ``meta.verification``).

Rule: the last 4 characters of the ID document AND either the full name (Chinese or
English, case-, width- and space-insensitive; the two words of a Latin-script name may
come in either order) or the date of birth must match ONE person linked to the policy:
its policyholder, its insured, or — while the insured is under 18 — the insured's
guardian. A claim id stands for the policy it belongs to.

Lockout (attempts are stored in ``verification_attempts``):

* a session that has had 5 failed attempts is locked for good (a fresh session, or a
  human advisor, is needed); a success does not reset the session's count;
* a policy (the "subject": the policy number, also when a claim id was given; for an
  unknown number the number as typed) that has had 5 failed attempts within the last
  hour, across all sessions, is locked until the oldest of those failures is an hour
  old (a sliding window). A success does NOT clear earlier failures of the window:
  failures are evidence of guessing whoever later succeeds, and the window expires by
  itself within the hour;
* a locked attempt is refused with VERIFICATION_LOCKED before the credentials are even
  compared, and is not itself counted as a failure (it is audited).

An unknown policy number or claim id fails exactly like wrong credentials
(VERIFICATION_FAILED, counted), so the answer never reveals whether a policy exists.
Missing inputs (MISSING_PARAM) and an unreadable date of birth given without a name
(INVALID_VALUE) are refused without counting an attempt.

Every success, failure and locked attempt is audited, without the credentials.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from anxin.db._util import (
    age_on,
    iso,
    naive_utc,
    name_tokens,
    norm_id_last4,
    norm_key,
    norm_text,
    parse_date,
)
from anxin.db.audit import audit
from anxin.db.models import ChatSession, Claim, Customer, Policy, VerificationAttempt
from anxin.db.sessions import get_or_create_session
from anxin.tools.errors import ToolError

MAX_FAILURES_PER_SESSION = 5
MAX_FAILURES_PER_POLICY = 5
POLICY_WINDOW = dt.timedelta(hours=1)
ADULT_AGE = 18


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who was verified in a session and which policies they may see.

    ``policy_numbers``: the policies where the customer is policyholder or insured, plus
    the policies insuring a minor of whom they are the guardian. ``role`` is how they
    relate to the policy used for verification (policyholder / insured / guardian) and
    ``matched_on`` whether the name or the date of birth matched.
    """

    session_id: str
    customer_id: str
    name: dict[str, str]
    policy_numbers: tuple[str, ...]
    role: str = "policyholder"
    matched_on: str = "name"
    verified_policy: str | None = None
    verified_at: dt.datetime | None = None
    preferred_language: str | None = None
    ward_ids: tuple[str, ...] = field(default_factory=tuple)

    def can_see(self, policy_number: str | None) -> bool:
        """Whether this identity may see the policy (and its claims)."""
        return bool(policy_number) and norm_key(policy_number) in self.policy_numbers

    def to_dict(self) -> dict[str, Any]:
        """JSON form (no credentials): customer id, name, visible policies, how verified."""
        return {
            "session_id": self.session_id,
            "customer_id": self.customer_id,
            "name": dict(self.name),
            "policy_numbers": list(self.policy_numbers),
            "role": self.role,
            "matched_on": self.matched_on,
            "verified_policy": self.verified_policy,
            "verified_at": iso(self.verified_at),
            "preferred_language": self.preferred_language,
            "ward_ids": list(self.ward_ids),
        }


def _wards(db: Session, customer_id: str, on: dt.date) -> list[Customer]:
    rows = db.scalars(select(Customer).where(Customer.guardian_id == customer_id))
    return [c for c in rows if age_on(c.dob, on) < ADULT_AGE]


def visible_policy_numbers(db: Session, customer_id: str, *, on: dt.date | None = None) -> list[str]:
    """Policy numbers a verified customer may see (own as holder/insured, and their minor
    wards' policies), sorted."""
    on = on or dt.date.today()
    ids = [customer_id] + [w.customer_id for w in _wards(db, customer_id, on)]
    stmt = select(Policy.policy_number).where(
        or_(Policy.policyholder_id.in_(ids), Policy.insured_id.in_(ids))
    )
    return sorted(set(db.scalars(stmt)))


def build_identity(
    db: Session,
    session_id: str,
    customer: Customer,
    *,
    role: str = "policyholder",
    matched_on: str = "name",
    verified_policy: str | None = None,
    verified_at: dt.datetime | None = None,
) -> VerifiedIdentity:
    """A :class:`VerifiedIdentity` for ``customer`` with the policies visible today."""
    on = (verified_at or dt.datetime.now()).date()
    return VerifiedIdentity(
        session_id=session_id,
        customer_id=customer.customer_id,
        name=customer.name,
        policy_numbers=tuple(visible_policy_numbers(db, customer.customer_id, on=on)),
        role=role,
        matched_on=matched_on,
        verified_policy=verified_policy,
        verified_at=verified_at,
        preferred_language=customer.preferred_language,
        ward_ids=tuple(w.customer_id for w in _wards(db, customer.customer_id, on)),
    )


def identity_for_session(db: Session, session_id: str) -> VerifiedIdentity | None:
    """The identity verified earlier in ``session_id`` (rebuilt from the database), or None."""
    row = db.get(ChatSession, session_id)
    if row is None or not row.verified_customer_id:
        return None
    customer = db.get(Customer, row.verified_customer_id)
    if customer is None:
        return None
    info = (row.state or {}).get("verification") or {}
    return build_identity(
        db, session_id, customer,
        role=info.get("role", "policyholder"), matched_on=info.get("matched_on", "name"),
        verified_policy=info.get("policy_number"), verified_at=row.verified_at,
    )


def coerce_identity(db: Session, identity: Any) -> VerifiedIdentity:
    """Accept a :class:`VerifiedIdentity`, or its ``to_dict()`` form (e.g. kept in session
    state; visible policies are then recomputed from the database); NOT_VERIFIED otherwise."""
    if isinstance(identity, VerifiedIdentity):
        return identity
    if isinstance(identity, Mapping) and identity.get("customer_id"):
        customer = db.get(Customer, str(identity["customer_id"]))
        if customer is not None:
            return build_identity(
                db, str(identity.get("session_id") or ""), customer,
                role=str(identity.get("role") or "policyholder"),
                matched_on=str(identity.get("matched_on") or "name"),
                verified_policy=identity.get("verified_policy"),
            )
    raise ToolError("NOT_VERIFIED", "verify identity first (policy number or claim id, ID last 4, name or date of birth)")


def _failures(db: Session, *, session_id: str | None = None, subject_key: str | None = None,
              since: dt.datetime | None = None, until: dt.datetime | None = None) -> int:
    stmt = select(func.count()).select_from(VerificationAttempt).where(VerificationAttempt.success.is_(False))
    if session_id is not None:
        stmt = stmt.where(VerificationAttempt.session_id == session_id)
    if subject_key is not None:
        stmt = stmt.where(VerificationAttempt.subject_key == subject_key)
    if since is not None:
        stmt = stmt.where(VerificationAttempt.created_at > since)
    if until is not None:
        stmt = stmt.where(VerificationAttempt.created_at <= until)
    return int(db.scalar(stmt) or 0)


def lockout_state(
    db: Session, session_id: str, *, policy_number: str | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Failure counts and whether the session and/or the policy are locked right now."""
    now = naive_utc(now)
    session_failures = _failures(db, session_id=session_id)
    policy_failures = (
        _failures(db, subject_key=norm_key(policy_number), since=now - POLICY_WINDOW, until=now)
        if policy_number else 0
    )
    return {
        "session_failures": session_failures,
        "policy_failures_last_hour": policy_failures,
        "session_locked": session_failures >= MAX_FAILURES_PER_SESSION,
        "policy_locked": policy_failures >= MAX_FAILURES_PER_POLICY,
        "locked": session_failures >= MAX_FAILURES_PER_SESSION or policy_failures >= MAX_FAILURES_PER_POLICY,
    }


def _name_matches(given: str, person: Customer) -> bool:
    g = norm_text(given)
    if not g:
        return False
    if g in {norm_text(person.name_zh), norm_text(person.name_en)}:
        return True
    tokens = name_tokens(given)
    return len(tokens) >= 2 and tokens == name_tokens(person.name_en)


def _candidates(policy: Policy, on: dt.date) -> list[tuple[Customer, str]]:
    people: list[tuple[Customer, str]] = [(policy.policyholder, "policyholder"), (policy.insured, "insured")]
    insured = policy.insured
    if insured.guardian is not None and age_on(insured.dob, on) < ADULT_AGE:
        people.append((insured.guardian, "guardian"))
    seen: set[str] = set()
    unique: list[tuple[Customer, str]] = []
    for person, role in people:
        if person.customer_id not in seen:
            seen.add(person.customer_id)
            unique.append((person, role))
    return unique


def verify_identity(
    db: Session,
    session_id: str,
    *,
    policy_number: str | None = None,
    claim_id: str | None = None,
    id_last4: str,
    name: str | None = None,
    dob: str | dt.date | None = None,
    now: dt.datetime | None = None,
) -> VerifiedIdentity:
    """Verify the person in ``session_id`` against a policy (or the policy of a claim).

    Raises MISSING_PARAM (no policy/claim, no ID digits, neither name nor dob),
    VERIFICATION_LOCKED (see the module docstring), VERIFICATION_FAILED (no match, or an
    unknown policy/claim: indistinguishable). On success the session records the verified
    customer and a :class:`VerifiedIdentity` is returned. The attempt is committed in
    either case (``now``, default the current time, stamps it: tests inject it).
    """
    if not session_id or not str(session_id).strip():
        raise ToolError("MISSING_PARAM", "session_id", field="session_id")
    if not policy_number and not claim_id:
        raise ToolError("MISSING_PARAM", "policy_number or claim_id", field="policy_number")
    if not id_last4 or not str(id_last4).strip():
        raise ToolError("MISSING_PARAM", "id_last4", field="id_last4")
    if not (name and str(name).strip()) and not dob:
        raise ToolError("MISSING_PARAM", "name or dob", field="name")
    dob_date: dt.date | None = None
    if dob:
        try:
            dob_date = parse_date(dob, "dob")
        except ToolError:
            if not (name and str(name).strip()):
                raise
    now = naive_utc(now)
    get_or_create_session(db, session_id)

    pn = norm_key(policy_number) if policy_number else None
    cid = norm_key(claim_id) if claim_id else None
    policy: Policy | None = None
    if cid:
        claim = db.get(Claim, cid)
        if claim is not None and (pn is None or claim.policy_number == pn):
            policy = claim.policy
        subject_key = claim.policy_number if claim is not None else (pn or f"CLAIM:{cid}")
    else:
        policy = db.get(Policy, pn)
        subject_key = pn or ""
    subject_key = subject_key[:80]

    state = lockout_state(db, session_id, policy_number=subject_key, now=now)
    if state["locked"]:
        audit(db, f"session:{session_id}", "verification.locked", subject_key,
              {"session_id": session_id, "session_locked": state["session_locked"],
               "policy_locked": state["policy_locked"]}, ts=now)
        db.commit()
        why = ("this session has had too many failed attempts" if state["session_locked"]
               else "too many failed attempts for this policy in the last hour")
        raise ToolError("VERIFICATION_LOCKED", why)

    match: tuple[Customer, str, str] | None = None
    if policy is not None:
        want_id = norm_id_last4(id_last4)
        for person, role in _candidates(policy, now.date()):
            if norm_id_last4(person.id_last4) != want_id:
                continue
            if name and _name_matches(str(name), person):
                match = (person, role, "name")
                break
            if dob_date is not None and person.dob == dob_date:
                match = (person, role, "dob")
                break

    attempt = VerificationAttempt(
        session_id=session_id, policy_number=pn, claim_id=cid, subject_key=subject_key,
        success=match is not None, customer_id=match[0].customer_id if match else None, created_at=now,
    )
    db.add(attempt)

    if match is None:
        audit(db, f"session:{session_id}", "verification.failure", subject_key,
              {"session_id": session_id}, ts=now)
        db.commit()
        left = min(
            MAX_FAILURES_PER_SESSION - state["session_failures"] - 1,
            MAX_FAILURES_PER_POLICY - state["policy_failures_last_hour"] - 1,
        )
        detail = ("the details do not match our records; "
                  + (f"{left} attempt(s) left" if left > 0 else "no attempts left, verification is now locked"))
        raise ToolError("VERIFICATION_FAILED", detail)

    person, role, matched_on = match
    row = db.get(ChatSession, session_id)
    assert row is not None
    row.verified_customer_id = person.customer_id
    row.verified_at = now
    row.state = {**(row.state or {}), "verification": {
        "customer_id": person.customer_id, "role": role, "matched_on": matched_on,
        "policy_number": policy.policy_number if policy else None, "verified_at": iso(now),
    }}
    identity = build_identity(db, session_id, person, role=role, matched_on=matched_on,
                              verified_policy=policy.policy_number if policy else None, verified_at=now)
    audit(db, f"customer:{person.customer_id}", "verification.success", subject_key,
          {"session_id": session_id, "role": role, "matched_on": matched_on,
           "policy_numbers": list(identity.policy_numbers)}, ts=now)
    db.commit()
    return identity
