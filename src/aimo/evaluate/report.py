"""`aimo report`: a self-contained HTML page (inline CSS and SVG) and a Markdown summary of a run."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from aimo import svg
from aimo.evaluate.analysis import Analysis, analyze
from aimo.evaluate.metrics import Estimate
from aimo.evaluate.rundir import RunDir

HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
RATE_PREFIXES = ("accuracy", "pass@", "maj@", "no-answer")


def is_rate(name: str) -> bool:
    """Whether a metric is a proportion (shown as a percentage)."""
    return name.startswith(RATE_PREFIXES)


def fmt(name: str, value: float | None) -> str:
    """A metric value as text: rates in percent, counts with thousands separators."""
    if value is None:
        return "–"
    if is_rate(name):
        return f"{value:.1%}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"


def fmt_ci(name: str, estimate: Estimate) -> str:
    return f"{fmt(name, estimate.ci[0])} – {fmt(name, estimate.ci[1])}" if estimate.ci else "–"


def fmt_spread(name: str, estimate: Estimate) -> str:
    """`91.0% ± 0.5% (90.2% – 91.6%)` across repeats, or – with one repeat."""
    s = estimate.repeats
    if s is None:
        return "–"
    return f"{fmt(name, s.mean)} ± {fmt(name, s.std)} ({fmt(name, s.min)} – {fmt(name, s.max)})"


@dataclass(frozen=True)
class MetricRow:
    name: str
    value: str
    ci: str
    spread: str
    problems: int


def metric_rows(analysis: Analysis) -> list[MetricRow]:
    return [
        MetricRow(name, fmt(name, e.value), fmt_ci(name, e), fmt_spread(name, e), e.problems)
        for name, e in analysis.summary.metrics.items()
    ]


def headline(analysis: Analysis) -> str:
    """One line: the accuracy the strategy achieved, pass@1 and maj@n, with intervals."""
    metrics = analysis.summary.metrics
    parts = []
    for name in ("accuracy", "pass@1", analysis.summary.top_maj or ""):
        if name in metrics:
            e = metrics[name]
            parts.append(f"{name} {fmt(name, e.value)}" + (f" [{fmt_ci(name, e)}]" if e.ci else ""))
    return ", ".join(parts) or "no graded problems"


def reference_line(analysis: Analysis) -> str | None:
    """The trace file's own scores beside aimo's grading of the same samples (None without them)."""
    if not analysis.reference:
        return None
    metrics, problems = analysis.summary.metrics, analysis.summary.problems
    own = ", ".join(f"{name} {value:.1%}" for name, value in analysis.reference.items())
    mine = []
    for name in analysis.reference:
        if name in metrics:
            e = metrics[name]
            part = f"{name} {fmt(name, e.value)}"
            mine.append(
                part
                + (f" (on the {e.problems} problems with enough samples)" if e.problems < problems else "")
            )
    return f"The trace file's own scores: {own}; graded by aimo: {', '.join(mine) or 'none'}."


# -- charts -----------------------------------------------------------------------------------------


def k_curve(analysis: Analysis) -> str:
    """maj@k and pass@k against k, with their intervals; the strategy's accuracy and the file's scores."""
    metrics, ks = analysis.summary.metrics, analysis.summary.full_ks
    series = []
    for kind, color in (("maj", svg.PALETTE[0]), ("pass", svg.PALETTE[2])):
        names = ["pass@1" if k == 1 else f"{kind}@{k}" for k in ks]
        found = [(k, metrics[n]) for k, n in zip(ks, names, strict=True) if n in metrics]
        if found:
            series.append(
                svg.Series(
                    f"{kind}@k",
                    [k for k, _ in found],
                    [e.value for _, e in found],
                    [e.ci[0] if e.ci else e.value for _, e in found],
                    [e.ci[1] if e.ci else e.value for _, e in found],
                    color,
                )
            )
    reference = [(int(name.split("@")[1]), value) for name, value in analysis.reference.items()]
    reference = [(k, value) for k, value in reference if k in ks]
    if reference:
        xs, ys = zip(*reference, strict=True)
        series.append(svg.Series("trace file's own", xs, ys, color="#475569", line=False))
    marks = []
    if "accuracy" in metrics:
        marks.append((metrics["accuracy"].value, "strategy as run", svg.PALETTE[4]))
    values = [y for s in series for y in (*s.ys, *(s.lows or ()))] + [m[0] for m in marks]
    low = max(0.0, math.floor((min(values, default=0.0) - 0.02) * 20) / 20)
    high = min(1.0, math.ceil((max(values, default=1.0) + 0.02) * 20) / 20)
    return svg.line_chart(
        series,
        x_label="k (samples voted)",
        y_label="accuracy",
        y_range=(low, max(high, low + 0.05)),
        log2_x=True,
        percent=True,
        marks=marks,
    )


def token_histogram(analysis: Analysis) -> str:
    groups = [
        svg.Group(label, values, color)
        for (label, values), color in zip(
            analysis.tokens_by_outcome.items(), (svg.GREEN, svg.RED, svg.GREY), strict=True
        )
        if values
    ]
    values = [v for g in groups for v in g.values]
    return svg.histogram(groups, svg.even_edges(values, 12), x_label="completion tokens per sample")


def position_histogram(analysis: Analysis) -> str:
    groups = [
        svg.Group(label, analysis.positions[label].fractions, color)
        for label, color in (("correct", svg.GREEN), ("wrong", svg.RED))
        if analysis.positions[label].fractions
    ]
    edges = [i / 10 for i in range(11)]
    return svg.histogram(
        groups, edges, x_label="where the final answer first appears (share of the sample)", percent_x=True
    )


def time_bars(analysis: Analysis) -> str:
    rows = sorted(analysis.problems, key=lambda r: -r.seconds)
    color = {True: svg.GREEN, False: svg.RED, None: svg.GREY}
    bars = [(r.problem_id, r.seconds, color[None if r.accuracy is None else r.accuracy >= 0.5]) for r in rows]
    legend = [("right (most repeats)", svg.GREEN), ("wrong", svg.RED)]
    return svg.bar_chart(bars, x_label="problems, slowest first", y_label="seconds", legend=legend)


def code_histogram(analysis: Analysis) -> str:
    calls = analysis.code_calls
    if not any(calls):
        return ""
    edges = [float(i) for i in range(max(calls) + 2)]
    return svg.histogram(
        [svg.Group("samples", [float(c) for c in calls], svg.PALETTE[3])],
        edges,
        x_label="code calls per sample",
    )


# -- pages ------------------------------------------------------------------------------------------


def context(analysis: Analysis) -> dict[str, Any]:
    """What the HTML template shows."""
    info = analysis.run.info
    config = info.config
    positions = analysis.positions["all"]
    return {
        "info": info,
        "title": f"{info.dataset.get('name', 'run')} · aimo {info.mode}",
        "headline": headline(analysis),
        "metrics": metric_rows(analysis),
        "summary": analysis.summary,
        "cards": _cards(analysis),
        "reference": analysis.reference,
        "reference_line": reference_line(analysis),
        "per_repeat": analysis.per_repeat,
        "fmt": fmt,
        "charts": {
            "k_curve": k_curve(analysis),
            "tokens": token_histogram(analysis),
            "positions": position_histogram(analysis),
            "time": time_bars(analysis),
            "code": code_histogram(analysis),
        },
        "positions": analysis.positions,
        "position_text": _position_text(analysis),
        "positions_all": positions,
        "competition": analysis.competition,
        "estimate": analysis.estimate,
        "problems": sorted(
            analysis.problems, key=lambda r: (r.accuracy is None, r.accuracy or 0, r.problem_id)
        ),
        "code_text": _code_text(analysis),
        "engine": config.engine.model or config.engine.traces or (config.engine.base_urls or ["?"])[0],
        "config_json": json.dumps(info.to_json()["config"], indent=2),
        "machine_json": json.dumps(info.machine, indent=2),
        "notes": analysis.notes,
    }


def _cards(analysis: Analysis) -> list[tuple[str, str, str]]:
    """(label, value, detail) of the headline cards."""
    metrics = analysis.summary.metrics
    cards = []
    names = ["accuracy", "pass@1", *([analysis.summary.top_maj] if analysis.summary.top_maj else [])]
    labels = {"accuracy": "accuracy (strategy as run)"}
    for name in names:
        if name in metrics:
            e = metrics[name]
            detail = f"95% CI {fmt_ci(name, e)}"
            if e.repeats:
                detail += f" · repeats ± {fmt(name, e.repeats.std)}"
            cards.append((labels.get(name, name), fmt(name, e.value), detail))
    for name in ("tokens/problem", "seconds/problem"):
        if name in metrics:
            cards.append((name, fmt(name, metrics[name].value), f"95% CI {fmt_ci(name, metrics[name])}"))
    return cards


def _position_text(analysis: Analysis) -> str:
    p = analysis.positions["all"]
    caveat = (
        " Samples stopped at their first box in this run (strategy.stop_on_boxed), so a box always ends "
        "them; run with stop_on_boxed = false to see how much a model writes after its answer."
        if analysis.run.info.config.strategy.stop_on_boxed
        else ""
    )
    if not p.fractions:
        return (
            "No sample stated its final answer in its text (answers came from code or were forced)." + caveat
        )
    return (
        f"Of {p.samples} answered samples, {len(p.fractions)} state their final answer in the text; "
        f"the median sample first gives it at {p.median:.1%} of its length. "
        f"{p.share_after:.1%} of their tokens came after the final answer had first appeared "
        "(what stopping at the first answer would have saved)." + caveat
    )


def _code_text(analysis: Analysis) -> str:
    calls = analysis.code_calls
    if not any(calls):
        return "No code ran in this run."
    metrics = analysis.summary.metrics
    used = sum(c > 0 for c in calls)
    return (
        f"{used} of {len(calls)} samples ({used / len(calls):.0%}) ran code; "
        f"{fmt('x', metrics['code calls/sample'].value)} calls and "
        f"{fmt('x', metrics['code errors/sample'].value)} errors or timeouts per sample."
    )


def render_html(analysis: Analysis) -> str:
    """The report page: one file, no external resources."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aimo.evaluate", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.jinja").render(**context(analysis))


