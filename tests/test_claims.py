"""claim_status and file_claim over the demo data.

Runs on SQLite, and again on PostgreSQL when ANXIN_TEST_DB_URL is set.
"""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from anxin.db.audit import audit_entries
from anxin.db.claims import claim_status, file_claim
from anxin.db.models import Claim, IdempotencyKey
from anxin.db.testing import backend, db, db_url, migrated_url, sqlite_template  # noqa: F401  (fixtures)
from anxin.db.verification import verify_identity
from anxin.knowledge.filing import load_catalog, load_demo_data
from anxin.tools.errors import ToolError

NOW = dt.datetime(2026, 11, 1, 10, 0)
DEMO = load_demo_data()
CUSTOMERS = {c["customer_id"]: c for c in DEMO["customers"]}
POLICIES = {p["policy_number"]: p for p in DEMO["policies"]}
DOCS = load_catalog()["claim_documents"]
STATUSES = load_catalog()["general"]["claim_statuses"]


def login(db, policy_number: str, session: str = "s1"):
    """Verify as the policyholder of ``policy_number``."""
    person = CUSTOMERS[POLICIES[policy_number]["policyholder_id"]]
    return verify_identity(db, session, policy_number=policy_number, id_last4=person["id_last4"],
                           name=person["name"]["en"], now=NOW)


def _err(fn, *args, **kwargs) -> ToolError:
    with pytest.raises(ToolError) as err:
        fn(*args, **kwargs)
    return err.value


def _claims(db) -> int:
    return db.scalar(select(func.count()).select_from(Claim))


# --------------------------------------------------------------------------- claim_status
@pytest.mark.parametrize("demo", DEMO["claims"], ids=[c["claim_id"] for c in DEMO["claims"]])
def test_every_demo_claim_comes_back(db, demo):
    holder = CUSTOMERS[POLICIES[demo["policy_number"]]["policyholder_id"]]
    ident = verify_identity(db, "s1", claim_id=demo["claim_id"], id_last4=holder["id_last4"],
                            dob=holder["dob"], now=NOW)
    out = claim_status(db, ident, claim_id=demo["claim_id"])
    c = out["claim"]
    assert out["claims"] == [c] and out["claim_count"] == 1
    assert c["claim_id"] == demo["claim_id"]
    assert c["status"] == {"code": demo["status"], **STATUSES[demo["status"]]}
    assert [(e["status"], e["date"], e["note"]) for e in c["timeline"]] == \
        [(e["status"], e["date"], e["note"]) for e in demo["timeline"]]
    assert all(e["status_zh"] == STATUSES[e["status"]]["zh"] for e in c["timeline"])
    assert [d["id"] for d in c["missing_documents"]] == demo["missing_documents"]
    for d in c["missing_documents"]:
        assert (d["zh"], d["en"]) == (DOCS[d["id"]]["zh"], DOCS[d["id"]]["en"])
    assert [cov["code"] for cov in c["coverages"]] == demo["coverages"]
    assert c["settlement"] == demo.get("settlement")
    assert c["estimate_if_approved"] == demo.get("estimate_if_approved")
    assert c["rejection_reason"] == demo.get("rejection_reason")
    assert c["clause_refs"] == (demo.get("rejection_reason") or {}).get("clause_refs", [])
    assert c["type"] == demo["type"]
    assert c["amount_claimed"] == demo["amount_claimed"]
    assert c["paid_amount"] == demo.get("paid_amount")
    assert out["policy"]["status"]["code"] == POLICIES[demo["policy_number"]]["status"]
    assert audit_entries(db, subject=demo["claim_id"], action="claim_status.disclose")


