"""`anxin bench`: benchmarks that write ``benchmarks/results/<name>.json``."""
from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import typer

RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
QUESTIONS = Path(__file__).resolve().parent / "questions" / "retrieval.jsonl"
INSQABENCH = Path(__file__).resolve().parents[2] / "shared" / "external" / "insqabench"

app = typer.Typer(help="Run benchmarks; results go to benchmarks/results/.", no_args_is_help=True)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        mem = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "python": platform.python_version(),
            "platform": platform.platform()}


def write_result(name: str, payload: dict[str, Any], out_dir: Path = RESULTS_DIR) -> Path:
    """Write one benchmark's JSON with machine and timestamp."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), **payload}
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def score_ranking(cases: Iterable[tuple[str, Callable[[], list[Any]], Callable[[Any], bool]]]) -> dict[str, Any]:
    """hit@1, hit@5, MRR and latency over (id, run_search, is_relevant) cases."""
    hits1 = hits5 = 0
    rr: list[float] = []
    lat: list[float] = []
    misses: list[str] = []
    n = 0
    for case_id, run, relevant in cases:
        n += 1
        t = time.perf_counter()
        results = run()
        lat.append((time.perf_counter() - t) * 1000)
        rank = next((r.rank for r in results if relevant(r)), None)
        hits1 += rank == 1
        hits5 += rank is not None and rank <= 5
        rr.append(1.0 / rank if rank else 0.0)
        if rank != 1:
            misses.append(case_id)
    return {
        "questions": n,
        "hit@1": round(hits1 / n, 4) if n else 0.0,
        "hit@5": round(hits5 / n, 4) if n else 0.0,
        "mrr": round(statistics.fmean(rr), 4) if rr else 0.0,
        "latency_ms": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                       "max": round(max(lat), 2) if lat else 0.0},
        "not_first": misses,
    }


def _ingest_stats(report) -> dict[str, Any]:
    return {"chunks": report.chunks, "seconds": round(report.seconds, 2),
            "chunks_per_s": round(report.chunks_per_second, 2), "errors": len(report.errors)}


def _drop_collection(name: str) -> None:
    """Start a benchmark collection empty, so ingestion is measured from scratch."""
    from anxin.knowledge.retrieval import invalidate
    from anxin.knowledge.vector_store import get_client

    try:
        get_client().delete_collection(name)
    except Exception:  # absent already
        pass
    invalidate(name)


def bench_own(collection: str = "bench-own") -> dict[str, Any]:
    """The project's own customer questions over the shipped wordings."""
    from anxin.knowledge.index import build_default_index
    from anxin.knowledge.retrieval import get_searcher

    _drop_collection(collection)
    report = build_default_index(collection)
    searcher = get_searcher(collection)
    items = [json.loads(l) for l in QUESTIONS.read_text(encoding="utf-8").splitlines() if l.strip()]
    cases = []
    for item in items:
        expected = set(item["expected"])
        cases.append((item["id"], lambda q=item["query"]: searcher.search(q, k=5),
                      lambda r, e=expected: r.clause_id in e))
    result = score_ranking(cases)
    by_lang = {}
    for lang in ("zh", "en"):
        sub = [c for c, i in zip(cases, items) if i.get("lang") == lang]
        if sub:
            s = score_ranking(sub)
            by_lang[lang] = {k: s[k] for k in ("questions", "hit@1", "hit@5", "mrr")}
    return {**result, "by_language": by_lang, "ingest": _ingest_stats(report)}


def bench_insqabench(split: str = "dev", collection: str | None = None) -> dict[str, Any]:
    """InsQABench clause questions: every fragment ingested, each question asked with its contract named."""
    from anxin.evals.insqabench import doc_id_for, load_items, query_for, write_documents
    from anxin.knowledge.ingest import ingest
    from anxin.knowledge.retrieval import get_searcher

    path = INSQABENCH / f"clause_{split}.json"
    if not path.exists():
        return {"skipped": f"{path} not found"}
    items = load_items(path)
    collection = collection or f"bench-insqabench-{split}"
    docs_dir = Path(tempfile.mkdtemp(prefix="insqabench-"))
    write_documents(items, docs_dir)
    _drop_collection(collection)
    report = ingest([docs_dir], collection)
    searcher = get_searcher(collection)

    def squash(s: str) -> str:
        return "".join(s.split())

    cases = [(str(it.id), lambda it=it: searcher.search(query_for(it), k=5),
              lambda r, it=it: r.doc == doc_id_for(it.contract) and squash(it.fragment) in squash(r.text))
             for it in items]
    return {**score_ranking(cases), "split": split, "contracts": len({i.contract for i in items}),
            "ingest": _ingest_stats(report)}