def render_markdown(analysis: Analysis) -> str:
    """The summary as Markdown: headline, metrics table, spread, competition, analyses, config."""
    info = analysis.run.info
    config = info.config
    lines = [
        f"# {info.dataset.get('name')}: aimo {info.mode}",
        "",
        f"{len(info.problem_ids)} problems × {info.repeats} "
        f"{'orders' if info.mode == 'competition' else 'repeats'}, "
        f"{config.strategy.samples} samples ({config.strategy.strategy}), max {config.sampling.max_tokens} "
        f"tokens, engine {config.engine.engine}, source `{info.dataset.get('source')}`, "
        f"aimo {info.aimo_version}, {info.created}.",
        "",
        f"**{headline(analysis)}**",
        "",
    ]
    if (line := reference_line(analysis)) is not None:
        lines += [line, ""]
    lines += [
        "| metric | value | 95% CI (problems) | across repeats: mean ± sd (min – max) | problems |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r.name} | {r.value} | {r.ci} | {r.spread} | {r.problems} |" for r in metric_rows(analysis)]
    if len(analysis.per_repeat) > 1:
        names = list(next(iter(analysis.per_repeat.values())))
        lines += [
            "",
            "## Repeats",
            "",
            "| repeat | " + " | ".join(names) + " |",
            "|---" * (len(names) + 1) + "|",
        ]
        lines += [
            f"| {r} | " + " | ".join(fmt(n, v.get(n)) for n in names) + " |"
            for r, v in analysis.per_repeat.items()
        ]
    lines += _competition_markdown(analysis)
    lines += ["", "## Where the final answer first appears", "", _position_text(analysis)]
    lines += ["", "## Code", "", _code_text(analysis)]
    if analysis.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in analysis.notes)]
    lines += ["", "## Config", "", "```json", json.dumps(info.to_json()["config"], indent=2), "```", ""]
    return "\n".join(lines)


