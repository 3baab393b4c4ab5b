"""Run scripted conversation suites against the advisor (``anxin eval``).

:func:`run_suites` loads every suite under the given paths, runs each conversation
``k`` times — every run in a fresh session (``new_session(channel=..., language=
suite lang)``) — checks each turn's ``expect`` (:mod:`anxin.evals.expectations`) and
returns an :class:`EvalReport`. It never raises for a bad suite or a crashing advisor:

* a turn in which the advisor raises is a failed turn (``error``: the exception type
  and message), and the run goes on with the next turn;
* a suite file that cannot be loaded is a :class:`~anxin.evals.suites.LoadError`
  named by file and line; it counts as failed conversations (see
  :mod:`anxin.evals.suites`) and the other files still run.

Scores follow τ-bench: a conversation *passes* when all ``k`` runs pass; ``pass^1`` is
the mean over conversations of the share of runs that passed and ``pass^k`` the share
of conversations whose ``k`` runs all passed (``pass_hat`` gives pass^j for every
j ≤ k with τ-bench's unbiased estimator C(c, j) / C(k, j)). Conversations that could
not be loaded count as 0 passing runs.

Conversations (and their runs) run on a thread pool: ``workers`` defaults to
``min(4, cpu count)`` for the ``none`` LLM back-end on a PostgreSQL database and to 1
otherwise (one local LLM serialises anyway, and SQLite's single writer makes
concurrent sessions fail with "database is locked"). All runs share one advisor,
which must accept concurrent turns of *different* sessions (sessions themselves are
never used by two threads).
"""
from __future__ import annotations

import json
import math
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from pydantic import BaseModel, Field

from anxin.agent.types import TurnResult
from anxin.evals.expectations import Failure, check, grounding, reply_language, turn_latency
from anxin.evals.suites import Conversation, Expect, LoadError, Suite, Turn, load_paths

#: Format tag written into ``results.json``.
RESULTS_FORMAT = "anxin-eval/1"


class AdvisorLike(Protocol):
    """What the runner needs of an advisor (:class:`anxin.agent.advisor.Advisor`)."""

    def new_session(self, channel: str = "web", language: str | None = None) -> str: ...

    def respond(self, session_id: str, text: str | None = None, audio: str | None = None) -> TurnResult: ...


AdvisorFactory = Callable[[], AdvisorLike]


# --------------------------------------------------------------------------- records

class TurnRecord(BaseModel):
    """One turn of one run: what was sent, what came back, and whether ``expect`` held."""

    index: int                                  # 1-based within the conversation
    line: int | None = None                     # line of the turn in the suite file
    user: str | None = None
    audio: str | None = None                    # the audio path as resolved
    transcript: str | None = None
    reply: str = ""
    language: str | None = None
    intent: str | None = None
    entities: dict[str, Any] = Field(default_factory=dict)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    citations: list[dict[str, Any]] = Field(default_factory=list)
    emotion: dict[str, Any] = Field(default_factory=dict)
    handoff: dict[str, Any] = Field(default_factory=dict)
    latency_ms: float = 0.0                     # the advisor's figure (the wall time when it gives 0)
    wall_ms: float = 0.0                        # measured around respond() by the runner
    backend: str | None = None
    advisor_grounded: bool | None = None        # the advisor's own verifier verdict
    numbers: list[str] = Field(default_factory=list)             # numbers read in the reply
    ungrounded_numbers: list[str] = Field(default_factory=list)  # those not in tool results / clauses
    expect: Expect = Field(default_factory=Expect)
    passed: bool = False
    failures: list[Failure] = Field(default_factory=list)
    error: str | None = None                    # the advisor raised

    @property
    def result(self) -> TurnResult | None:
        """The turn as a :class:`TurnResult` (None when the advisor raised)."""
        if self.error is not None:
            return None
        return TurnResult.model_validate({
            "session_id": "", "reply": self.reply, "language": self.language or "zh",
            "intent": self.intent or "out_of_scope", "tool_calls": self.tool_calls,
            "citations": self.citations, "emotion": self.emotion or {}, "handoff": self.handoff or {},
            "latency_ms": self.latency_ms, "transcript": self.transcript})


class RunRecord(BaseModel):
    """One run of a conversation in a fresh session."""

    run: int                                    # 1-based
    session_id: str | None = None
    passed: bool = False
    seconds: float = 0.0
    error: str | None = None                    # the session could not start
    turns: list[TurnRecord] = Field(default_factory=list)

    def failing_turns(self) -> list[TurnRecord]:
        return [t for t in self.turns if not t.passed]