def test_claim_status_by_policy_lists_all_claims_with_policy_summary(db):
    ident = login(db, "XH-MED100-2026-000102")
    out = claim_status(db, ident, policy_number="xh-med100-2026-000102")
    assert out["policy_number"] == "XH-MED100-2026-000102"
    assert out["policy"]["status"] == {"code": "active", "zh": "有效", "en": "in force"}
    assert out["policy"]["deductible_used_this_year"] == 6500
    assert [c["claim_id"] for c in out["claims"]] == ["CLM-2026-0005"]
    c = out["claims"][0]
    assert c["rejection_reason"]["code"] == "BELOW_DEDUCTIBLE"
    assert c["clause_refs"] == ["MED-100-DEDUCTIBLE", "MED-100-CLAIM-SETTLEMENT"]
    # a policy without claims
    empty = claim_status(db, ident, policy_number="XH-TL300-2025-000101")
    assert empty["claims"] == [] and empty["claim_count"] == 0


def test_claim_status_documents_pending_and_estimate(db):
    ident = login(db, "XH-MED100-2026-000124")
    c = claim_status(db, ident, claim_id="CLM-2026-0007")["claim"]
    assert c["status"]["zh"] == "待补充材料"
    assert c["missing_documents"] == [
        {"id": "DOC-ITEMISED", "zh": "费用明细清单", "en": "itemised bill", "auto_retrieved": False},
        {"id": "DOC-SI-SETTLEMENT", "zh": "社保结算单", "en": "social-insurance settlement statement",
         "auto_retrieved": False},
    ]
    assert c["estimate_if_approved"]["amount"] == 56000


def test_claim_status_lapsed_and_cancelled_policy_summaries(db):
    ident = login(db, "XH-CI200-2023-000108")
    lapsed = claim_status(db, ident, policy_number="XH-CI200-2023-000108")["policy"]
    assert lapsed["status"]["code"] == "lapsed" and lapsed["reinstatement_deadline"] == "2027-07-09"
    cancelled = claim_status(db, ident, policy_number="XH-ACC110-2026-000107")["policy"]
    assert cancelled["status"]["zh"] == "犹豫期内退保" and cancelled["cancellation"]["refund"] == 99.0


def test_claim_status_forbidden_and_errors(db):
    ident = login(db, "XH-TL300-2025-000101")  # C001
    assert _err(claim_status, db, ident, claim_id="CLM-2026-0007").code == "FORBIDDEN"
    assert _err(claim_status, db, ident, policy_number="XH-CI200-2016-000123").code == "FORBIDDEN"
    # a non-existent id answers the same as someone else's
    assert _err(claim_status, db, ident, claim_id="CLM-2026-9999").code == "FORBIDDEN"
    assert _err(claim_status, db, ident).code == "MISSING_PARAM"
    assert _err(claim_status, db, None, claim_id="CLM-2026-0005").code == "NOT_VERIFIED"
    assert _err(claim_status, db, ident, claim_id="CLM-2026-0005",
                policy_number="XH-TL300-2025-000101").code == "INVALID_VALUE"


def test_claim_status_accepts_identity_dict(db):
    ident = login(db, "XH-MED100-2026-000102")
    out = claim_status(db, ident.to_dict(), claim_id="CLM-2026-0005")
    assert out["claim"]["status"]["code"] == "rejected"


