"""`anxin bench agent`: turn latency, time to first token and resident memory per LLM back-end.

A fixed script of short conversations (greeting, policy questions in zh and en, quotes,
pre-underwriting, a premium simulation, a recommendation, claim status with identity
verification, a hand-off) is replayed ``rounds`` times in fresh sessions against a
temporary SQLite database. For each turn the wall time of ``Advisor.respond`` and the
time until the first streamed piece of the reply are recorded; the report gives
p50/p95/max per back-end, and the process's peak resident memory (VmHWM) with the
models that were loaded.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from anxin.evals.bench import percentile

#: The replayed conversations (customer turns only).
SCRIPT: list[list[str]] = [
    ["你好", "百万医疗险的等待期是多久？", "那免赔额是多少？"],
    ["What does the critical illness policy exclude?", "How long is the cooling-off period?"],
    ["我想给重疾险报个价，30岁男，保额50万", "如果我抽烟呢，保费会变多少？"],
    ["Quote term life for a 35 year old woman, sum insured 1 million, 20 years"],
    ["我有甲状腺结节，3类，能买百万医疗吗？"],
    ["I'm 30, earn 300k a year, have 2 kids and a budget of 10000 a year. What should I buy?"],
    ["我想查一下理赔进度", "保单号 XH-CI200-2016-000123，身份证后四位 9315，生日 1970-06-25"],
    ["转人工"],
]


def _rss_peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def bench_agent(backends: list[str] | None = None, rounds: int = 3) -> dict[str, Any]:
    """Replay :data:`SCRIPT` ``rounds`` times per back-end; latency and memory figures."""
    from anxin.agent.advisor import Advisor
    from anxin.agent.llm import backend_info

    backends = backends or ["none", "local"]
    home = tempfile.mkdtemp(prefix="anxin-bench-agent-")
    previous = os.environ.get("ANXIN_DB_URL")
    os.environ["ANXIN_DB_URL"] = f"sqlite:///{home}/bench.db"
    out: dict[str, Any] = {"rounds": rounds, "turns_per_round": sum(len(c) for c in SCRIPT), "backends": {}}
    try:
        for name in backends:
            advisor = Advisor(backend=name)
            info = backend_info(advisor.backend_name)
            if name != "none" and advisor.backend_name == "none":
                out["backends"][name] = {"skipped": f"back-end unavailable: {info.get('fallback_reason')}"}
                continue
            advisor.warm_up()
            speech_loaded = False
            if name != "none":
                # the memory target counts the speech model too
                try:
                    from anxin.agent.speech import get_transcriber

                    get_transcriber().warm_up()
                    speech_loaded = True
                except Exception:  # noqa: BLE001 - reported, not fatal
                    speech_loaded = False
            # one unmeasured pass loads the searcher, models and caches
            sid = advisor.new_session()
            advisor.respond(sid, text=SCRIPT[1][0])
            latencies: list[float] = []
            first: list[float] = []
            ungrounded = 0
            errors = 0
            per_intent: dict[str, list[float]] = {}
            for _ in range(rounds):
                for conv in SCRIPT:
                    sid = advisor.new_session()
                    for text in conv:
                        marks: list[float] = []
                        started = time.perf_counter()
                        try:
                            result = advisor.respond(sid, text=text,
                                                     on_token=lambda _p: marks.append(time.perf_counter()) if not marks else None)
                        except Exception:  # noqa: BLE001 - counted, the bench goes on
                            errors += 1
                            continue
                        total = (time.perf_counter() - started) * 1000
                        latencies.append(total)
                        first.append(((marks[0] - started) * 1000) if marks else total)
                        per_intent.setdefault(result.intent, []).append(total)
                        ungrounded += 0 if result.grounded else 1
            out["backends"][name] = {
                "model": info,
                "turns": len(latencies),
                "errors": errors,
                "ungrounded_replies": ungrounded,
                "turn_ms": {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1),
                            "max": round(max(latencies), 1)},
                "first_token_ms": {"p50": round(percentile(first, 50), 1), "p95": round(percentile(first, 95), 1),
                                   "max": round(max(first), 1)},
                "turn_ms_by_intent_p95": {k: round(percentile(v, 95), 1) for k, v in sorted(per_intent.items())},
                "rss_peak_mb": _rss_peak_mb(),
                "speech_model_loaded": speech_loaded,
            }
    finally:
        if previous is None:
            os.environ.pop("ANXIN_DB_URL", None)
        else:
            os.environ["ANXIN_DB_URL"] = previous
    out["rss_peak_mb"] = _rss_peak_mb()
    return out
