"""Stakeholder report: the verdict, its evidence, and charts, as one self-contained file.

``.html``: charts are embedded as base64 PNG (matplotlib), every piece of user or model text goes
through Jinja autoescape, so an answer containing ``<script>`` is shown, never run.
``.md``: the same content as Markdown with PNG data URIs; text is HTML-escaped too, because
Markdown renderers pass raw HTML through.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sandbox import PIPELINES
from sandbox.advisor import QUESTIONS, advise, judgment_rates
from sandbox.curve_records import load_curve
from sandbox.errors import ConfigError
from sandbox.evaluate import load_summary
from sandbox.store import open_store
from sandbox.text import interval_text

COLORS = {"few-shot": "#4C72B0", "rag": "#55A868", "fine-tuned": "#C44E52"}
METRIC_LABELS = {"json_values": "JSON field agreement", "json_valid": "valid JSON", "similarity": "similarity to reference",
                 "fact_recall": "fact recall", "key_fact": "key fact stated", "token_f1": "token F1", "exact_match": "exact match", "hit_at_k": "retrieval hit@k",
                 "supported": "supported by contexts", "cites": "cites contexts", "judge_score": "LLM-judge score"}


CHARTS = (("quality", "Quality"), ("curve", "Learning curve"), ("cost", "Latency and tokens"),
          ("break_even", "Cost break-even"), ("human", "Human judgments"), ("llm", "LLM judge"))


# charts -------------------------------------------------------------------------------------------------
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def error_bars(intervals) -> list[list[float]]:
    """matplotlib ``yerr`` from (mean, low, high) triples, never negative (it raises on a negative bar)."""
    intervals = list(intervals)
    return [[max(0.0, m - lo) for m, lo, _ in intervals], [max(0.0, hi - m) for m, _, hi in intervals]]


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # headless: reports are written from the CLI and the app's worker threads
    import matplotlib.pyplot as plt

    return plt


def chart_quality(summary) -> str | None:
    rows = [s for s in summary.pipelines.values() if s.n]
    metrics = [m for m in METRIC_LABELS if any(m in s.metrics for s in rows)]
    if not rows or not metrics:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(metrics)), 3.4))
    width = 0.8 / len(rows)
    for i, s in enumerate(rows):
        shown = [(j, s.metrics[m]) for j, m in enumerate(metrics) if m in s.metrics]
        ax.bar([j + i * width for j, _ in shown], [iv.mean for _, iv in shown], width,
               yerr=error_bars((iv.mean, iv.low, iv.high) for _, iv in shown), capsize=3, label=s.pipeline, color=COLORS.get(s.pipeline))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(metrics))], [METRIC_LABELS[m] for m in metrics], rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("Quality per pipeline (mean, 95% bootstrap interval)")
    ax.legend(fontsize=8)
    return _png(fig)


def chart_cost_latency(summary) -> str | None:
    rows = [s for s in summary.pipelines.values() if s.n and "latency_s" in s.metrics]
    if not rows:
        return None
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    names = [s.pipeline for s in rows]
    colors = [COLORS.get(n) for n in names]
    a.bar(names, [s.metrics["latency_s"].mean for s in rows], color=colors,
          yerr=error_bars((iv.mean, iv.low, iv.high) for iv in (s.metrics["latency_s"] for s in rows)), capsize=3)
    a.set_title("Latency per answer (s)")
    b.bar(names, [s.metrics["prompt_tokens"].mean for s in rows], color=colors, label="prompt")
    b.bar(names, [s.metrics["completion_tokens"].mean for s in rows], color="#999999",
          bottom=[s.metrics["prompt_tokens"].mean for s in rows], label="completion")
    b.set_title("Tokens per call")
    b.legend(fontsize=8)
    return _png(fig)


def chart_break_even(cost) -> str | None:
    if cost is None:
        return None
    import numpy as np

    plt = _plt()
    be = [v for v in cost.break_even.values() if v]
    top = max([cost.monthly_calls * 1.5, *(2 * v for v in be)]) or 1000
    calls = np.linspace(0, top, 100)
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for p in PIPELINES:
        ax.plot(calls, [cost.monthly(c)[p] for c in calls], label=p, color=COLORS[p])
    ax.axvline(cost.monthly_calls, ls="--", color="gray", label=f"expected {cost.monthly_calls:,}/month")
    ax.set_xlabel("calls per month")
    ax.set_ylabel("USD in the first month")
    kind = "estimated" if cost.tokens_estimated else "measured"
    ax.set_title(f"Break-even ({kind} tokens, {cost.price_source} prices)", fontsize=9)
    ax.legend(fontsize=8)
    return _png(fig)


def chart_judgments(rates: dict[str, tuple[float, float, float, int]], title: str) -> str | None:
    if not rates:
        return None
    plt = _plt()
    names = list(rates)
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.bar(names, [rates[p][0] for p in names], color=[COLORS.get(p) for p in names],
           yerr=error_bars(rates[p][:3] for p in names), capsize=3)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    return _png(fig)


def curve_figure(curve):
    """The learning curve: the primary metric vs training examples (log axis) with its 95% band, and the
    few-shot / rag scores on the same questions as horizontal reference lines with theirs."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, iv in curve.references.items():
        ax.axhspan(iv.low, iv.high, color=COLORS.get(name), alpha=0.12)
        ax.axhline(iv.mean, color=COLORS.get(name), linestyle="--", linewidth=1.2, label=f"{name} (no fine-tune)")
    sizes = [p.size for p in curve.points]
    if sizes:
        ax.fill_between(sizes, [p.quality.low for p in curve.points], [p.quality.high for p in curve.points],
                        color=COLORS["fine-tuned"], alpha=0.2)
        ax.plot(sizes, [p.quality.mean for p in curve.points], marker="o", color=COLORS["fine-tuned"], label="fine-tuned")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
    ax.set_xlabel("training examples (log scale)")
    ax.set_ylabel(METRIC_LABELS.get(curve.metric, curve.metric))
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Learning curve of {curve.dataset} (95% intervals)")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def chart_curve(curve) -> str | None:
    return _png(curve_figure(curve)) if curve is not None and curve.points else None