def bench_scale(target_chunks: int = 10_000, source_collections: tuple[str, ...] = ("bench-own", "bench-insqabench-dev"),
                queries: int = 200) -> dict[str, Any]:
    """Search latency with ``target_chunks`` chunks indexed.

    The collection is filled with copies of the real passages (and their real e5
    vectors) from the other benchmark collections under distinct document ids, so no
    extra embedding time is spent; search cost depends on the number of chunks, the
    vector size and the text statistics, not on the vector values.
    """
    from anxin.knowledge.retrieval import HybridSearcher
    from anxin.knowledge.vector_store import get_collection

    rows: list[tuple[str, dict, Any]] = []
    for name in source_collections:
        col = get_collection(name)
        got = col.get(include=["documents", "metadatas", "embeddings"])
        rows += list(zip(got["documents"], got["metadatas"], got["embeddings"]))
    if not rows:
        return {"skipped": "run the own and InsQABench benchmarks first"}
    name = "bench-scale"
    _drop_collection(name)
    col = get_collection(name)
    ids, docs, metas, vecs = [], [], [], []
    copy = 0
    while len(ids) < target_chunks:
        for n, (text, meta, vec) in enumerate(rows):
            if len(ids) >= target_chunks:
                break
            m = dict(meta)
            m["doc"] = f"{meta['doc']}~{copy}"
            m["source_key"] = f"{meta['source_key']}~{copy}"
            m["product_id"] = f"{meta['product_id']}~{copy}" if meta.get("product_id") else ""
            ids.append(f"scale-{copy}-{n}")
            docs.append(text)
            metas.append(m)
            vecs.append(vec)
        copy += 1
    for i in range(0, len(ids), 2000):
        col.add(ids=ids[i:i + 2000], documents=docs[i:i + 2000], metadatas=metas[i:i + 2000], embeddings=vecs[i:i + 2000])
    searcher = HybridSearcher(name)
    t = time.perf_counter()
    searcher.snapshot()
    load_s = time.perf_counter() - t
    qs = [json.loads(l)["query"] for l in QUESTIONS.read_text(encoding="utf-8").splitlines() if l.strip()]
    qs = (qs * (queries // max(1, len(qs)) + 1))[:queries]
    lat = []
    for q in qs:
        t = time.perf_counter()
        searcher.search(q, k=5)
        lat.append((time.perf_counter() - t) * 1000)
    return {"chunks": col.count(), "snapshot_load_s": round(load_s, 2), "queries": len(lat),
            "latency_ms": {"p50": round(percentile(lat, 50), 2), "p95": round(percentile(lat, 95), 2),
                           "max": round(max(lat), 2)}}


@app.command("retrieval")
def retrieval_cmd(
    insqabench_split: str = typer.Option("dev", help="InsQABench split: dev (tuning allowed) or test (measurement only)."),
    scale_chunks: int = typer.Option(10_000, help="Chunks in the latency-at-scale collection."),
    out_dir: Path = typer.Option(RESULTS_DIR, help="Where to write retrieval.json."),
) -> None:
    """Retrieval quality (own question set, InsQABench) and latency at 10,000 chunks."""
    from anxin.knowledge.embeddings import get_embedder

    # ingestion is measured cold: no passage-embedding cache
    os.environ["ANXIN_EMBED_CACHE"] = "off"
    get_embedder.cache_clear()

    own = bench_own()
    typer.echo(f"own set: hit@1 {own['hit@1']} hit@5 {own['hit@5']} MRR {own['mrr']} p95 {own['latency_ms']['p95']} ms")
    ins = bench_insqabench(insqabench_split)
    if "skipped" not in ins:
        typer.echo(f"InsQABench {insqabench_split}: hit@1 {ins['hit@1']} hit@5 {ins['hit@5']} MRR {ins['mrr']} p95 {ins['latency_ms']['p95']} ms")
    scale = bench_scale(scale_chunks, ("bench-own", f"bench-insqabench-{insqabench_split}"))
    if "skipped" not in scale:
        typer.echo(f"scale: {scale['chunks']} chunks, search p95 {scale['latency_ms']['p95']} ms")
    path = write_result("retrieval", {"embedder": get_embedder().name, "own": own,
                                      f"insqabench_{insqabench_split}": ins, "scale": scale}, out_dir)
    typer.echo(f"wrote {path}")


@app.command("tools")
def tools_cmd(
    n: int = typer.Option(2000, help="Calls per tool."),
    out_dir: Path = typer.Option(RESULTS_DIR, help="Where to write tools.json."),
) -> None:
    """Tool latency (quote, pre_underwrite, claim_status on SQLite) and agreement with an independent reference."""
    from anxin.evals.bench_tools import bench_tools

    result = bench_tools(n=n)
    path = write_result("tools", result, out_dir)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=1)[:2000])
    typer.echo(f"wrote {path}")