class ConversationRecord(BaseModel):
    """A conversation and its ``k`` runs (or the load error that kept it from running)."""

    suite: str
    file: str
    id: str
    line: int | None = None
    description: str = ""
    channel: str = "web"
    tags: list[str] = Field(default_factory=list)
    language: str = "unknown"
    runs: list[RunRecord] = Field(default_factory=list)
    passed: bool = False
    successes: int = 0                          # runs that passed
    load_error: str | None = None
    #: how many conversations this record stands for (a whole-file load error may be several)
    weight: int = 1

    @property
    def name(self) -> str:
        return f"{self.suite}/{self.id}"

    def summary_line(self) -> str:
        """``PASS suite/id`` or ``FAIL suite/id ...`` with the first failing turn and reason."""
        if self.load_error is not None:
            where = f"{self.file}:{self.line}" if self.line else self.file
            return f"FAIL {self.name} — not loaded: {where}: {self.load_error}"
        k = len(self.runs)
        if self.passed:
            return f"PASS {self.name}" + (f" ({k}/{k} runs)" if k > 1 else "")
        run = next((r for r in self.runs if not r.passed), None)
        head = f"FAIL {self.name}" + (f" ({self.successes}/{k} runs passed)" if k > 1 else "")
        if run is None:
            return head
        if run.error:
            return f"{head} — run {run.run}: {run.error}"
        parts = []
        for t in run.failing_turns():
            where = f"turn {t.index}" + (f" (line {t.line})" if t.line else "")
            why = t.error or "; ".join(str(f) for f in t.failures)
            parts.append(f"{where}: {why}")
        prefix = f"run {run.run}, " if k > 1 else ""
        return f"{head} — {prefix}" + " | ".join(parts)


class EvalReport(BaseModel):
    """Everything one ``anxin eval`` produced; ``results.json`` is its JSON."""

    format: str = RESULTS_FORMAT
    measured_at: str = ""
    seconds: float = 0.0
    k: int = 1
    workers: int = 1
    backend: str | None = None
    paths: list[str] = Field(default_factory=list)
    missing_paths: list[str] = Field(default_factory=list)
    conversations: list[ConversationRecord] = Field(default_factory=list)
    summary: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @property
    def passed(self) -> int:
        """Conversations that passed (all ``k`` runs)."""
        return sum(c.weight for c in self.conversations if c.passed)

    @property
    def failed(self) -> int:
        """Conversations that failed, not loaded ones included."""
        return sum(c.weight for c in self.conversations if not c.passed)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.missing_paths

    def final_line(self) -> str:
        """The last line ``anxin eval`` prints."""
        return f"{self.passed} passed, {self.failed} failed"

    def to_json(self) -> dict[str, Any]:
        """``results.json`` content."""
        data = self.model_dump(mode="json", exclude={"conversations"})
        data["passed"], data["failed"] = self.passed, self.failed
        convs = []
        for c in self.conversations:
            cd = c.model_dump(mode="json")
            for run in cd["runs"]:
                for t in run["turns"]:
                    t["expect"] = {k: v for k, v in t["expect"].items() if v is not None}
            convs.append(cd)
        data["conversations"] = convs
        return data


# --------------------------------------------------------------------------- running

def _default_advisor_factory(backend: str | None) -> AdvisorFactory:
    def make() -> AdvisorLike:
        from anxin.agent.advisor import Advisor

        return Advisor(backend=backend)
    return make


def backend_name(advisor: Any, backend: str | None = None) -> str | None:
    """The LLM back-end in use: the ``--backend`` override, ``ANXIN_LLM``, or what the
    advisor says (an attribute ``backend`` / ``backend_name``, a string or an object with
    a ``name``)."""
    for attr in ("backend_name", "backend"):
        value = getattr(advisor, attr, None)
        if isinstance(value, str) and value:
            return value
        name = getattr(value, "name", None)
        if isinstance(name, str) and name:
            return name
    return backend or os.environ.get("ANXIN_LLM") or None


def database_is_sqlite() -> bool:
    """Whether the advisor's database (``ANXIN_DB_URL``, default SQLite) is SQLite."""
    try:
        from anxin.db.engine import database_url, is_sqlite

        return is_sqlite(database_url())
    except Exception:  # noqa: BLE001 - no database layer: nothing to contend for
        return False


