"""`anxin bench api`: the real HTTP server under concurrent customer sessions.

``anxin serve`` is started in a subprocess on 127.0.0.1 (a free port) with the
deterministic ``none`` LLM back-end, a fresh temporary SQLite database
(``ANXIN_DB_URL``) and the existing policy index of ``ANXIN_HOME``. Then ``sessions``
customers (one thread and one HTTP connection each) loop for ``seconds``: open a
session, send a fixed script of customer messages (greeting, policy question, quote,
claim status with identity verification, hand-off request; Chinese for even workers,
English for odd ones), then read the transcript back. Every request's latency and
outcome is recorded; an error is a non-2xx answer or an exception (time-out,
connection reset).

Afterwards the server is stopped and the database is read directly: the messages
persisted for the measured sessions are compared with the turns answered (a turn
stores the customer message and the reply, so 2 per turn). Database errors the server
logged (``database is locked``, other ``OperationalError``s) are counted from its log
and reported as they are.

:func:`bench_api` returns a dict and writes nothing but the temporary files.
All traffic goes to 127.0.0.1 only; the loops are bounded in time.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

from anxin.evals.bench import percentile

#: Customer turns per session, by script language: (step name, message).
SCRIPTS: dict[str, list[tuple[str, str]]] = {
    "zh": [
        ("greeting", "你好，我想咨询一下保险"),
        ("policy_question", "百万医疗险的等待期是多久？"),
        ("quote", "我想给重疾险报个价，30岁男，保额50万"),
        ("claim_status", "我想查一下理赔进度"),
        ("verification", "保单号 XH-CI200-2016-000123，身份证后四位 9315，生日 1970-06-25"),
        ("handoff", "转人工"),
    ],
    "en": [
        ("greeting", "Hello, I have a few questions about my insurance"),
        ("policy_question", "How long is the waiting period of the million medical plan?"),
        ("quote", "Quote critical illness cover for a 30 year old man, sum insured 500,000"),
        ("claim_status", "I want to check the status of my claim"),
        ("verification", "Policy number XH-CI200-2016-000123, ID last four digits 9315, date of birth 1970-06-25"),
        ("handoff", "I want to talk to a human advisor"),
    ],
}
#: Intent the advisor should give each step (checked, reported as mismatches, not errors).
EXPECTED_INTENT = {"greeting": "greeting", "policy_question": "policy_question", "quote": "quote",
                   "claim_status": "claim_status", "verification": "claim_status", "handoff": "handoff_request"}
#: Patterns of database trouble looked for in the server's log.
DB_ERROR_PATTERNS = {
    "database_is_locked": re.compile(r"database is locked", re.I),
    "database_table_is_locked": re.compile(r"database table is locked", re.I),
    "sqlite_busy": re.compile(r"SQLITE_BUSY", re.I),
    "operational_error": re.compile(r"OperationalError", re.I),
    "integrity_error": re.compile(r"IntegrityError", re.I),
    "traceback": re.compile(r"^Traceback \(most recent call last\)", re.M),
    "turn_not_persisted": re.compile(r"could not persist the turn"),
    "unhandled_exception_500": re.compile(r"Exception in ASGI application"),
}
_FRAME = re.compile(r'File "[^"]*?/((?:agent|ui|db|tools|knowledge|evals)/[^"/]+\.py)", line (\d+), in (\w+)')


def db_error_sites(log: str) -> dict[str, int]:
    """Where the server's "database is locked" errors were raised: the project frames
    (outermost first) of each traceback ending in one, counted."""
    sites: Counter[str] = Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("sqlalchemy.exc.OperationalError") and "database is locked" in line:
            start = max((j for j in range(i) if lines[j].startswith("Traceback")), default=0)
            frames = [f"{m.group(1)}:{m.group(2)} {m.group(3)}"
                      for m in (_FRAME.search(x) for x in lines[start:i]) if m]
            frames = [f for f in frames if not f.startswith("ui/api.py:2") or "_blocking" not in f]
            sites[" > ".join(frames[-4:]) or "(no project frame)"] += 1
    return dict(sites)
REQUEST_TIMEOUT_S = 180.0
STARTUP_TIMEOUT_S = 600.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``anxin serve`` in a subprocess (context manager); output goes to ``log_path``."""

    def __init__(self, env: dict[str, str], *, host: str = "127.0.0.1", port: int | None = None,
                 collection: str | None = None, log_path: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.env = env
        self.collection = collection
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="anxin-serve-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self.rss_peak_mb: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> "ServerProcess":
        cmd = [sys.executable, "-c", "from anxin.cli import main; main()", "serve",
               "--host", self.host, "--port", str(self.port)]
        if self.collection:
            cmd += ["--collection", self.collection]
        started = time.perf_counter()
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self._log = log
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"anxin serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2.0).status_code == 200:
                    self.startup_s = time.perf_counter() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"anxin serve did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def _read_rss_peak(self) -> None:
        if self.proc is None:
            return
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.rss_peak_mb = round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        self._read_rss_peak()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)  # open streams (Gradio heartbeats) hold a graceful stop
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 4000) -> str:
        return self.log_text()[-n:]

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    """The server's environment: this one, with the ``none`` back-end, ``db_url`` and no hub access."""
    env = dict(os.environ)
    env.update({"ANXIN_LLM": "none", "ANXIN_DB_URL": db_url, "GRADIO_ANALYTICS_ENABLED": "False",
                "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1"})
    env.setdefault("ANXIN_STAFF_TOKEN", secrets.token_urlsafe(16))
    env.update(extra)
    return env