# --------------------------------------------------------------------------- file_claim
def test_file_claim_happy_path(db):
    ident = login(db, "XH-MED100-2026-000124")  # C011, renewed MED-100
    before = _claims(db)
    out = file_claim(db, ident, policy_number="XH-MED100-2026-000124", claim_type="gen_med",
                     incident_date="2026-10-20", amount="12,500", description="肺炎住院")
    assert out["filed"] is True and out["decision"] == "submitted"
    assert out["claim_id"] == "CLM-2026-0017"
    assert _claims(db) == before + 1
    c = out["claim"]
    assert c["status"]["code"] == "submitted"
    assert c["submitted_date"] == "2026-11-01"  # the demo world's date
    assert c["incident_date"] == "2026-10-20"
    assert c["amount_claimed"] == 12500
    assert c["timeline"][0]["status"] == "submitted" and c["timeline"][0]["date"] == "2026-11-01"
    assert c["coverages"][0]["code"] == "GEN_MED"
    needed = [d["id"] for d in out["documents_needed"]]
    assert needed == ["DOC-CLAIM-FORM", "DOC-ID", "DOC-BANK", "DOC-MED-RECORD", "DOC-INVOICE",
                      "DOC-ITEMISED", "DOC-SI-SETTLEMENT", "DOC-DIAGNOSIS"]
    assert all(d["zh"] and d["en"] for d in out["documents_needed"])
    assert out["documents_if_applicable"] == [{"condition": "CI_MED", "documents": [
        {"id": "DOC-PATHOLOGY", "zh": "病理检查报告", "en": "pathology report", "auto_retrieved": False},
        {"id": "DOC-IMAGING", "zh": "影像学检查报告（X光/CT/MRI）", "en": "imaging reports (X-ray/CT/MRI)",
         "auto_retrieved": False}]}]
    assert [d["id"] for d in out["missing_documents"]] == needed
    assert "MED-100-COV-GEN_MED" in out["clause_refs"]
    # it shows up in claim_status, and the filing was audited
    listed = claim_status(db, ident, policy_number="XH-MED100-2026-000124")["claims"]
    assert "CLM-2026-0017" in [x["claim_id"] for x in listed]
    assert audit_entries(db, subject="CLM-2026-0017", action="claim.file")
    # the next one gets the next number
    nxt = file_claim(db, ident, policy_number="XH-MED100-2026-000124", claim_type="CI_MED",
                     incident_date="2026-10-21")
    assert nxt["claim_id"] == "CLM-2026-0018"
    assert {"DOC-PATHOLOGY", "DOC-IMAGING"} <= {d["id"] for d in nxt["documents_needed"]}


def test_file_claim_auto_retrieved_documents_are_not_missing(db):
    ident = login(db, "XH-DM400-2026-000116")
    out = file_claim(db, ident, policy_number="XH-DM400-2026-000116", claim_type="COMP_MED",
                     incident_date="2026-10-25")
    needed = {d["id"]: d for d in out["documents_needed"]}
    assert needed["DOC-CGM-DATA"]["auto_retrieved"] is True
    assert "DOC-CGM-DATA" not in [d["id"] for d in out["missing_documents"]]
    assert {"DOC-INVOICE", "DOC-ITEMISED", "DOC-SI-SETTLEMENT"} <= set(needed)


def test_file_claim_waiting_period_decline(db):
    ident = login(db, "XH-MED100-2026-000106")  # C003, new MED-100 from 2026-10-25 (30 days → 2026-11-23)
    before = _claims(db)
    out = file_claim(db, ident, policy_number="XH-MED100-2026-000106", claim_type="GEN_MED",
                     incident_date="2026-10-30", description="急性胃肠炎住院")
    assert out["filed"] is False and out["decision"] == "declined" and out["claim_id"] is None
    assert out["reason"]["code"] == "WAITING_PERIOD"
    assert "MED-100-WAITING" in out["reason"]["clause_refs"] and "MED-100-WAITING" in out["clause_refs"]
    assert out["waiting_period"] == {"days": 30, "start_date": "2026-10-25", "until": "2026-11-23"}
    assert "2026-11-23" in out["reason"]["zh"] and "2026-11-23" in out["reason"]["en"]
    assert _claims(db) == before
    assert audit_entries(db, subject="XH-MED100-2026-000106", action="claim.decline")
    # the last day of the waiting period is still inside it; the day after is covered
    last = file_claim(db, ident, policy_number="XH-MED100-2026-000106", claim_type="GEN_MED",
                      incident_date="2026-11-23", today="2026-11-30")
    assert last["decision"] == "declined"
    first = file_claim(db, ident, policy_number="XH-MED100-2026-000106", claim_type="GEN_MED",
                       incident_date="2026-11-24", today="2026-11-30")
    assert first["filed"] is True and first["claim"]["submitted_date"] == "2026-11-30"