def default_workers(backend: str | None, sqlite: bool | None = None) -> int:
    """``min(4, cpu count)`` for the ``none`` back-end, else 1 (one local LLM serialises).

    At most 2 on SQLite (``sqlite`` None: look it up): its single writer serialises the
    sessions' writes (transactions take the write lock up front, so they wait instead of
    failing), and more workers only queue."""
    if backend is None or backend.strip().lower() != "none":
        return 1
    if sqlite is None:
        sqlite = database_is_sqlite()
    cpus = os.cpu_count() or 1
    return max(1, min(2 if sqlite else 4, cpus))


def _conversation_language(suite: Suite, conv: Conversation) -> str:
    if suite.lang:
        return suite.lang
    for turn in conv.turns:
        if turn.expect.language:
            return turn.expect.language
    for turn in conv.turns:
        if turn.user:
            return reply_language(turn.user) or "unknown"
    return "unknown"


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _coerce_result(value: Any, session_id: str) -> TurnResult:
    if isinstance(value, TurnResult):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        return TurnResult.model_validate({"session_id": session_id, **value})
    raise TypeError(f"respond() returned {type(value).__name__}, not a TurnResult")


def run_turn(advisor: AdvisorLike, session_id: str, turn: Turn, index: int) -> TurnRecord:
    """Send one turn, check its expectations; an advisor exception is a failed turn."""
    rec = TurnRecord(index=index, line=turn.line, user=turn.user, expect=turn.expect,
                     audio=str(turn.audio_path) if turn.audio_path is not None else turn.audio)
    t0 = time.perf_counter()
    try:
        if turn.audio is not None:
            path = turn.audio_path or Path(turn.audio)
            if not path.is_file():
                raise FileNotFoundError(f"audio file not found: {path}")
            raw = advisor.respond(session_id, audio=str(path))
        else:
            raw = advisor.respond(session_id, text=turn.user)
        result = _coerce_result(raw, session_id)
    except Exception as exc:  # noqa: BLE001 - a crash is a failed turn, never a crashed runner
        rec.wall_ms = round((time.perf_counter() - t0) * 1000, 2)
        rec.error = _error_text(exc)
        rec.failures = [Failure(key="error", message=f"the advisor raised {rec.error}")]
        return rec
    rec.wall_ms = round((time.perf_counter() - t0) * 1000, 2)
    rec.transcript = result.transcript
    rec.reply = result.reply
    rec.language = result.language
    rec.intent = result.intent
    rec.entities = result.entities
    rec.tool_calls = [c.model_dump(mode="json") for c in result.tool_calls]
    rec.citations = [c.model_dump(mode="json") for c in result.citations]
    rec.emotion = result.emotion.model_dump(mode="json")
    rec.handoff = result.handoff.model_dump(mode="json")
    rec.latency_ms = round(turn_latency(result, rec.wall_ms), 2)
    rec.backend = result.backend
    rec.advisor_grounded = result.grounded
    try:
        g = grounding(result)
        rec.numbers, rec.ungrounded_numbers = g.numbers, g.ungrounded
        rec.failures = check(turn.expect, result, wall_ms=rec.wall_ms)
    except Exception as exc:  # noqa: BLE001 - a checker bug must not stop the run either
        rec.failures = [Failure(key="error", message=f"checking the turn raised {_error_text(exc)}")]
    rec.passed = not rec.failures
    return rec


def run_conversation(advisor: AdvisorLike, suite: Suite, conv: Conversation, run: int) -> RunRecord:
    """One run of a conversation in a fresh session."""
    rec = RunRecord(run=run)
    t0 = time.perf_counter()
    try:
        rec.session_id = advisor.new_session(channel=conv.channel, language=suite.lang)
    except Exception as exc:  # noqa: BLE001
        rec.error = f"new_session raised {_error_text(exc)}"
        rec.seconds = round(time.perf_counter() - t0, 3)
        return rec
    for i, turn in enumerate(conv.turns, start=1):
        rec.turns.append(run_turn(advisor, rec.session_id, turn, i))
    rec.passed = all(t.passed for t in rec.turns)
    rec.seconds = round(time.perf_counter() - t0, 3)
    return rec


def _load_error_record(err: LoadError) -> ConversationRecord:
    return ConversationRecord(
        suite=err.suite or err.path.stem, file=str(err.path), id=err.conversation_id or f"<{err.path.name}>",
        line=err.line, load_error=err.message, weight=max(1, err.conversations), tags=list(err.tags),
        language=err.lang or "unknown")


