"""`anxin bench tools`: latency of the advisor tools and agreement with an independent reference.

:func:`bench_tools` times ``quote``, ``pre_underwrite`` and ``claim_status`` through the
public tool layer (:func:`anxin.tools.registry.call`: argument validation, engine or
database, JSON result) over randomly drawn *valid* inputs, and reports p50/p95/mean in
milliseconds. ``claim_status`` runs against SQLite in a temporary ``ANXIN_HOME`` seeded
with ``demo_data.yaml``; each ``claim_status`` call verifies the caller (``id_last4`` +
name or date of birth of the policyholder, insured or guardian: one attempt row and
audit entries written and committed) and reads one claim or one policy's claims;
``claim_status_verified_session`` times the same read in a session verified before
(up to 500 calls).

The agreement check draws random inputs for MED-100, CI-200, LTC-500 and ACC-110 and
compares the tool's premium to :mod:`anxin.evals.reference_pricing`, a re-implementation
of the filing's formulas in exact ``Fraction`` arithmetic (half-up rounding once at the
end) that shares only the rate tables (data) with the engine, not its code.
"""
from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from anxin.evals.reference_pricing import REFERENCES
from anxin.knowledge import filing

F = Fraction

# the independent reference lives in anxin.evals.reference_pricing (shared with the tests)


# --------------------------------------------------------------------------- random valid inputs


def _loading(rng: random.Random, hi: int = 50) -> float | int:
    return rng.randint(0, hi) if rng.random() < 0.5 else round(rng.uniform(0, hi), 2)


def _bmi(rng: random.Random) -> float | None:
    return None if rng.random() < 0.3 else round(rng.uniform(12, 45), 2)


def draw_med(rng: random.Random) -> dict[str, Any]:
    renewal = rng.random() < 0.3
    return {"product_id": "MED-100", "age": rng.randint(0, 100 if renewal else 60), "renewal": renewal,
            "social_insurance": rng.random() < 0.7, "deductible": rng.choice([5000, 10000, 20000]),
            "smoker": rng.random() < 0.3, "bmi": _bmi(rng), "health_points": rng.randint(0, 6000),
            "uw_loading_pct": _loading(rng)}


def draw_ci(rng: random.Random) -> dict[str, Any]:
    term = rng.choice([10, 20, 30])
    age = rng.randint(0, min(55, 70 - term))
    si = rng.choice([100000, 200000, 300000, 500000] + ([800000, 1000000] if age >= 18 else []))
    return {"product_id": "CI-200", "age": age, "gender": rng.choice("MF"), "sum_insured": si, "payment_term": term,
            "coverage_period": rng.choice(["to_70", "whole_life"]), "smoker": rng.random() < 0.3,
            "bmi": _bmi(rng), "uw_loading_pct": rng.randint(0, 100)}


def draw_ltc(rng: random.Random) -> dict[str, Any]:
    return {"product_id": "LTC-500", "age": rng.randint(40, 60), "gender": rng.choice("MF"),
            "monthly_benefit": rng.choice([2000, 3000, 5000]), "smoker": rng.random() < 0.3,
            "uw_loading_pct": rng.randint(0, 75)}


def draw_acc(rng: random.Random) -> dict[str, Any]:
    renewal = rng.random() < 0.3
    return {"product_id": "ACC-110", "age": rng.randint(18, 70 if renewal else 65), "renewal": renewal,
            "occupation_class": rng.randint(1, 4), "sum_insured": rng.choice([100000, 300000, 500000, 1000000]),
            "medical_limit": rng.choice([0, 10000, 20000, 50000]), "health_points": rng.randint(0, 6000),
            "uw_loading_pct": _loading(rng)}


DRAWS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "MED-100": draw_med, "CI-200": draw_ci, "LTC-500": draw_ltc, "ACC-110": draw_acc,
}


