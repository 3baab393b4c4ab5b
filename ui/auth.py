"""Who may call what: customer session tokens and the staff token.

Everything about authentication lives here so the hardening issue can swap the
static staff token for accounts by changing one dependency (:func:`require_staff`).

* **Customers** get a random token when they open a session (``POST /api/sessions``);
  only its SHA-256 digest is stored (see :mod:`anxin.ui.services`). Every customer
  endpoint of a session needs ``Authorization: Bearer <token>`` or
  ``X-Session-Token: <token>``: no token → 401, a token of another session → 403.
* **Staff** present the token of ``ANXIN_STAFF_TOKEN``. Without that variable one is
  generated at start-up and logged once (fine for a demo, never for production).
  ``X-Staff-Name`` optionally names the advisor acting (shown to colleagues and
  written to the audit log; self-declared until accounts exist).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass

from fastapi import HTTPException, Request

log = logging.getLogger("anxin.ui.auth")

STAFF_TOKEN_ENV = "ANXIN_STAFF_TOKEN"
_generated: str | None = None
_generated_lock = threading.Lock()
_NAME_OK = re.compile(r"[^\w .@-]", re.UNICODE)


@dataclass(frozen=True)
class StaffUser:
    """The advisor behind a staff request (``name`` is what tickets and the audit log show)."""

    name: str = "staff"

    @property
    def actor(self) -> str:
        """The audit-log actor string, e.g. ``staff:wang``."""
        return f"staff:{self.name}"


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a token (what is stored instead of the token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_token() -> str:
    """A fresh random customer session token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def staff_token() -> str:
    """The staff token: ``ANXIN_STAFF_TOKEN``, else one generated (and logged) once per process."""
    configured = os.environ.get(STAFF_TOKEN_ENV, "").strip()
    if configured:
        return configured
    global _generated
    with _generated_lock:
        if _generated is None:
            _generated = secrets.token_urlsafe(24)
            log.warning("%s is not set; staff token for this run: %s", STAFF_TOKEN_ENV, _generated)
        return _generated


def ensure_staff_token() -> None:
    """Make sure a staff token exists (logs the generated one at start-up)."""
    staff_token()


def verify_staff_token(token: str | None) -> bool:
    """Whether ``token`` is the staff token (constant-time comparison)."""
    if not token:
        return False
    return hmac.compare_digest(token_digest(token.strip()), token_digest(staff_token()))


def clean_staff_name(name: str | None) -> str:
    """A display name safe for tickets and logs (at most 64 characters, default ``staff``)."""
    text = _NAME_OK.sub("", (name or "").strip())[:64].strip()
    return text or "staff"


def bearer_token(request: Request, *, header: str | None = None) -> str | None:
    """The bearer token of ``Authorization``, else the value of ``header`` (if given)."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if header:
        value = request.headers.get(header, "").strip()
        if value:
            return value
    return None


def require_staff(request: Request) -> StaffUser:
    """FastAPI dependency of every ``/api/staff/`` endpoint: 401 without a valid staff token."""
    token = bearer_token(request, header="x-staff-token")
    if not token:
        raise HTTPException(status_code=401, detail="staff token required",
                            headers={"WWW-Authenticate": "Bearer"})
    if not verify_staff_token(token):
        raise HTTPException(status_code=401, detail="invalid staff token",
                            headers={"WWW-Authenticate": "Bearer"})
    return StaffUser(name=clean_staff_name(request.headers.get("x-staff-name")))


def session_token(request: Request, *, allow_query: bool = False) -> str | None:
    """A customer's session token: ``Authorization: Bearer``, ``X-Session-Token``, or
    (``allow_query``, for browser ``EventSource`` which cannot set headers) ``?token=``."""
    token = bearer_token(request, header="x-session-token")
    if token is None and allow_query:
        token = request.query_params.get("token") or None
    return token
