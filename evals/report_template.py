"""The self-contained HTML report of ``anxin eval`` (``report.html``).

One file, no external assets: a pass/fail table, per-capability (tag), per-language and
per-suite bar charts as inline SVG, the metrics, and every failing turn with its reply,
tool calls and citations side by side. Everything taken from suites or replies is
HTML-escaped (Jinja2 autoescaping; the SVG is built with :func:`html.escape`).
"""
from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

if TYPE_CHECKING:
    from anxin.evals.runner import EvalReport

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Anxin eval — {{ passed }} passed, {{ failed }} failed</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2rem; color: #1f2933; background: #fff; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d9e2ec; padding-bottom: .3rem; }
.meta { color: #52606d; font-size: .9rem; }
.totals span { display: inline-block; margin-right: 1.5rem; font-size: 1.2rem; }
.pass { color: #1b7f3b; font-weight: 600; } .fail { color: #c0392b; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #d9e2ec; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
tr.row-fail td { background: #fff5f5; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; }
.chart h3 { margin: .5rem 0; font-size: 1rem; }
.turn { border: 1px solid #e4e7eb; border-radius: 6px; margin: 1rem 0; padding: .6rem .8rem; }
.turn h4 { margin: .2rem 0 .5rem; }
.side { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: .8rem; }
.side > div { background: #f8fafc; border-radius: 4px; padding: .5rem; overflow-x: auto; }
.side h5 { margin: 0 0 .3rem; font-size: .85rem; color: #52606d; text-transform: uppercase; }
pre { white-space: pre-wrap; word-break: break-word; margin: 0; font-size: .8rem; }
ul.failures { margin: .2rem 0 .6rem; color: #c0392b; }
.small { font-size: .8rem; color: #52606d; }
</style>
</head>
<body>
<h1>Anxin conversation tests</h1>
<p class="meta">{{ report.measured_at }} · k = {{ report.k }} · back-end {{ report.backend or "default" }}
 · {{ report.workers }} worker(s) · {{ "%.1f"|format(report.seconds) }} s · {{ summary.turns }} turns</p>
<p class="totals"><span class="pass">{{ passed }} passed</span><span class="fail">{{ failed }} failed</span>
<span>pass^1 {{ "%.3f"|format(summary["pass^1"]) }}</span>
{% if report.k > 1 %}<span>pass^{{ report.k }} {{ "%.3f"|format(summary["pass^" ~ report.k]) }}</span>{% endif %}</p>
{% if report.missing_paths %}<p class="fail">Paths not found or without suites: {{ report.missing_paths|join(", ") }}</p>{% endif %}

<h2>Pass rate by capability, language and suite</h2>
<div class="charts">
<div class="chart"><h3>By capability (tag)</h3>{{ chart_tags }}</div>
<div class="chart"><h3>By language</h3>{{ chart_langs }}</div>
<div class="chart"><h3>By suite</h3>{{ chart_suites }}</div>
</div>

<h2>Metrics</h2>
<table>
<tr><th>metric</th><th>value</th><th>hits / n</th></tr>
{% for name, m in headline %}
<tr><td>{{ name }}</td><td>{{ "n/a" if m.value is none else "%.3f"|format(m.value) }}</td><td>{{ m.hits }} / {{ m.n }}</td></tr>
{% endfor %}
<tr><td>latency ms (p50 / p95 / max)</td><td colspan="2">{{ metrics.latency_ms.p50 }} / {{ metrics.latency_ms.p95 }} / {{ metrics.latency_ms.max }}</td></tr>
</table>
{% if metrics.expectation_pass_rates %}
<h3>Expectation keys</h3>
<table><tr><th>key</th><th>held</th><th>checked</th><th>rate</th></tr>
{% for key, m in metrics.expectation_pass_rates.items() %}
<tr><td>{{ key }}</td><td>{{ m.hits }}</td><td>{{ m.n }}</td><td>{{ "n/a" if m.value is none else "%.3f"|format(m.value) }}</td></tr>
{% endfor %}</table>
{% endif %}

<h2>Conversations</h2>
<table>
<tr><th>result</th><th>suite</th><th>conversation</th><th>tags</th><th>lang</th><th>channel</th><th>runs passed</th><th>first failure</th></tr>
{% for c in report.conversations %}
<tr class="{{ 'row-pass' if c.passed else 'row-fail' }}">
<td class="{{ 'pass' if c.passed else 'fail' }}">{{ "PASS" if c.passed else "FAIL" }}</td>
<td>{{ c.suite }}</td><td>{{ c.id }}{% if c.description %}<div class="small">{{ c.description }}</div>{% endif %}
<div class="small">{{ c.file }}{% if c.line %}:{{ c.line }}{% endif %}</div></td>
<td>{{ c.tags|join(", ") }}</td><td>{{ c.language }}</td><td>{{ c.channel }}</td>
<td>{% if c.load_error is none %}{{ c.successes }} / {{ c.runs|length }}{% else %}not loaded{% if c.weight > 1 %} ({{ c.weight }} conversations){% endif %}{% endif %}</td>
<td>{% if not c.passed %}{{ first_failure(c) }}{% endif %}</td>
</tr>
{% endfor %}
</table>

{% if failing %}
<h2>Failing turns</h2>
{% for c, run, t in failing %}
<div class="turn">
<h4><span class="fail">FAIL</span> {{ c.suite }}/{{ c.id }} · run {{ run.run }} · turn {{ t.index }}{% if t.line %} (line {{ t.line }}){% endif %}</h4>
<p>{% if t.user is not none %}<b>User:</b> {{ t.user }}{% else %}<b>Audio:</b> {{ t.audio }}{% if t.transcript %} — <b>heard:</b> {{ t.transcript }}{% endif %}{% endif %}</p>
<ul class="failures">{% for f in t.failures %}<li><b>{{ f.key }}</b>: {{ f.message }}</li>{% endfor %}</ul>
<p class="small">intent {{ t.intent }} · emotion {{ t.emotion.label if t.emotion else "" }} · hand-off {{ "active" if t.handoff and t.handoff.active else "inactive" }}
 · language {{ t.language }} · {{ "%.0f"|format(t.latency_ms) }} ms{% if t.ungrounded_numbers %} · ungrounded numbers: {{ t.ungrounded_numbers|join(", ") }}{% endif %}</p>
<div class="side">
<div><h5>Reply</h5><pre>{{ t.reply }}</pre></div>
<div><h5>Tool calls ({{ t.tool_calls|length }})</h5>{% for call in t.tool_calls %}<pre><b>{{ call.name }}</b>{{ "" if call.ok else " (error)" }}
args: {{ dumps(call.args) }}
result: {{ dumps(call.result, 1500) }}</pre>{% if not loop.last %}<hr>{% endif %}{% else %}<span class="small">none</span>{% endfor %}</div>
<div><h5>Citations ({{ t.citations|length }})</h5>{% for cit in t.citations %}<pre><b>{{ cit.clause_id }}</b>{% if cit.heading %} {{ cit.heading }}{% endif %}
{{ (cit.text or "")[:400] }}</pre>{% if not loop.last %}<hr>{% endif %}{% else %}<span class="small">none</span>{% endfor %}</div>
</div>
</div>
{% endfor %}
{% endif %}
</body>
</html>
"""


def bar_chart(groups: dict[str, dict[str, Any]], width: int = 420) -> Markup:
    """A horizontal bar chart (inline SVG) of each group's pass rate."""
    if not groups:
        return Markup('<p class="small">nothing to show</p>')
    label_w, bar_w, row_h = 150, width - 150 - 70, 24
    height = row_h * len(groups) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="pass rate">']
    for i, (name, g) in enumerate(groups.items()):
        y = 4 + i * row_h
        rate = float(g.get("pass_rate") or 0.0)
        w = max(0.0, min(1.0, rate)) * bar_w
        color = "#2f9e44" if rate >= 0.999 else ("#f08c00" if rate >= 0.5 else "#e03131")
        label = html.escape(name if len(name) <= 22 else name[:21] + "…")
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end" font-size="12">{label}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 8}" fill="#edf2f7"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{color}">'
                     f'<title>{html.escape(name)}: {g.get("passed", 0)}/{g.get("conversations", 0)}</title></rect>')
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 16}" font-size="12">'
                     f'{g.get("passed", 0)}/{g.get("conversations", 0)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _dumps(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _first_failure(c: Any) -> str:
    line = c.summary_line()
    _, _, why = line.partition(" — ")
    return why or line


def render_report(report: "EvalReport") -> str:
    """The HTML report of ``report``."""
    from anxin.evals.metrics import HEADLINE

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(TEMPLATE)
    failing = [(c, run, t) for c in report.conversations for run in c.runs if not run.passed
               for t in run.turns if not t.passed]
    summary = report.summary or {}
    metrics = report.metrics or {}
    empty = {"value": None, "hits": 0, "n": 0}
    headline = [(name.replace("_", " "), metrics.get(name, empty)) for name in HEADLINE]
    return template.render(
        report=report, passed=report.passed, failed=report.failed, summary=summary,
        metrics={"latency_ms": {"p50": 0, "p95": 0, "max": 0}, "expectation_pass_rates": {}, **metrics},
        headline=headline, failing=failing, dumps=_dumps, first_failure=_first_failure,
        chart_tags=bar_chart(summary.get("by_capability", {})),
        chart_langs=bar_chart(summary.get("by_language", {})),
        chart_suites=bar_chart(summary.get("by_suite", {})),
    )