# content --------------------------------------------------------------------------------------------------
def build_context(workspace, dataset: str, advice=None, summary=None, store=None) -> dict[str, Any]:
    store = store or open_store(workspace)
    advice = advice or advise(workspace, dataset, store=store)
    summary = summary or load_summary(workspace, advice.dataset, store=store)
    judgments = store.judgments(advice.dataset)
    human, llm = judgment_rates(judgments, "human"), judgment_rates(judgments, "llm")
    curve = load_curve(workspace, advice.dataset, store=store)
    rows = []
    for s in summary.pipelines.values():
        if s.n:
            rows.append({"pipeline": s.pipeline, "model": s.model, "n": s.n, "errors": s.errors,
                         "metrics": {m: s.metrics[m] for m in METRIC_LABELS if m in s.metrics},
                         "latency": s.metrics.get("latency_s"), "load_s": s.load_s, "cost": s.metrics.get("cost_usd")})
    return {
        "advice": advice, "questions": QUESTIONS, "summary": summary, "rows": rows, "labels": METRIC_LABELS,
        "examples": summary.examples, "pipelines": PIPELINES,
        "curve_lines": curve.readout.lines() if curve and curve.readout else [],
        "human": human, "llm": llm, "n_human": sum(j.judge_kind == "human" for j in judgments),
        "charts_shown": CHARTS,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "charts": {"quality": chart_quality(summary), "cost": chart_cost_latency(summary),
                   "break_even": chart_break_even(advice.cost), "curve": chart_curve(curve),
                   "human": chart_judgments(human, "Human win rate (95% Wilson)"),
                   "llm": chart_judgments(llm, "LLM-judge win rate (95% Wilson)")},
    }


def render_html(ctx: dict[str, Any]) -> str:
    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.from_string(HTML).render(**ctx)


def _md(text: Any) -> str:
    """Safe inside a Markdown table cell: HTML-escaped, pipes escaped, one line."""
    return html.escape(str(text if text is not None else "")).replace("|", "\\|").replace("\n", "<br>")


def _iv(iv) -> str:
    return interval_text(iv.mean, iv.low, iv.high) if iv else "—"


def render_markdown(ctx: dict[str, Any]) -> str:
    a = ctx["advice"]
    out = [f"# Which approach for `{_md(a.dataset)}`?", "",
           f"**Recommendation: {a.recommendation}**{f' (also {a.also})' if a.also else ''} (confidence {a.confidence:.2f}"
           f"{'' if a.measured else ', from data signals only'}). Generated {ctx['created']}.", ""]
    out += [f"- **{QUESTIONS[d]}** {_md(text)}" for d, text in a.answers.items()]
    out += [f"- Why not {p}: {_md(text)}" for p, text in a.why_not.items()]
    out += ["", "## Evidence", "", "| decision | rule | favours | weight | evidence |", "| --- | --- | --- | --- | --- |"]
    out += [f"| {r.decision} | {r.rule} | {r.favours or '—'} | {r.weight:g} | {_md(r.evidence)} |" for r in a.reasons]
    out += ["", "## Next steps", ""] + [f"- {_md(s)}" for s in a.next_steps]
    if ctx["rows"]:
        metrics = [m for m in ctx["labels"] if any(m in r["metrics"] for r in ctx["rows"])]
        out += ["", "## Measured results (mean [95% bootstrap interval])", "",
                "| pipeline | n | errors | " + " | ".join(ctx["labels"][m] for m in metrics) + " | latency s | load s (once) | cost $/call |",
                "| --- " * (6 + len(metrics)) + "|"]
        for r in ctx["rows"]:
            cells = [_iv(r["metrics"].get(m)) for m in metrics]
            out.append(f"| {r['pipeline']} | {r['n']} | {r['errors']} | " + " | ".join(cells)
                       + f" | {_iv(r['latency'])} | {r['load_s']:.2f} | {r['cost'].mean if r['cost'] else 0:.6f} |")
    for key, title in CHARTS:
        if ctx["charts"][key]:
            out += ["", f"## {title}", "", f"![{title}]({ctx['charts'][key]})"]
            out += [f"- {_md(line)}" for line in ctx["curve_lines"]] if key == "curve" else []
    if ctx["examples"]:
        out += ["", "## Example answers", ""]
        for ex in ctx["examples"]:
            out += [f"**{_md(ex.get('question_id'))}: {_md(ex.get('question'))}**", "",
                    f"Reference: {_md(ex.get('reference'))}", "", "| pipeline | answer |", "| --- | --- |"]
            out += [f"| {p} | {_md(t)} |" for p, t in ex["answers"].items()] + [""]
    return "\n".join(out) + "\n"