def run_suites(
    paths: Iterable[Path | str],
    k: int = 1,
    report_dir: Path | str | None = None,
    junit: Path | str | None = None,
    advisor_factory: AdvisorFactory | None = None,
    workers: int | None = None,
    *,
    backend: str | None = None,
    on_conversation: Callable[[ConversationRecord], None] | None = None,
) -> EvalReport:
    """Run every conversation under ``paths`` ``k`` times; write the reports asked for.

    ``advisor_factory`` builds the advisor (default: ``Advisor(backend=backend)``);
    ``on_conversation`` is called (from the worker threads, one at a time) as each
    conversation finishes all its runs.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    t_start = time.perf_counter()
    paths = [Path(p) for p in paths]
    loaded = load_paths(paths)
    report = EvalReport(k=k, paths=[str(p) for p in paths], missing_paths=[str(p) for p in loaded.missing],
                        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    errors = [_load_error_record(e) for e in loaded.errors]
    lock = threading.Lock()
    if on_conversation is not None:
        for rec in errors:
            on_conversation(rec)

    jobs: list[tuple[Suite, Conversation]] = [(s, c) for s in loaded.suites for c in s.conversations]
    records = [ConversationRecord(suite=s.name, file=str(s.path), id=c.id, line=c.line, description=c.description,
                                  channel=c.channel, tags=list(c.tags), language=_conversation_language(s, c))
               for s, c in jobs]
    runs: list[list[RunRecord | None]] = [[None] * k for _ in jobs]
    remaining = [k] * len(jobs)

    advisor: AdvisorLike | None = None
    start_error: str | None = None
    if jobs:
        try:
            advisor = (advisor_factory or _default_advisor_factory(backend))()
        except Exception as exc:  # noqa: BLE001
            start_error = f"the advisor could not start: {_error_text(exc)}"
    report.backend = backend_name(advisor, backend) if advisor is not None else backend
    n_workers = workers if workers is not None else default_workers(report.backend)
    report.workers = max(1, n_workers)

    def finish(i: int) -> None:
        rec = records[i]
        rec.runs = [r for r in runs[i] if r is not None]
        rec.successes = sum(r.passed for r in rec.runs)
        rec.passed = rec.successes == k
        if on_conversation is not None:
            on_conversation(rec)

    def job(i: int, run: int) -> None:
        suite, conv = jobs[i]
        if advisor is None:
            result = RunRecord(run=run, error=start_error or "no advisor")
        else:
            try:
                result = run_conversation(advisor, suite, conv, run)
            except Exception as exc:  # noqa: BLE001 - belt and braces
                result = RunRecord(run=run, error=f"the runner failed: {_error_text(exc)}")
        with lock:
            runs[i][run - 1] = result
            remaining[i] -= 1
            if remaining[i] == 0:
                finish(i)

    tasks = [(i, r) for i in range(len(jobs)) for r in range(1, k + 1)]
    if report.workers == 1 or len(tasks) <= 1:
        for i, r in tasks:
            job(i, r)
    else:
        with ThreadPoolExecutor(max_workers=report.workers, thread_name_prefix="anxin-eval") as pool:
            for fut in [pool.submit(job, i, r) for i, r in tasks]:
                fut.result()

    report.conversations = errors + records
    report.summary = summarise(report)
    from anxin.evals.metrics import compute_metrics

    report.metrics = compute_metrics(report)
    report.seconds = round(time.perf_counter() - t_start, 3)
    if report_dir is not None:
        write_results(report, Path(report_dir))
    if junit is not None:
        write_junit(report, Path(junit))
    return report


# --------------------------------------------------------------------------- summaries

def pass_hat(successes: int, n: int, j: int) -> float:
    """τ-bench's unbiased pass^j from ``successes`` of ``n`` runs: C(c, j) / C(n, j)."""
    if j > n or n <= 0:
        return 0.0
    return math.comb(successes, j) / math.comb(n, j)


def _group(conversations: list[ConversationRecord], k: int) -> dict[str, Any]:
    n = sum(c.weight for c in conversations)
    passed = sum(c.weight for c in conversations if c.passed)
    p1 = sum(c.successes / k for c in conversations) / n if n else 0.0
    return {"conversations": n, "passed": passed, "failed": n - passed,
            "pass_rate": round(passed / n, 4) if n else 0.0,
            "pass^1": round(p1, 4), f"pass^{k}": round(passed / n, 4) if n else 0.0}