@app.command("agent")
def agent_cmd(
    backends: str = typer.Option("none,local", help="Comma-separated LLM back-ends to measure."),
    rounds: int = typer.Option(3, help="Times the conversation script is replayed per back-end."),
    out_dir: Path = typer.Option(RESULTS_DIR, help="Where to write agent.json."),
) -> None:
    """Advisor turn latency, time to first token and peak memory per LLM back-end."""
    from anxin.evals.bench_agent import bench_agent

    result = bench_agent([b.strip() for b in backends.split(",") if b.strip()], rounds=rounds)
    path = write_result("agent", result, out_dir)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=1)[:3000])
    typer.echo(f"wrote {path}")


@app.command("speech")
def speech_cmd(
    download: bool = typer.Option(True, help="Fetch the LibriVox clips (pocketsphinx sdist) with pip when not cached."),
    mandarin: bool = typer.Option(True, help="Also measure synthetic Mandarin (needs espeak-ng)."),
    out_dir: Path = typer.Option(RESULTS_DIR, help="Where to write speech.json."),
) -> None:
    """Speech recognition: WER/RTF on real English speech, CER on synthetic Mandarin."""
    from anxin.evals.bench_speech import bench_speech

    load_start = [round(x, 2) for x in os.getloadavg()]
    result = bench_speech(download=download, mandarin=mandarin)
    result["load_average"] = {"at_start": load_start, "at_end": [round(x, 2) for x in os.getloadavg()]}
    path = write_result("speech", result, out_dir)
    for lang in ("english", "mandarin"):
        block = result.get(lang) or {}
        if "skipped" in block:
            typer.echo(f"{lang}: skipped ({block['skipped']})")
        else:
            typer.echo(f"{lang}: {len(block['clips'])} clips, {block['audio_s']} s of audio, "
                       f"error rate {block['error_rate']}, RTF {block['rtf']}")
    typer.echo(f"wrote {path}")


@app.command("api")
def api_cmd(
    seconds: float = typer.Option(120.0, help="How long the concurrent sessions run."),
    sessions: int = typer.Option(20, help="Concurrent customer sessions."),
    out_dir: Path = typer.Option(RESULTS_DIR, help="Where to write api.json."),
) -> None:
    """The real server (`anxin serve`, none back-end, temporary SQLite) under concurrent customer sessions."""
    from anxin.evals.bench_api import bench_api

    result = bench_api(seconds=seconds, sessions=sessions)
    path = write_result("api", result, out_dir)
    lat = result["latency_ms"]["overall"]
    p = result["persistence"]
    typer.echo(f"{sessions} sessions, {result['wall_s']} s: {result['requests_ok']} requests "
               f"({result['requests_per_s']}/s), p50 {lat['p50']} ms, p95 {lat['p95']} ms, max {lat['max']} ms, "
               f"errors {result['errors']}; messages stored {p['messages_stored']} of {p['messages_expected']} "
               f"(lost {p['lost_messages']}); database errors in the server log {result['server_log_db_errors']}")
    typer.echo(f"wrote {path}")


README = Path(__file__).resolve().parents[1] / "README.md"