def test_waiting_period_does_not_apply_to_accidents_or_renewals(db):
    ident = login(db, "XH-MED100-2026-000106")
    acc = file_claim(db, ident, policy_number="XH-MED100-2026-000106", claim_type="GEN_MED",
                     incident_date="2026-10-30", description="下楼梯摔倒骨折住院")
    assert acc["filed"] is True and acc["claim"]["details"]["cause"] == "accident"
    acc2 = file_claim(db, ident, policy_number="XH-MED100-2026-000106", claim_type="GEN_MED",
                      incident_date="2026-10-31", cause="accident")
    assert acc2["filed"] is True
    ren = login(db, "XH-MED100-2026-000102", session="s2")  # renewal (renewal_count 2) from 2026-03-20
    out = file_claim(db, ren, policy_number="XH-MED100-2026-000102", claim_type="GEN_MED",
                     incident_date="2026-03-21")
    assert out["filed"] is True
    # CI-200 (90 days, not renewable) on a long-running policy: long past the waiting period
    wu = login(db, "XH-CI200-2016-000123", session="s3")
    assert file_claim(db, wu, policy_number="XH-CI200-2016-000123", claim_type="mild_ci",
                      incident_date="2026-10-01")["filed"] is True


def test_file_claim_future_incident_date(db):
    ident = login(db, "XH-MED100-2026-000124")
    err = _err(file_claim, db, ident, policy_number="XH-MED100-2026-000124", claim_type="GEN_MED",
               incident_date="2026-11-02")
    assert err.code == "INVALID_VALUE" and err.field == "incident_date"
    assert _err(file_claim, db, ident, policy_number="XH-MED100-2026-000124", claim_type="GEN_MED",
                incident_date="yesterday").code == "INVALID_VALUE"
    # with an explicit today the same date is fine
    assert file_claim(db, ident, policy_number="XH-MED100-2026-000124", claim_type="GEN_MED",
                      incident_date="2026-11-02", today="2026-11-03")["filed"] is True


def test_file_claim_policy_not_in_force(db):
    ident = login(db, "XH-CI200-2023-000108")  # C003
    before = _claims(db)
    # cancelled within cooling-off
    err = _err(file_claim, db, ident, policy_number="XH-ACC110-2026-000107", claim_type="ACC_MEDICAL",
               incident_date="2026-10-22")
    assert err.code == "POLICY_NOT_IN_FORCE" and "cancelled within cooling-off" in err.detail
    # lapsed
    assert _err(file_claim, db, ident, policy_number="XH-CI200-2023-000108", claim_type="SEVERE_CI",
                incident_date="2026-10-01").code == "POLICY_NOT_IN_FORCE"
    # incident before the start date of an active policy
    err = _err(file_claim, db, ident, policy_number="XH-MED100-2026-000106", claim_type="GEN_MED",
               incident_date="2026-10-20")
    assert err.code == "POLICY_NOT_IN_FORCE" and "before the policy start date" in err.detail
    # a flight policy whose flight has not happened yet
    emily = login(db, "XH-FLT800-2026-000113", session="s2")
    assert _err(file_claim, db, emily, policy_number="XH-FLT800-2026-000113", claim_type="DELAY").code \
        == "POLICY_NOT_IN_FORCE"
    assert _claims(db) == before


def test_file_claim_expired_policy_incident_within_term(db):
    sun = login(db, "XH-RSI900-2026-000120")  # C008, expired 2026-10-13
    out = file_claim(db, sun, policy_number="XH-RSI900-2026-000120", claim_type="return_shipping",
                     incident_date="2026-10-08")
    assert out["filed"] is True
    assert "EXPIRED_AFTER_INCIDENT" in [n["code"] for n in out["notices"]]
    assert "AUTOMATIC_BENEFIT" in [n["code"] for n in out["notices"]]
    assert [d["id"] for d in out["missing_documents"]] == []  # the waybill is auto-retrieved
    err = _err(file_claim, db, sun, policy_number="XH-RSI900-2026-000120", claim_type="RETURN_SHIPPING",
               incident_date="2026-10-20")
    assert err.code == "POLICY_NOT_IN_FORCE"