def summarise(report: EvalReport) -> dict[str, Any]:
    """Totals, pass^1 / pass^k, and per-suite, per-capability (tag) and per-language groups."""
    convs = report.conversations
    k = report.k
    totals = _group(convs, k)
    n = totals["conversations"]
    hat = {str(j): round(sum(c.weight * pass_hat(c.successes, k, j) for c in convs) / n, 4) if n else 0.0
           for j in range(1, k + 1)}
    by_suite: dict[str, list[ConversationRecord]] = defaultdict(list)
    by_tag: dict[str, list[ConversationRecord]] = defaultdict(list)
    by_lang: dict[str, list[ConversationRecord]] = defaultdict(list)
    for c in convs:
        by_suite[c.suite].append(c)
        for tag in (c.tags or ["(untagged)"]):
            by_tag[tag].append(c)
        by_lang[c.language].append(c)
    return {
        **totals,
        "k": k,
        "pass_hat": hat,
        "runs": sum(len(c.runs) for c in convs),
        "turns": sum(len(r.turns) for c in convs for r in c.runs),
        "not_loaded": sum(c.weight for c in convs if c.load_error is not None),
        "by_suite": {name: _group(v, k) for name, v in sorted(by_suite.items())},
        "by_capability": {name: _group(v, k) for name, v in sorted(by_tag.items())},
        "by_language": {name: _group(v, k) for name, v in sorted(by_lang.items())},
    }


# --------------------------------------------------------------------------- outputs

def write_results(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``report.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = report.to_json()
    try:
        from anxin.evals.bench import machine

        data["machine"] = machine()
    except Exception:  # noqa: BLE001 - the machine line is informative only
        pass
    results = out_dir / "results.json"
    results.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    from anxin.evals.report_template import render_report

    html = out_dir / "report.html"
    html.write_text(render_report(report), encoding="utf-8")
    return results, html


def junit_xml(report: EvalReport) -> str:
    """JUnit XML: a ``testsuite`` per suite, a ``testcase`` per conversation whose failure
    message lists the failing turns (not loaded conversations are failures too)."""
    root = ET.Element("testsuites", name="anxin eval", tests=str(report.passed + report.failed),
                      failures=str(report.failed), time=f"{report.seconds:.3f}")
    groups: dict[str, list[ConversationRecord]] = defaultdict(list)
    for c in report.conversations:
        groups[c.suite].append(c)
    for name, convs in groups.items():
        seconds = sum(r.seconds for c in convs for r in c.runs)
        suite_el = ET.SubElement(root, "testsuite", name=name, tests=str(sum(c.weight for c in convs)),
                                 failures=str(sum(c.weight for c in convs if not c.passed)), errors="0",
                                 skipped="0", time=f"{seconds:.3f}", file=convs[0].file)
        for c in convs:
            case = ET.SubElement(suite_el, "testcase", classname=name, name=c.id, file=c.file,
                                 time=f"{sum(r.seconds for r in c.runs):.3f}")
            if c.line:
                case.set("line", str(c.line))
            if not c.passed:
                fail = ET.SubElement(case, "failure", message=_clean_xml(c.summary_line())[:1000],
                                     type="load_error" if c.load_error else "expectation")
                fail.text = _clean_xml(_failure_details(c))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _clean_xml(text: str) -> str:
    """Drop characters XML 1.0 cannot hold."""
    return "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 0x20 and ord(ch) not in (0xFFFE, 0xFFFF)))


def _failure_details(c: ConversationRecord) -> str:
    if c.load_error is not None:
        return f"{c.file}:{c.line or '?'}: {c.load_error}"
    lines = []
    for run in c.runs:
        if run.passed:
            continue
        if run.error:
            lines.append(f"run {run.run}: {run.error}")
        for t in run.failing_turns():
            said = t.user if t.user is not None else f"[audio {t.audio}]"
            lines.append(f"run {run.run} turn {t.index}" + (f" (line {t.line})" if t.line else "") + f": {said}")
            for f in t.failures:
                lines.append(f"  - {f}")
            lines.append(f"  reply: {t.reply}")
    return "\n".join(lines)


def write_junit(report: EvalReport, path: Path) -> Path:
    """Write the JUnit XML file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(report), encoding="utf-8")
    return path