def summary_markdown(results_dir: Path = RESULTS_DIR) -> str:
    """A Markdown table of the latest results, with the machine they were measured on."""
    lines = []
    machine_line = ""
    retrieval = results_dir / "retrieval.json"
    if retrieval.exists():
        r = json.loads(retrieval.read_text(encoding="utf-8"))
        m = r["machine"]
        machine_line = f"Measured {r['measured_at']} on {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB), embedder {r.get('embedder')}."
        lines += ["| retrieval set | questions | hit@1 | hit@5 | MRR | p50 ms | p95 ms |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for key, label in (("own", "own customer questions (zh+en)"), ("insqabench_dev", "InsQABench dev"),
                           ("insqabench_test", "InsQABench test")):
            v = r.get(key)
            if v and "hit@1" in v:
                lines.append(f"| {label} | {v['questions']} | {v['hit@1']:.3f} | {v['hit@5']:.3f} | {v['mrr']:.3f} | "
                             f"{v['latency_ms']['p50']} | {v['latency_ms']['p95']} |")
        sc = r.get("scale", {})
        if "chunks" in sc:
            lines.append(f"| search at {sc['chunks']} chunks | {sc['queries']} | | | | {sc['latency_ms']['p50']} | {sc['latency_ms']['p95']} |")
        ing = [(k, r[k]["ingest"]) for k in ("own", "insqabench_dev") if isinstance(r.get(k), dict) and "ingest" in r[k]]
        if ing:
            lines += ["", "| ingestion | chunks | seconds | chunks/s |", "| --- | --- | --- | --- |"]
            lines += [f"| {k} | {v['chunks']} | {v['seconds']} | {v['chunks_per_s']} |" for k, v in ing]
    tools = results_dir / "tools.json"
    if tools.exists():
        t = json.loads(tools.read_text(encoding="utf-8"))
        lines += ["", "| tool (SQLite) | calls | p50 ms | p95 ms | errors |", "| --- | --- | --- | --- | --- |"]
        for name, st in t.get("latency_ms", {}).items():
            lines.append(f"| {name} | {st['n']} | {st['p50']} | {st['p95']} | {t.get('errors', {}).get(name, 0)} |")
        agree = t.get("agreement", {})
        per = agree.get("products", {})
        if per:
            lines.append("")
            lines.append("Agreement with an independent reference: " + ", ".join(
                f"{k} {v['agreement_pct']}% of {v['n']}" for k, v in per.items()) + ".")
    agent = results_dir / "agent.json"
    if agent.exists():
        a = json.loads(agent.read_text(encoding="utf-8"))
        lines += ["", "| advisor back-end | turns | turn p50 ms | turn p95 ms | first token p95 ms | peak RSS MB | ungrounded |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, b in a.get("backends", {}).items():
            if "skipped" in b:
                lines.append(f"| {name} | skipped: {b['skipped']} | | | | | |")
                continue
            lines.append(f"| {name} | {b['turns']} | {b['turn_ms']['p50']} | {b['turn_ms']['p95']} | "
                         f"{b['first_token_ms']['p95']} | {b['rss_peak_mb']} | {b['ungrounded_replies']} |")
    speech = results_dir / "speech.json"
    if speech.exists():
        sp = json.loads(speech.read_text(encoding="utf-8"))
        lines += ["", f"| speech ({sp.get('model')}) | clips | audio s | error rate | RTF | target met |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for key, label in (("english", "English WER (LibriVox)"), ("mandarin", "Mandarin CER (espeak-ng, synthetic)")):
            b = sp.get(key) or {}
            if "skipped" in b:
                lines.append(f"| {label} | skipped: {b['skipped']} | | | | |")
            elif b:
                met = ("yes" if b["pass"] else "no") if "pass" in b else ""
                lines.append(f"| {label} | {len(b.get('clips') or [])} | {b['audio_s']} | {b['error_rate']:.3f} | "
                             f"{b['rtf']} | {met} |")
    api = results_dir / "api.json"
    if api.exists():
        ap = json.loads(api.read_text(encoding="utf-8"))
        lines += ["", f"| API ({ap['sessions']} sessions, {ap['seconds']:g} s, {ap['backend']} back-end) | requests | "
                  "req/s | p50 ms | p95 ms | max ms | errors |", "| --- | --- | --- | --- | --- | --- | --- |"]
        errs: dict[str, int] = {}
        for kind, n in (ap.get("errors_by_kind") or {}).items():
            endpoint = kind.split(": ", 1)[0]
            errs[endpoint] = errs.get(endpoint, 0) + n
        for name, st in ap.get("latency_ms", {}).items():
            n_err = ap["errors"] if name == "overall" else errs.get(name, 0)
            rps = f"{ap['requests_per_s']}" if name == "overall" else ""
            lines.append(f"| {name} | {st['n']} | {rps} | {st['p50']} | {st['p95']} | {st['max']} | {n_err} |")
        p = ap.get("persistence") or {}
        if p:
            lines.append("")
            lines.append(f"Messages persisted: {p['messages_stored']} of {p['messages_expected']} expected "
                         f"({p['turns_answered']} turns, lost {p['lost_messages']}); "
                         f"'database is locked' in the server log: {ap['server_log_db_errors'].get('database_is_locked', 0)}.")
    return "\n".join(([machine_line, ""] if machine_line else []) + lines) + "\n"


@app.command("summary")
def summary_cmd(readme: Path = typer.Option(README, help="README whose benchmark table is replaced.")) -> None:
    """Write benchmarks/results/summary.md and refresh the table in the README."""
    text = summary_markdown()
    (RESULTS_DIR / "summary.md").write_text(text, encoding="utf-8")
    if readme.exists():
        body = readme.read_text(encoding="utf-8")
        start, end = "<!-- bench:start -->", "<!-- bench:end -->"
        if start in body and end in body:
            head, rest = body.split(start, 1)
            body = head + start + "\n" + text + rest[rest.index(end):]
            readme.write_text(body, encoding="utf-8")
    typer.echo(text)


@app.command("all")
def all_cmd(out_dir: Path = typer.Option(RESULTS_DIR, help="Where to write results.")) -> None:
    """Every benchmark available."""
    retrieval_cmd(insqabench_split="dev", scale_chunks=10_000, out_dir=out_dir)
    tools_cmd(n=2000, out_dir=out_dir)
    agent_cmd(backends="none,local", rounds=3, out_dir=out_dir)
    speech_cmd(download=True, mandarin=True, out_dir=out_dir)
    api_cmd(seconds=120.0, sessions=20, out_dir=out_dir)
    summary_cmd(readme=README)