def _competition_markdown(analysis: Analysis) -> list[str]:
    lines: list[str] = []
    c = analysis.competition
    if c is not None:
        graded = c.orders[0].graded
        lines += [
            "",
            f"## Competition: {len(c.orders)} orders under {c.budget_s:g} s",
            "",
            f"Score {c.score.mean:.2f} ± {c.score.std:.2f} of {graded} "
            f"(min {c.score.min:g}, max {c.score.max:g}); "
            f"time used {c.elapsed.mean:.1f} s on average, at most {c.elapsed.max:.1f} s; "
            f"{c.overruns} overruns.",
        ]
    if analysis.estimate:
        lines += ["", f"Offline estimate ({analysis.estimate['setup']['runs']} simulated orders):", ""]
        for policy, row in analysis.estimate["policies"].items():
            lines.append(
                f"- {policy}: {row['mean_score']:.2f} ± {row['sd']:.2f} "
                f"(min {row['min']}, max {row['max']}), {row['overruns']} overruns"
            )
    return lines


def write_report(path: Path, out: Path | None = None) -> tuple[Path, Path]:
    """Analyse the run in `path` and write report.html and report.md (into `out`, default the run)."""
    analysis = analyze(RunDir.open(path))
    out = out or path
    out.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out / HTML_FILE, out / MARKDOWN_FILE
    html_path.write_text(render_html(analysis), encoding="utf-8")
    md_path.write_text(render_markdown(analysis), encoding="utf-8")
    return html_path, md_path
