"""Tool ``claim_status``: a verified customer's claim status and timeline
(services: :func:`anxin.db.verification.verify_identity`, :func:`anxin.db.claims.claim_status`).

Verification (demo_data ``meta.verification``): ``id_last4`` AND (full ``name`` OR
``dob``) of the policyholder, the insured, or a minor insured's guardian. A call that
carries these fields verifies first (in the context's session) and the context keeps
the identity, so later calls in the same conversation may leave them out. The helpers
:func:`identify` and :func:`verification_args` are shared with ``file_claim``.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from anxin.tools.context import ToolContext, execute, parse_args
from anxin.tools.errors import ToolError

NAME = "claim_status"

DESCRIPTION = """Look up the status of a claim (or of the claims on a policy): status, dated timeline, missing documents, settlement or estimate, rejection reasons with clause references.

Rules for the caller:
- Only after identity verification (demo_data meta.verification): the caller must give the policy number or claim id, the last 4 characters of the ID document (id_last4) AND either the full name or the date of birth (dob, YYYY-MM-DD) of the policyholder, the insured, or a minor insured's guardian. Ask for these first; do not call this tool before you have them, unless the customer was already verified earlier in this conversation.
- Never reveal to an unverified caller whether a policy or claim exists, who holds it, or anything about it; a failed verification reads the same whether or not the policy exists. Do not hint which detail was wrong.
- After too many failed attempts verification is locked (VERIFICATION_LOCKED): stop asking and offer a human advisor (handoff).
- Tell the customer only what the result says (status, dates, missing documents, amounts); never promise an outcome or a payout date that is not in it. Phone numbers are masked: never ask for or repeat full numbers.
- Errors: MISSING_PARAM, INVALID_VALUE, NOT_VERIFIED, VERIFICATION_FAILED, VERIFICATION_LOCKED, NOT_FOUND, FORBIDDEN."""

_VERIFY_DESCRIPTIONS = {
    "id_last4": "Last 4 characters of the customer's ID document (keep leading zeros; 'X' allowed).",
    "name": "Full name of the policyholder, insured or guardian (Chinese or English).",
    "dob": "Date of birth, YYYY-MM-DD (instead of or with the name).",
    "session_id": "Conversation id (used only when the caller supplies no session context).",
}


def _verification_last(schema: dict[str, Any]) -> None:
    props = schema.get("properties") or {}
    for key in ("id_last4", "name", "dob", "session_id"):
        if key in props:
            props[key] = props.pop(key)


class VerificationFields(BaseModel):
    """The verification fields shared by the claim tools."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_verification_last)

    id_last4: str | None = Field(None, min_length=1, max_length=8, description=_VERIFY_DESCRIPTIONS["id_last4"])
    name: str | None = Field(None, min_length=1, max_length=128, description=_VERIFY_DESCRIPTIONS["name"])
    dob: str | None = Field(None, max_length=32, description=_VERIFY_DESCRIPTIONS["dob"],
                            json_schema_extra={"format": "date"})
    session_id: str | None = Field(None, max_length=64, description=_VERIFY_DESCRIPTIONS["session_id"])

    @field_validator("id_last4", mode="before")
    @classmethod
    def _digits_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value).zfill(4)
        return value

    @field_validator("name", "dob", "id_last4", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    def has_credentials(self) -> bool:
        return bool(self.id_last4 or self.name or self.dob)


class Input(VerificationFields):
    """``policy_number`` or ``claim_id``, plus the verification fields."""

    model_config = ConfigDict(extra="forbid", title="claim_status")

    policy_number: str | None = Field(None, max_length=64, description="Policy number, e.g. XH-CI200-2016-000123.")
    claim_id: str | None = Field(None, max_length=64, description="Claim id, e.g. CLM-2026-0008.")

    @model_validator(mode="after")
    def _one_reference(self) -> "Input":
        if not (self.policy_number and self.policy_number.strip()) and not (self.claim_id and self.claim_id.strip()):
            raise ValueError("MISSING_PARAM: policy_number or claim_id is required")
        return self


class Output(BaseModel):
    """The claim service's answer (passed through), plus who was verified."""

    model_config = ConfigDict(extra="allow")


def verification_args(inp: VerificationFields) -> dict[str, Any]:
    """The verification fields to hand to ``verify_identity``."""
    return {"id_last4": inp.id_last4, "name": inp.name, "dob": inp.dob}


def identify(ctx: ToolContext, db: Any, inp: VerificationFields, *, policy_number: str | None,
             claim_id: str | None) -> Any:
    """The verified identity for this call.

    With credentials in the arguments: verify now (MISSING_PARAM when ``id_last4`` or
    both ``name`` and ``dob`` are missing; VERIFICATION_FAILED / _LOCKED from the service)
    and remember the identity in ``ctx``. Without: the identity this context verified
    earlier (or, with ``ctx.restore_identity``, the one stored for ``ctx.session_id``);
    otherwise NOT_VERIFIED.
    """
    from anxin.db.verification import verify_identity

    if inp.has_credentials():
        if not inp.id_last4:
            raise ToolError("MISSING_PARAM", "id_last4 (with the name or date of birth) is needed to verify",
                            field="id_last4")
        if not (inp.name or inp.dob):
            raise ToolError("MISSING_PARAM", "name or dob is needed with id_last4 to verify", field="name")
        identity = verify_identity(db, ctx.session_id, policy_number=policy_number, claim_id=claim_id,
                                   **verification_args(inp))
        ctx.identity = identity
        return identity
    identity = ctx.identity
    if identity is not None and getattr(identity, "session_id", ctx.session_id) == ctx.session_id:
        return identity
    if ctx.restore_identity:
        from anxin.db.verification import identity_for_session

        identity = identity_for_session(db, ctx.session_id)
        if identity is not None:
            ctx.identity = identity
            return identity
    raise ToolError("NOT_VERIFIED", "give the ID last 4 characters and the full name or date of birth",
                    field="id_last4")


def context_for(args: Any, ctx: ToolContext | None) -> ToolContext:
    """The caller's context, or (no context given) a fresh one for the ``session_id`` argument."""
    if ctx is not None:
        return ctx
    try:
        sid = parse_args(args).get("session_id")
    except ToolError:
        sid = None
    if isinstance(sid, str) and sid.strip():
        return ToolContext(session_id=sid.strip()[:64])
    return ToolContext()


def invoke(inp: Input, ctx: ToolContext) -> dict[str, Any]:
    """Verify (or reuse the session's verification), then read the claim(s)."""
    from anxin.db.claims import claim_status

    pn = inp.policy_number.strip() if inp.policy_number else None
    cid = inp.claim_id.strip() if inp.claim_id else None
    with ctx.db() as db:
        identity = identify(ctx, db, inp, policy_number=pn, claim_id=cid)
        result = claim_status(db, identity, policy_number=pn, claim_id=cid)
    return result


def run(args: dict[str, Any] | str | None, ctx: ToolContext | None = None) -> dict[str, Any]:
    """Validate ``args``, verify and look the claim up; JSON data or ``{"error": ...}``."""
    return execute(NAME, Input, Output, invoke, args, context_for(args, ctx))