def test_file_claim_bad_claim_type(db):
    ident = login(db, "XH-MED100-2026-000124")
    err = _err(file_claim, db, ident, policy_number="XH-MED100-2026-000124", claim_type="dental",
               incident_date="2026-10-20")
    assert err.code == "INVALID_VALUE" and err.field == "claim_type"
    assert "GEN_MED" in err.detail and "CI_MED" in err.detail
    assert "ANNUAL_LIMIT" not in err.detail
    assert _err(file_claim, db, ident, policy_number="XH-MED100-2026-000124", claim_type="ANNUAL_LIMIT").code \
        == "INVALID_VALUE"
    # clause-id and hyphenated spellings of a code are accepted
    out = file_claim(db, ident, policy_number="XH-MED100-2026-000124", claim_type="MED-100-COV-ci-med",
                     incident_date="2026-10-20")
    assert out["claim"]["coverages"][0]["code"] == "CI_MED"


def test_file_claim_other_errors(db):
    ident = login(db, "XH-MED100-2026-000124")
    assert _err(file_claim, db, ident, policy_number="XH-TL300-2025-000101", claim_type="DEATH_TPD").code \
        == "FORBIDDEN"
    assert _err(file_claim, db, None, policy_number="XH-MED100-2026-000124", claim_type="GEN_MED").code \
        == "NOT_VERIFIED"
    assert _err(file_claim, db, ident, policy_number="XH-MED100-2026-000124", claim_type="").code \
        == "MISSING_PARAM"
    for bad in (-5, 0, "abc"):
        assert _err(file_claim, db, ident, policy_number="XH-MED100-2026-000124", claim_type="GEN_MED",
                    incident_date="2026-10-20", amount=bad).code == "INVALID_VALUE"
    no_date = file_claim(db, ident, policy_number="XH-MED100-2026-000124", claim_type="GEN_MED")
    assert no_date["claim"]["incident_date"] == "2026-11-01"
    assert "INCIDENT_DATE_ASSUMED" in [n["code"] for n in no_date["notices"]]


def test_file_claim_idempotency(db):
    ident = login(db, "XH-MED100-2026-000124")
    args = dict(policy_number="XH-MED100-2026-000124", claim_type="GEN_MED", incident_date="2026-10-20",
                amount=3000, idempotency_key="turn-42")
    first = file_claim(db, ident, **args)
    before = _claims(db)
    again = file_claim(db, ident, **args)
    assert again["claim_id"] == first["claim_id"] and again["idempotent_replay"] is True
    assert again["idempotency_conflict"] is False
    assert _claims(db) == before
    # same key, different request: still the same claim, flagged
    other = file_claim(db, ident, **{**args, "amount": 9999})
    assert other["claim_id"] == first["claim_id"] and other["idempotency_conflict"] is True
    assert _claims(db) == before
    # a different key files a new claim (with a duplicate warning)
    new = file_claim(db, ident, **{**args, "idempotency_key": "turn-43"})
    assert new["claim_id"] != first["claim_id"]
    assert "POSSIBLE_DUPLICATE" in [n["code"] for n in new["notices"]]
    # another customer's identical key is independent
    c001 = login(db, "XH-MED100-2026-000102", session="s2")
    theirs = file_claim(db, c001, policy_number="XH-MED100-2026-000102", claim_type="GEN_MED",
                        incident_date="2026-10-20", idempotency_key="turn-42")
    assert theirs["claim_id"] not in (first["claim_id"], new["claim_id"])
    # the unique constraint holds even if the service is bypassed
    db.add(IdempotencyKey(scope="file_claim", owner="C011", key="turn-42", request_fingerprint="x",
                          claim_id=new["claim_id"]))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