def _draw_input_value(rng: random.Random, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind == "enum":
        return rng.choice(spec["values"])
    if kind == "bool":
        return rng.random() < 0.5
    lo, hi = spec.get("min", 0), spec.get("max", 100)
    if kind == "int":
        return rng.randint(int(lo), int(hi))
    return round(rng.uniform(float(lo), float(hi)), 1)


def draw_underwriting(rng: random.Random) -> dict[str, Any]:
    """A random valid pre_underwrite call: an underwritten product and 0-3 distinct declarations."""
    uw = filing.load_underwriting()
    product_ids = [p for line in uw["lines"].values() for p in line["products"]]
    conditions = uw["conditions"]
    chosen = rng.sample(sorted(conditions), rng.randint(0, 3))
    decls = []
    for cid in chosen:
        spec = conditions[cid].get("inputs") or {}
        decls.append({"condition": cid, **{k: _draw_input_value(rng, s) for k, s in spec.items()}})
    args: dict[str, Any] = {"product_id": rng.choice(product_ids), "declarations": decls}
    if rng.random() < 0.3:
        args["age"] = rng.randint(18, 60)
    return args


# --------------------------------------------------------------------------- timing


def _stats(ms: list[float]) -> dict[str, Any]:
    return {"n": len(ms), "p50": round(float(np.percentile(ms, 50)), 3) if ms else 0.0,
            "p95": round(float(np.percentile(ms, 95)), 3) if ms else 0.0,
            "mean": round(statistics.fmean(ms), 3) if ms else 0.0}


def _time_calls(name: str, inputs: list[dict[str, Any]], ctx_factory: Callable[[], Any]) -> tuple[dict[str, Any], int]:
    from anxin.tools import registry

    registry.call(name, inputs[0], ctx_factory())  # warm-up: imports, YAML, engine caches
    ms: list[float] = []
    errors = 0
    for args in inputs:
        ctx = ctx_factory()
        t = time.perf_counter()
        out = registry.call(name, args, ctx)
        ms.append((time.perf_counter() - t) * 1000)
        errors += "error" in out
    return _stats(ms), errors


def _claim_inputs(rng: random.Random, n: int) -> list[dict[str, Any]]:
    demo = filing.load_demo_data()
    customers = {c["customer_id"]: c for c in demo["customers"]}
    policies = {p["policy_number"]: p for p in demo["policies"]}
    out = []
    for _ in range(n):
        claim = rng.choice(demo["claims"])
        pol = policies[claim["policy_number"]]
        who = customers[rng.choice([pol["policyholder_id"], pol["insured_id"]])]
        if who.get("guardian_id") and rng.random() < 0.5:
            who = customers[who["guardian_id"]]
        args: dict[str, Any] = {"id_last4": who["id_last4"]}
        if rng.random() < 0.5:
            args["dob"] = str(who["dob"])
        else:
            args["name"] = who["name"][rng.choice(["zh", "en"])]
        if rng.random() < 0.5:
            args["claim_id"] = claim["claim_id"]
        else:
            args["policy_number"] = pol["policy_number"]
        out.append(args)
    return out


def _prepare_db(url: str) -> None:
    """Create the schema and load demo_data.yaml into the database at ``url``."""
    from anxin.db import ensure_database

    ensure_database(url, seed_demo=True)


def bench_tools(n: int = 2000, seed: int = 7, agreement_n: int | None = None) -> dict[str, Any]:
    """Time quote, pre_underwrite and claim_status over ``n`` random valid inputs each, and
    check quote against the Fraction reference on ``agreement_n`` (default ``n``) inputs
    per reference product. Returns a JSON-ready dict (latency in ms)."""
    from anxin.tools.context import ToolContext
    from anxin.tools.pricing import quote as engine_quote
    from anxin.tools import registry

    rng = random.Random(seed)
    result: dict[str, Any] = {"n": n, "seed": seed, "latency_ms": {}, "errors": {}}

    quote_inputs = [DRAWS[rng.choice(list(DRAWS))](rng) for _ in range(n)]
    stats, errs = _time_calls("quote", quote_inputs, ToolContext)
    result["latency_ms"]["quote"], result["errors"]["quote"] = stats, errs

    uw_inputs = [draw_underwriting(rng) for _ in range(n)]
    stats, errs = _time_calls("pre_underwrite", uw_inputs, ToolContext)
    result["latency_ms"]["pre_underwrite"], result["errors"]["pre_underwrite"] = stats, errs

    # claim_status against a fresh seeded SQLite database
    old_home, old_url = os.environ.get("ANXIN_HOME"), os.environ.get("ANXIN_DB_URL")
    with tempfile.TemporaryDirectory(prefix="anxin-bench-tools-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'anxin.db'}"
        os.environ["ANXIN_HOME"], os.environ["ANXIN_DB_URL"] = tmp, url
        try:
            from anxin.db.engine import dispose_engines, session_scope

            _prepare_db(url)
            claim_inputs = _claim_inputs(rng, n)
            counter = iter(range(10**9))

            def claim_ctx() -> ToolContext:
                # one session per call: verification attempts are counted per session
                return ToolContext(session_id=f"bench-{next(counter)}", actor="bench",
                                   db_factory=lambda: session_scope(url))

            stats, errs = _time_calls("claim_status", claim_inputs, claim_ctx)
            result["latency_ms"]["claim_status"], result["errors"]["claim_status"] = stats, errs

            # the same look-ups in an already verified session (no credentials, no attempt row)
            ms: list[float] = []
            errs = 0
            for args in claim_inputs[: min(n, 500)]:
                ctx = claim_ctx()
                registry.call("claim_status", args, ctx)  # verify (not timed)
                ref = {k: args[k] for k in ("claim_id", "policy_number") if k in args}
                t = time.perf_counter()
                out = registry.call("claim_status", ref, ctx)
                ms.append((time.perf_counter() - t) * 1000)
                errs += "error" in out
            result["latency_ms"]["claim_status_verified_session"] = _stats(ms)
            result["errors"]["claim_status_verified_session"] = errs
            result["database"] = "sqlite (temporary, seeded from demo_data.yaml)"
            dispose_engines()
        finally:
            for key, old in (("ANXIN_HOME", old_home), ("ANXIN_DB_URL", old_url)):
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old

    # agreement with the Fraction reference
    m = agreement_n if agreement_n is not None else n
    agree: dict[str, Any] = {}
    total_ok = total = 0
    for pid, draw in DRAWS.items():
        ok = tried = 0
        mismatches: list[dict[str, Any]] = []
        for _ in range(m):
            args = draw(rng)
            params = {k: v for k, v in args.items() if k != "product_id"}
            out = registry.call("quote", args)
            tried += 1
            if "error" in out:
                mismatches.append({"args": args, "error": out["error"]["code"]})
                continue
            want = REFERENCES[pid](params)
            got = Fraction(str(out["premium"]))
            if got == want and Fraction(str(engine_quote(pid, params).premium)) == want:
                ok += 1
            elif len(mismatches) < 5:
                mismatches.append({"args": args, "tool": out["premium"], "reference": float(want)})
        agree[pid] = {"n": tried, "agree": ok, "agreement_pct": round(100 * ok / tried, 2) if tried else 0.0,
                      "examples_of_disagreement": mismatches[:5]}
        total_ok += ok
        total += tried
    result["agreement"] = {"reference": "Fraction re-implementation of the filing formulas (evals/reference_pricing.py)",
                           "products": agree,
                           "overall_pct": round(100 * total_ok / total, 2) if total else 0.0}
    return result


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench_tools(200), ensure_ascii=False, indent=2))