def write_report(workspace, dataset: str | None, path: str | Path, advice=None, summary=None, store=None) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".html", ".htm", ".md", ".markdown"}:
        raise ConfigError(f"Cannot write a report as {path.name!r}.", "Use a file name ending in .html or .md.")
    ctx = build_context(workspace, dataset, advice=advice, summary=summary, store=store)
    text = render_html(ctx) if suffix in {".html", ".htm"} else render_markdown(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Which approach for {{ advice.dataset }}?</title>
<style>
body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4} .verdict{font-size:1.4em;padding:.6em 1em;background:#eef5ee;border-left:6px solid #55A868}
.answer{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:.85em} img{max-width:100%}
.muted{color:#777}
</style></head><body>
<h1>Which approach for <code>{{ advice.dataset }}</code>?</h1>
<p class="verdict">Recommendation: <b>{{ advice.recommendation }}</b>{% if advice.also %} (also <b>{{ advice.also }}</b>){% endif %}
 (confidence {{ '%.2f' % advice.confidence }}{% if not advice.measured %}, from data signals only{% endif %})</p>
<p class="muted">Generated {{ created }} by <code>sandbox</code>. Rules follow the decision framework:
fine-tune for strict formats, domain language and cost; use RAG to add knowledge; use prompting for simple instructions.</p>
<ul>{% for d, text in advice.answers.items() %}<li>{{ questions[d] }} {{ text }}</li>{% endfor %}
{% for p, text in advice.why_not.items() %}<li>Why not {{ p }}: {{ text }}</li>{% endfor %}</ul>
<h2>Evidence</h2>
<table><tr><th>decision</th><th>rule</th><th>favours</th><th>weight</th><th>evidence</th></tr>
{% for r in advice.reasons %}<tr><td>{{ r.decision }}</td><td>{{ r.rule }}</td><td>{{ r.favours or '—' }}</td><td>{{ r.weight }}</td><td>{{ r.evidence }}</td></tr>
{% endfor %}</table>
<h2>Next steps</h2><ul>{% for s in advice.next_steps %}<li>{{ s }}</li>{% endfor %}</ul>
{% if rows %}
<h2>Measured results</h2>
<p class="muted">{{ summary.questions }} held-out questions; mean [95% bootstrap interval].</p>
<table><tr><th>pipeline</th><th>model</th><th>n</th><th>errors</th>
{% for m in labels %}{% if rows | selectattr('metrics.' ~ m, 'defined') | list %}<th>{{ labels[m] }}</th>{% endif %}{% endfor %}
<th>latency s</th><th>load s (once)</th><th>cost $/call</th></tr>
{% for r in rows %}<tr><td>{{ r.pipeline }}</td><td>{{ r.model }}</td><td>{{ r.n }}</td><td>{{ r.errors }}</td>
{% for m in labels %}{% if rows | selectattr('metrics.' ~ m, 'defined') | list %}<td>{% if m in r.metrics %}{{ '%.2f [%.2f, %.2f]' % (r.metrics[m].mean, r.metrics[m].low, r.metrics[m].high) }}{% else %}—{% endif %}</td>{% endif %}{% endfor %}
<td>{{ '%.2f' % r.latency.mean if r.latency else '—' }}</td><td>{{ '%.2f' % r.load_s }}</td><td>{{ '%.6f' % r.cost.mean if r.cost else '—' }}</td></tr>
{% endfor %}</table>
{% else %}<p>No evaluation yet: run <code>sandbox eval {{ advice.dataset }}</code> to measure the pipelines.</p>{% endif %}
{% for key, title in charts_shown %}
{% if charts[key] %}<h2>{{ title }}</h2><img alt="{{ title }}" src="{{ charts[key] }}">
{% if key == 'curve' %}<ul>{% for line in curve_lines %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}{% endif %}
{% endfor %}
{% if n_human %}<p>{{ n_human }} human judgments recorded.</p>{% endif %}
{% if examples %}<h2>Example answers</h2>
{% for ex in examples %}<h3>{{ ex.question_id }}: {{ ex.question }}</h3>
<p><b>Reference:</b> <span class="answer">{{ ex.reference or '—' }}</span></p>
<table><tr>{% for p in ex.answers %}<th>{{ p }}</th>{% endfor %}</tr>
<tr>{% for p, text in ex.answers.items() %}<td class="answer">{{ text }}</td>{% endfor %}</tr></table>
{% endfor %}{% endif %}
</body></html>
"""