class Recorder:
    """Thread-safe latencies and errors per endpoint."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.error_samples: list[dict[str, Any]] = []
        self.intent_mismatch: Counter[str] = Counter()

    def ok(self, endpoint: str, ms: float) -> None:
        with self.lock:
            self.latency[endpoint].append(ms)

    def error(self, endpoint: str, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[f"{endpoint}: {kind}"] += 1
            if len(self.error_samples) < 20:
                self.error_samples.append({"endpoint": endpoint, "kind": kind, "detail": detail[:500],
                                           "at": time.strftime("%H:%M:%S")})


def _stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1),
            "max": round(max(values), 1) if values else 0.0}


def _worker(base: str, lang: str, deadline: float, rec: Recorder, sessions: list[str],
            turns: Counter[str], stop: threading.Event, max_sessions: int | None = None) -> None:
    script = SCRIPTS[lang]
    opened = 0
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:

        def call(endpoint: str, method: str, url: str, step: str | None = None, **kw: Any) -> httpx.Response | None:
            t = time.perf_counter()
            try:
                r = client.request(method, url, **kw)
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                rec.error(endpoint, type(exc).__name__, str(exc))
                return None
            ms = (time.perf_counter() - t) * 1000
            if not 200 <= r.status_code < 300:
                rec.error(endpoint, f"HTTP {r.status_code}", r.text)
                return None
            rec.ok(endpoint, ms)
            if step:
                rec.ok(f"turn:{step}", ms)
            return r

        while time.monotonic() < deadline and not stop.is_set():
            if max_sessions is not None and opened >= max_sessions:
                break
            opened += 1
            r = call("POST /api/sessions", "POST", "/api/sessions", json={"language": lang})
            if r is None:
                continue
            body = r.json()
            sid, headers = body["session_id"], {"Authorization": f"Bearer {body['token']}"}
            with rec.lock:
                sessions.append(sid)
            for step, text in script:
                if time.monotonic() >= deadline:
                    break
                r = call("POST /api/sessions/{id}/messages", "POST", f"/api/sessions/{sid}/messages",
                         step=step, json={"text": text}, headers=headers)
                if r is None:
                    with rec.lock:
                        turns["failed"] += 1
                    continue
                with rec.lock:
                    turns["answered"] += 1
                intent = r.json().get("intent")
                if intent != EXPECTED_INTENT[step]:
                    with rec.lock:
                        rec.intent_mismatch[f"{lang}:{step}→{intent}"] += 1
            else:
                call("GET /api/sessions/{id}/messages", "GET", f"/api/sessions/{sid}/messages",
                     params={"after": 0}, headers=headers)


def count_persisted(db_path: Path, session_ids: list[str]) -> dict[str, Any]:
    """Sessions and messages (by role) stored for ``session_ids`` in the SQLite file."""
    out: dict[str, Any] = {"sessions": 0, "messages_by_role": {}}
    if not session_ids:
        return out
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        con.execute("CREATE TEMP TABLE wanted (id TEXT PRIMARY KEY)")
        con.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(s,) for s in session_ids])
        out["sessions"] = con.execute("SELECT count(*) FROM sessions WHERE id IN (SELECT id FROM wanted)").fetchone()[0]
        rows = con.execute("SELECT role, count(*) FROM messages WHERE session_id IN (SELECT id FROM wanted) "
                           "GROUP BY role").fetchall()
        out["messages_by_role"] = {role: n for role, n in rows}
    finally:
        con.close()
    return out


def bench_api(seconds: float = 120.0, sessions: int = 20, *, collection: str | None = None,
              warmup: bool = True) -> dict[str, Any]:
    """Drive a real ``anxin serve`` with ``sessions`` concurrent customers for ``seconds``."""
    tmp = Path(tempfile.mkdtemp(prefix="anxin-bench-api-"))
    db_path = tmp / "bench-api.db"
    server = ServerProcess(server_env(f"sqlite:///{db_path}"), collection=collection, log_path=tmp / "server.log")
    rec = Recorder()
    ids: list[str] = []
    turns: Counter[str] = Counter()
    result: dict[str, Any] = {"sessions": sessions, "seconds": seconds, "backend": "none", "database": "sqlite (temporary file)"}
    try:
        server.start()
        result["server_startup_s"] = round(server.startup_s or 0.0, 1)
        if warmup:  # one unmeasured conversation loads the searcher, embedder and caches
            t = time.perf_counter()
            for lang in SCRIPTS:
                _worker(server.url, lang, time.monotonic() + 600, Recorder(), [], Counter(), threading.Event(), 1)
            result["warmup_s"] = round(time.perf_counter() - t, 1)
        log_offset = len(server.log_text())
        stop = threading.Event()
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=_worker, name=f"bench-api-{i}",
                                    args=(server.url, "zh" if i % 2 == 0 else "en", deadline, rec, ids, turns, stop),
                                    daemon=True) for i in range(sessions)]
        result["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
        started = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=seconds + REQUEST_TIMEOUT_S + 60)
        stop.set()
        wall = time.perf_counter() - started
        result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        log = server.log_text()[log_offset:]
    finally:
        server.stop()

    endpoints = {k: _stats(v) for k, v in sorted(rec.latency.items()) if not k.startswith("turn:")}
    per_step = {k[5:]: _stats(v) for k, v in sorted(rec.latency.items()) if k.startswith("turn:")}
    all_lat = [x for k, v in rec.latency.items() if not k.startswith("turn:") for x in v]
    n_ok = len(all_lat)
    n_err = sum(rec.errors.values())
    persisted = count_persisted(db_path, ids) if db_path.exists() else {"sessions": 0, "messages_by_role": {}}
    by_role = persisted["messages_by_role"]
    turn_messages = by_role.get("user", 0) + by_role.get("assistant", 0)
    expected = 2 * turns["answered"]
    db_errors = {name: len(p.findall(log)) for name, p in DB_ERROR_PATTERNS.items()}
    result.update({
        "wall_s": round(wall, 1),
        "requests": n_ok + n_err,
        "requests_ok": n_ok,
        "requests_per_s": round(n_ok / wall, 2) if wall else 0.0,
        "turns_per_s": round(turns["answered"] / wall, 2) if wall else 0.0,
        "errors": n_err,
        "error_rate": round(n_err / max(n_ok + n_err, 1), 5),
        "errors_by_kind": dict(rec.errors),
        "error_samples": rec.error_samples,
        "latency_ms": {"overall": _stats(all_lat), **endpoints},
        "turn_latency_ms_by_step": per_step,
        "intent_mismatches": dict(rec.intent_mismatch),
        "persistence": {
            "sessions_opened": len(ids),
            "sessions_stored": persisted["sessions"],
            "turns_answered": turns["answered"],
            "turns_failed": turns["failed"],
            "messages_expected": expected,
            "messages_stored": turn_messages,
            "messages_by_role": by_role,
            "lost_messages": max(expected - turn_messages, 0),
            "extra_messages": max(turn_messages - expected, 0),
        },
        "server_log_db_errors": db_errors,
        "database_locked_sites": db_error_sites(log),
        "server_rss_peak_mb": server.rss_peak_mb,
        "server_log": str(server.log_path),
        "pass": n_err == 0 and turn_messages == expected and persisted["sessions"] == len(ids)
                and not db_errors["database_is_locked"],
    })
    if result["pass"]:
        shutil.rmtree(tmp, ignore_errors=True)
        result["server_log"] = None
    return result


if __name__ == "__main__":  # pragma: no cover - manual run
    import json

    print(json.dumps(bench_api(float(sys.argv[1]) if len(sys.argv) > 1 else 30.0), ensure_ascii=False, indent=1))
