"""`anxin graph ...`: query and export the product knowledge graph from the command line.

Every command prints a human-readable answer by default and JSON with ``--json``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

app = typer.Typer(
    help="Query and export the product knowledge graph (products, coverages, exclusions, "
         "claim documents, underwriting rules) built from the insurer's filing.",
    no_args_is_help=True,
    add_completion=False,
)

JSON_OPT = typer.Option(False, "--json", help="Print JSON instead of text.")


def _graph():
    from anxin.knowledge.graph import default_graph

    return default_graph()


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _fail(exc: Exception, as_json: bool) -> None:
    to_dict = getattr(exc, "to_dict", None)
    if as_json and callable(to_dict):
        _emit(to_dict())
    else:
        typer.echo(f"error: {getattr(exc, 'message', None) or exc}", err=True)
    raise typer.Exit(1)


def _bi(d: dict[str, Any], prefix: str = "name") -> str:
    zh, en = d.get(f"{prefix}_zh") or "", d.get(f"{prefix}_en") or ""
    return f"{zh} / {en}" if zh and en and zh != en else (zh or en)


@app.command()
def stats(as_json: bool = JSON_OPT) -> None:
    """Node counts per kind and edge counts per relation."""
    from anxin.knowledge.graph import stats as graph_stats

    data = graph_stats(_graph())
    if as_json:
        _emit(data)
        return
    typer.echo(f"{data['nodes']} nodes, {data['edges']} edges")
    typer.echo("nodes by kind:")
    for k, n in data["node_kinds"].items():
        typer.echo(f"  {k:<16} {n}")
    typer.echo("edges by relation:")
    for k, n in data["edge_rels"].items():
        typer.echo(f"  {k:<18} {n}")


@app.command()
def covers(
    term: str = typer.Argument(..., help='What should be covered, in zh or en ("住院", "cancer", "flight delay").'),
    lang: Optional[str] = typer.Option(None, "--lang", help="Match only zh or en texts."),
    as_json: bool = JSON_OPT,
) -> None:
    """Which products cover TERM, best first, with the coverage clause to cite."""
    from anxin.knowledge.graph import products_covering

    results = products_covering(_graph(), term, lang=lang)
    if as_json:
        _emit(results)
        return
    if not results:
        typer.echo(f"no product covers {term!r}")
        return
    for n, r in enumerate(results, start=1):
        typer.echo(f"{n}. {r['product_id']} {_bi(r)}  score={r['score']:.2f}")
        for c in r["coverages"]:
            typer.echo(f"   [{c['clause_id']}] {_bi(c)}  ({', '.join(c['matched_on'])})")


@app.command()
def exclusion(
    text: str = typer.Argument(..., help='An exclusion id (MED-100-EXC-05, EX-THYROID) or a phrase ("酒驾", "suicide").'),
    as_json: bool = JSON_OPT,
) -> None:
    """Which products and underwriting rules an exclusion applies to."""
    from anxin.knowledge.graph import exclusion_applies_to

    data = exclusion_applies_to(_graph(), text)
    if as_json:
        _emit(data)
        return
    if not data["matches"]:
        typer.echo(f"no exclusion matches {text!r}")
        return
    for m in data["matches"]:
        typer.echo(f"[{m['clause_id']}] {_bi(m)}")
        if m["kind"] == "exclusion":
            typer.echo(f"   product: {m['product_id']}")
        for r in m.get("rules", []):
            typer.echo(f"   imposed by {r['rule_id']} ({r['condition']}, line {r['line']}: {', '.join(r['products'])})")
        for s in m.get("similar", []):
            typer.echo(f"   similar: [{s['clause_id']}] {s['product_id']}")
    typer.echo(f"products: {', '.join(data['products']) or '-'}")
    if data["rule_ids"]:
        typer.echo(f"rules: {', '.join(data['rule_ids'])}")


@app.command()
def documents(
    product_id: str = typer.Argument(..., help="Product id, e.g. CI-200."),
    claim_type: Optional[str] = typer.Option(None, "--claim-type", "-t", help="Claim type or coverage code (DEATH, TPD, CI_MED)."),
    as_json: bool = JSON_OPT,
) -> None:
    """The documents a claim on PRODUCT_ID needs (conditional ones for --claim-type)."""
    from anxin.knowledge.graph import claim_documents_for

    try:
        data = claim_documents_for(_graph(), product_id, claim_type)
    except Exception as exc:  # ToolError: unknown product
        _fail(exc, as_json)
        return
    if as_json:
        _emit(data)
        return
    head = f"{data['product_id']} claim documents [{data['clause_id']}]"
    if claim_type:
        head += f", claim type {claim_type} → {', '.join(data['matched_claim_types']) or 'no extra documents'}"
    typer.echo(head)
    for d in data["documents"]:
        extra = f"  (for {', '.join(d['claim_types'])})" if d["required"] == "conditional" else ""
        typer.echo(f"  {d['id']:<24} {_bi(d)}{extra}")
    others = [c for c in data["conditional"] if c["claim_type"] not in data["matched_claim_types"]]
    for c in others:
        typer.echo(f"  if {c['claim_type']}: {', '.join(c['documents'])}")


@app.command()
def condition(
    name: str = typer.Argument(..., help='Condition id or name ("thyroid_nodule", "甲状腺结节", "hypertension").'),
    inputs: Optional[str] = typer.Option(None, "--inputs", "-i", help='Declaration inputs as JSON, e.g. \'{"tirads": "3"}\'.'),
    as_json: bool = JSON_OPT,
) -> None:
    """Which products a person with condition NAME can still buy, and on what terms."""
    from anxin.knowledge.graph import products_for_condition

    parsed = None
    if inputs:
        try:
            parsed = json.loads(inputs)
        except json.JSONDecodeError as exc:
            typer.echo(f"error: --inputs is not valid JSON: {exc}", err=True)
            raise typer.Exit(2)
        if not isinstance(parsed, dict):
            typer.echo("error: --inputs must be a JSON object", err=True)
            raise typer.Exit(2)
    try:
        data = products_for_condition(_graph(), name, parsed)
    except Exception as exc:  # ToolError: unknown condition, missing input ...
        if not hasattr(exc, "code"):
            raise
        _fail(exc, as_json)
        return
    if as_json:
        _emit(data)
        return
    typer.echo(f"{data['condition']}: {_bi(data)}" + (f"  inputs={json.dumps(parsed, ensure_ascii=False)}" if parsed else ""))
    if data.get("alternatives"):
        typer.echo(f"(also matched: {', '.join(data['alternatives'])})")
    if data.get("note"):
        typer.echo(f"note: {data['note']}")
    for p in data["products"]:
        mark = "✓" if p.get("available") else "✗"
        if p.get("decision") == "not_applicable":
            typer.echo(f"{mark} {p['product_id']:<9} no health underwriting")
            continue
        if data.get("evaluated"):
            detail = str(p.get("decision"))
            if p.get("total_loading_pct") and str(p.get("decision")).startswith("loading"):
                detail += f" +{p['total_loading_pct']}%"
            if p.get("exclusions"):
                detail += f" excl {', '.join(p['exclusions'])}"
            if p.get("postpone_months"):
                detail += f" {p['postpone_months']} months"
            hits = [h for h in p.get("rule_hits") or [] if isinstance(h, dict)]
            if hits:
                detail += "  [" + "; ".join(f"{h.get('rule_id')} {h.get('outcome', '')}".strip() for h in hits) + "]"
            typer.echo(f"{mark} {p['product_id']:<9} {detail}")
        else:
            outs = "; ".join(f"{o['rule_id']} {o['outcome']}" for o in p["outcomes"])
            typer.echo(f"{mark} {p['product_id']:<9} best {p.get('best')}, worst {p.get('worst')}  [{outs}]")
        for req in p.get("requires", []):
            typer.echo(f"    requires {req['condition']} ({req['rule_id']})")


@app.command()
def neighbours(
    clause_id: str = typer.Argument(..., help="A clause id (MED-100-COV-GEN_MED, MED-100-EXC-02, UW-THY-02, EX-THYROID, GEN-WAITING)."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", min=1, help="At most this many."),
    as_json: bool = JSON_OPT,
) -> None:
    """Clause ids related to CLAUSE_ID (for retrieval expansion)."""
    from anxin.knowledge.graph import neighbours as graph_neighbours

    items = graph_neighbours(_graph(), clause_id, limit=limit)
    if as_json:
        _emit(items)
        return
    if not items:
        typer.echo(f"no clause {clause_id!r} in the graph, or nothing related")
        return
    for item in items:
        typer.echo(f"  {item['clause_id']:<26} {item['relation']:<18} {_bi(item)}")


@app.command()
def export(
    path: Path = typer.Argument(..., help="Output file, e.g. graph.graphml."),
    as_json: bool = JSON_OPT,
) -> None:
    """Export the graph as GraphML (non-scalar attributes become JSON strings)."""
    from anxin.knowledge.graph import export_graphml, stats as graph_stats

    g = _graph()
    written = export_graphml(g, str(path))
    data = {"path": written, **{k: v for k, v in graph_stats(g).items() if k in ("nodes", "edges")}}
    if as_json:
        _emit(data)
        return
    typer.echo(f"wrote {data['nodes']} nodes and {data['edges']} edges to {written}")


if __name__ == "__main__":
    app()
