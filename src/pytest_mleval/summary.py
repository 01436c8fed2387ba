"""Text renderings of a run: the terminal summary and the Markdown pull-request comment."""

from __future__ import annotations

from typing import Any

from .results import Aggregate, RunResults

__all__ = ["render_summary", "terminal_lines"]


def _ci(a: Aggregate) -> str:
    return f"[{a.ci_low:.3f}, {a.ci_high:.3f}]"


def _fmt_value(a: Aggregate) -> str:
    return f"{a.estimate:.4g}" if a.metric in ("latency_ms", "cost_usd") else f"{a.estimate:.3f}"


def terminal_lines(run: RunResults) -> list[tuple[str, dict[str, Any]]]:
    """Lines (with terminal styles) of the end-of-run summary: per suite, then gates."""
    lines: list[tuple[str, dict[str, Any]]] = []
    for suite in run.suites:
        cases = [c for c in run.cases if c.suite == suite.name]
        errors = len({c.case_id for c in cases if c.error})
        aggs = [a for a in run.aggregates if a.suite == suite.name]
        lines.append(
            (f"suite {suite.name}: {suite.n_cases} cases, {errors} errored", {"bold": True})
        )
        lines.append((f"  {'metric':<22} {'estimate':>9}  {'95% CI':<18} {'n':>5}  method", {}))
        for a in aggs:
            lines.append(
                (f"  {a.metric:<22} {_fmt_value(a):>9}  {_ci(a):<18} {a.n:>5}  {a.method}", {})
            )
    total = run.usage.get("total") if run.usage else None
    if total and (total.get("total_tokens") or total.get("cost_usd")):
        lat = total["latency_ms"]
        lines.append(
            (
                f"usage: {total['total_tokens']} tokens, ${total['cost_usd']:.4f}, "
                f"latency p50 {lat['p50']:.0f} ms / p95 {lat['p95']:.0f} ms / "
                f"p99 {lat['p99']:.0f} ms, "
                f"{total['cached']} cached, {total['retries']} retries",
                {},
            )
        )
    for g in run.gates:
        lines.append(
            (
                f"gate {g.suite}: {'PASS' if g.passed else 'FAIL'} {g.message}",
                {"green": g.passed, "red": not g.passed},
            )
        )
    return lines


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_summary(run: RunResults) -> str:
    """The Markdown summary: per suite a metric table with CIs, gates, failing cases, usage."""
    out = ["## pytest-mleval results", ""]
    meta = run.meta
    head = []
    if meta.git_sha:
        head.append(f"commit `{meta.git_sha[:10]}`")
    head.append(f"{len(run.cases)} case results")
    head.append(f"{meta.duration_s:.1f} s")
    out.append(" · ".join(head))
    out.append("")
    failed_gates = [g for g in run.gates if not g.passed]
    if run.gates:
        out.append(
            f"**Gates: {len(run.gates) - len(failed_gates)}/{len(run.gates)} passed**"
            + (" ❌" if failed_gates else " ✅")
        )
        out.append("")
        out.append("| suite | gate | result |")
        out.append("|---|---|---|")
        for g in run.gates:
            verdict = "✅ pass" if g.passed else "❌ fail"
            out.append(f"| {_md_escape(g.suite)} | {_md_escape(g.message)} | {verdict} |")
        out.append("")
    for suite in run.suites:
        out.append(f"### {_md_escape(suite.name)}")
        out.append("")
        out.append("| metric | estimate | 95% CI | n |")
        out.append("|---|---:|---|---:|")
        for a in run.aggregates:
            if a.suite == suite.name:
                out.append(f"| {a.metric} | {_fmt_value(a)} | {_ci(a)} | {a.n} |")
        out.append("")
        failing = [c for c in run.cases if c.suite == suite.name and not c.passed]
        if failing:
            out.append(f"<details><summary>{len(failing)} failing case result(s)</summary>")
            out.append("")
            for c in sorted(failing, key=lambda c: (c.case_id, c.repeat))[:20]:
                why = c.error or ", ".join(
                    f"{k}={v.score:.3f}" if v.score is not None else f"{k}: error"
                    for k, v in c.scores.items()
                    if v.passed is False
                )
                out.append(f"- `{_md_escape(c.case_id)}`: {_md_escape(why)}")
            out.append("")
            out.append("</details>")
            out.append("")
    total = run.usage.get("total") if run.usage else None
    if total:
        lat = total["latency_ms"]
        out.append(
            f"Usage: {total['total_tokens']} tokens · ${total['cost_usd']:.4f} · "
            f"latency p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms"
        )
        out.append("")
    return "\n".join(out)
