"""Text renderings of a run: the terminal summary and the Markdown pull-request comment."""

from __future__ import annotations

from typing import Any

from ..results.records import Aggregate, CaseResult, RunResults, SuiteInfo, run_status
from ..results.sequential import sequential_line
from ..results.units import fmt_interval, fmt_metric, fmt_p, unit_of
from .conversation import tool_totals
from .escaping import md_code, md_text, term_text
from .summary_safety import safety_markdown, safety_terminal
from .variants import variant_markdown, variant_terminal
from .views import (
    FLIPS,
    cost_text,
    partial_note,
    skipped_text,
    suite_ran,
    unchecked_gates,
    unscored_text,
    usage_rows,
)

__all__ = ["comparison_markdown", "comparison_terminal", "render_summary", "terminal_lines"]

# Longest error text shown per failing case in the Markdown summary.
WHY_LIMIT = 300
# Failed tool calls named per failing case, and the length of each one's error shown.
TOOL_ERRORS_SHOWN = 3
TOOL_ERROR_LIMIT = 80
VERDICT_ICON = {
    "improved": "🟢 improved",
    "regressed": "🔴 regressed",
    "no significant change": "⚪ no change",
    "worse within margin": "🟡 worse, within margin",
}


def _ci(a: Aggregate) -> str:
    return fmt_interval(a.metric, a.ci_low, a.ci_high)


def _fmt_value(a: Aggregate) -> str:
    return fmt_metric(a.metric, a.estimate)


def _usage_line(t: dict[str, Any]) -> str:
    lat = t.get("latency_ms")
    latency = (
        f"latency p50 {lat['p50']:.0f} ms / p95 {lat['p95']:.0f} ms / p99 {lat['p99']:.0f} ms"
        if lat
        else "latency unknown"
    )
    return (
        f"{t.get('total_tokens', 0):,} tokens ({t.get('prompt_tokens', 0):,} in, "
        f"{t.get('completion_tokens', 0):,} out), {cost_text(t)}, "
        f"{latency}, {t.get('cached', 0)} cached, "
        f"{t.get('retries', 0)} retries" + _ttft_text(t)
    )


def _streamed_note(t: dict[str, Any]) -> str:
    """``N streamed`` and, when some answers came from the cache, that their timings are the
    recorded calls'."""
    cached = int(t.get("streamed_cached") or 0)
    note = f"{t.get('streamed', 0)} streamed"
    return note + (f", {cached} recorded, from cache" if cached else "")


def _ttft_text(t: dict[str, Any]) -> str:
    """``, ttft p50 ... ms (N streamed), X tok/s`` for a usage row with streamed cases."""
    q = t.get("ttft_ms")
    if not t.get("streamed") or not q:
        return ""
    speed = t.get("output_tokens_per_s")
    return (
        f", ttft p50 {q['p50']:.0f} ms / p95 {q['p95']:.0f} ms / p99 {q['p99']:.0f} ms "
        f"({_streamed_note(t)})" + (f", {speed:.1f} tokens/s" if speed else "")
    )


def _tool_use(cases: list[CaseResult]) -> str | None:
    """``N tool call(s) in M result(s), F failed, C cut off at max_turns`` for cases that used
    tools (``None`` when none did)."""
    calls, errors, cut = tool_totals(cases)
    if not calls and not cut:
        return None
    n = sum(
        1
        for c in cases
        if c.trajectory is not None
        and (c.trajectory.tool_calls or c.trajectory.stop_reason == "max_turns")
    )
    return f"{calls} tool call(s) in {n} result(s), {errors} failed, {cut} cut off at max_turns"


def _failed_tools_md(case: CaseResult) -> str:
    """`` · failed tool calls: `name` (error), …`` for a case whose tools failed, else ``""``."""
    failed = case.trajectory.tool_errors if case.trajectory is not None else []
    if not failed:
        return ""
    shown = ", ".join(
        f"{md_code(call.name[:40] or '?')} ({md_text(call.error or '', limit=TOOL_ERROR_LIMIT)})"
        for call in failed[:TOOL_ERRORS_SHOWN]
    )
    more = len(failed) - TOOL_ERRORS_SHOWN
    return f" · failed tool calls: {shown}" + (f" and {more} more" if more > 0 else "")


def _term_ids(ids: list[str]) -> str:
    return ", ".join(term_text(i) for i in ids)


def _last_line(message: str) -> str:
    """The line of a collection error that says what is wrong (a traceback ends with it)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else message


def _gates_shown(comparison: dict[str, Any]) -> bool:
    """Whether any metric gates (a ``compare_to:`` comparison is no gate: no column)."""
    return any(m.get("gating") for s in comparison.get("suites", []) for m in s["metrics"])


def _delta(metric: str, value: float) -> str:
    if not unit_of(metric):
        return f"{value:+.3f}"
    text = fmt_metric(metric, value)
    return text if text.startswith("-") else f"+{text}"


def comparison_terminal(comparison: dict[str, Any]) -> list[str]:
    """Terminal lines of a baseline comparison (as stored in ``RunResults.comparison``)."""
    lines = []
    gates = _gates_shown(comparison)
    sha = comparison.get("baseline_sha")
    lines.append(
        f"baseline: {term_text(sha[:10]) if sha else 'unknown commit'} "
        f"({term_text(comparison.get('baseline_started_at', ''))})"
    )
    for w in comparison.get("warnings", []):
        lines.append(f"  warning: {term_text(w)}")
    for s in comparison.get("suites", []):
        lines.append(f"  suite {term_text(s['suite'])} ({s['n_matched']} paired cases)")
        lines.append(
            f"    {'metric':<20} {'base':>8} {'cand':>8} {'delta':>8}  "
            f"{'95% CI':<20} {'p(adj)':>7}  {'gates  ' if gates else ''}verdict"
        )
        for m in s["metrics"]:
            name = m["metric"]
            ci = f"[{_delta(name, m['ci_low'])}, {_delta(name, m['ci_high'])}]"
            gate = f"{'yes' if m.get('gating') else 'no':<5}  " if gates else ""
            lines.append(
                f"    {term_text(name):<20} {fmt_metric(name, m['baseline']):>8} "
                f"{fmt_metric(name, m['candidate']):>8} {_delta(name, m['diff']):>8}  {ci:<20} "
                f"{fmt_p(m['p_adjusted']):>7}  {gate}{m['verdict']}"
                + (" (REGRESSION)" if m["regression"] else "")
            )
        for key, label in FLIPS:
            if s.get(key):
                ids = s[key]
                more = f" (+{len(ids) - 10} more)" if len(ids) > 10 else ""
                lines.append(f"    {label.replace('→', '->')}: {_term_ids(ids[:10])}{more}")
    for key, label in (
        ("only_in_baseline", "only in baseline"),
        ("only_in_candidate", "only in this run"),
    ):
        ids = comparison.get(key, [])
        if ids:
            more = f" (+{len(ids) - 10} more)" if len(ids) > 10 else ""
            lines.append(f"  {label}: {_term_ids(ids[:10])}{more}")
    return lines


def terminal_lines(run: RunResults) -> list[tuple[str, dict[str, Any]]]:
    """Lines (with terminal styles) of the end-of-run summary: per suite, usage, the variant
    comparisons, the baseline comparison, gates."""
    lines: list[tuple[str, dict[str, Any]]] = []
    status, text = run_status(run)
    if status == "partial":
        lines.append((f"run {term_text(text)}", {"yellow": True, "bold": True}))
    elif status != "passed":
        lines.append((f"run {term_text(text)}", {"red": True, "bold": True}))
    for e in run.collection_errors:
        why = term_text(_last_line(e.message))
        lines.append((f"not collected: {term_text(e.where)}: {why}", {"red": True}))
    for suite in run.suites:
        cases = [c for c in run.cases if c.suite == suite.name]
        errors = len({c.case_id for c in cases if c.errored})
        aggs = [a for a in run.aggregates if a.suite == suite.name]
        name = term_text(suite.name)
        lines.append((f"suite {name}: {suite_ran(suite)}, {errors} errored", {"bold": True}))
        if suite.skipped:
            lines.append((f"  skipped: {term_text(skipped_text(suite))}", {}))
        unscored = unscored_text(cases)
        if unscored:
            lines.append((f"  not scored: {term_text(unscored)}", {"yellow": True}))
        if suite.sequential is not None:
            lines.append((f"  sequential: {term_text(sequential_line(suite.sequential))}", {}))
        level = round((aggs[0].confidence if aggs else 0.95) * 100)
        rows = [(term_text(a.metric), _fmt_value(a), _ci(a), str(a.n), a.method) for a in aggs]
        if rows:
            # Columns as wide as their widest cell: a long label (`tool_not_called:...`) or
            # an interval in thousands of ms would otherwise shift its row off the header.
            head = ("metric", "estimate", f"{level}% CI", "n", "method")
            w = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
            w = [max(w[0], 22), max(w[1], 9), max(w[2], 18), max(w[3], 5)]
            for r in [head, *rows]:
                lines.append(
                    (f"  {r[0]:<{w[0]}} {r[1]:>{w[1]}}  {r[2]:<{w[2]}} {r[3]:>{w[3]}}  {r[4]}", {})
                )
        tools = _tool_use(cases)
        if tools:
            lines.append((f"  tools: {tools}", {}))
    for kind, name, t in usage_rows(run):
        label = "usage" if kind == "total" else f"  {kind} {term_text(name)}"
        lines.append((f"{label}: {_usage_line(t)}", {}))
    for vs in run.variant_sets:
        lines.extend(variant_terminal(vs))
    if run.comparison:
        lines.extend((line, {}) for line in comparison_terminal(run.comparison))
    for variant in run.variants:
        lines.append(
            (
                f"{term_text(variant['candidate_suite'])} vs "
                f"{term_text(variant['baseline_suite'])} (paired by case):",
                {"bold": True},
            )
        )
        lines.extend((line, {}) for line in comparison_terminal(variant)[1:])
    # A suite's rates in bold, its comparisons (indented) plain.
    lines.extend((line, {"bold": not line.startswith(" ")}) for line in safety_terminal(run))
    for g in run.gates:
        style = {"green": g.passed, "red": not g.passed}
        verdict = "PASS" if g.passed else "FAIL"
        lines.append((f"gate {term_text(g.suite)}: {verdict} {term_text(g.message)}", style))
    for name, text in unchecked_gates(run):
        lines.append((f"gate {term_text(name)}: NOT CHECKED {text}", {"yellow": True}))
    return lines


def _md(text: object) -> str:
    # Every user- or model-controlled string of the summary goes through here or md_code.
    return md_text(text)


def comparison_markdown(comparison: dict[str, Any], *, top: int = 10) -> list[str]:
    """Markdown of a baseline comparison: a table per suite and the cases that flipped."""
    out = []
    gates = _gates_shown(comparison)
    sha = comparison.get("baseline_sha")
    where = md_code(sha[:10]) if sha else "(unknown commit)"
    out.append(f"Compared with baseline {where}, paired by case.")
    out.append("")
    for w in comparison.get("warnings", []):
        out.append(f"> ⚠️ {_md(w)}")
        out.append("")
    for s in comparison.get("suites", []):
        out.append(f"#### {_md(s['suite'])} · {s['n_matched']} paired cases")
        out.append("")
        gate_head, gate_rule = ("gates | ", "---|") if gates else ("", "")
        out.append(
            f"| metric | {gate_head}baseline | candidate | Δ (95% CI) | p (Holm) | verdict |"
        )
        out.append(f"|---|{gate_rule}---:|---:|---|---:|---|")
        for m in s["metrics"]:
            verdict = VERDICT_ICON.get(m["verdict"], m["verdict"])
            if m["regression"]:
                verdict += " · **gate**"
            name = m["metric"]
            gate = f"{'yes' if m.get('gating') else 'no'} | " if gates else ""
            out.append(
                f"| {_md(name)} | {gate}"
                f"{_md(fmt_metric(name, m['baseline']))} | "
                f"{_md(fmt_metric(name, m['candidate']))} | "
                f"{_md(_delta(name, m['diff']))} [{_md(_delta(name, m['ci_low']))}, "
                f"{_md(_delta(name, m['ci_high']))}] | {fmt_p(m['p_adjusted'])} | {verdict} |"
            )
        out.append("")
        for key, label in FLIPS:
            ids = s.get(key, [])
            if ids:
                shown = ", ".join(map(md_code, ids[:top]))
                more = f" and {len(ids) - top} more" if len(ids) > top else ""
                out.append(f"**{label}** ({len(ids)}): {shown}{more}")
                out.append("")
    for key, label in (
        ("only_in_baseline", "Only in baseline"),
        ("only_in_candidate", "New in this run"),
    ):
        ids = comparison.get(key, [])
        if ids:
            more = f" and {len(ids) - top} more" if len(ids) > top else ""
            out.append(f"{label} ({len(ids)}): " + ", ".join(map(md_code, ids[:top])) + more)
            out.append("")
    return out


COMMENT_LIMIT = 60_000
"""Longest Markdown summary written: GitHub refuses a comment over 65,536 characters whole (the
sticky comment then never posts), so a summary above this leaves its details out."""

_CUTS = (
    "the failing cases' lists",
    "the per-suite tables",
    "the usage table",
    "the passing gates' rows",
    "the comparisons' tables",
)
"""What a summary over :data:`COMMENT_LIMIT` leaves out, one more at each step."""


def render_summary(run: RunResults, *, top: int = 10, limit: int = COMMENT_LIMIT) -> str:
    """The Markdown summary: gates, the variant comparisons, baseline comparison, per-suite
    metrics with CIs, usage.

    The verdict, the files that could not be collected and the failing gates are always
    there; when the whole is longer than ``limit`` (a pull-request comment's size), the
    details go first (see :data:`_CUTS`), and the summary says what it left out.
    """
    head = _head_markdown(run)
    # Each suite's cases and aggregates, found once: every step renders the suites again.
    cases: dict[str, list[CaseResult]] = {}
    for c in run.cases:
        cases.setdefault(c.suite, []).append(c)
    aggregates: dict[str, list[Aggregate]] = {}
    for a in run.aggregates:
        aggregates.setdefault(a.suite, []).append(a)
    for step in range(len(_CUTS) + 1):
        cut = set(_CUTS[:step])
        blocks = [
            _gates_markdown(run, passing="the passing gates' rows" not in cut),
            []
            if "the comparisons' tables" in cut
            else _comparisons_markdown(run, top=top if not step else 3),
        ]
        if "the per-suite tables" in cut:
            blocks.append(
                [f"_{len(run.suites)} suite table(s) left out: see the HTML report._", ""]
            )
        else:
            details = "the failing cases' lists" not in cut
            blocks.extend(
                _suite_markdown(
                    s,
                    cases.get(s.name, []),
                    aggregates.get(s.name, []),
                    top=top,
                    details=details,
                )
                for s in run.suites
            )
        if "the usage table" not in cut:
            blocks.append(_usage_markdown(run))
        note = []
        if step:
            note = [
                f"> ✂️ Shortened to fit a pull-request comment: {', '.join(_CUTS[:step])} "
                "left out; the HTML report has everything.",
                "",
            ]
        text = "\n".join([*head, *note, *(line for b in blocks for line in b)])
        if len(text) <= limit:
            return text
    # Still too long (thousands of collection errors or failing gates): cut at a line.
    return cut_at_limit(text, limit)


def cut_at_limit(text: str, limit: int = COMMENT_LIMIT) -> str:
    """``text`` cut at its last whole line that fits ``limit``, with a closing note saying so
    (``text`` itself when it fits).

    Args:
        text: Markdown.
        limit: Longest result.

    Returns:
        At most ``limit`` characters.
    """
    if len(text) <= limit:
        return text
    ending = "\n\n> ✂️ Cut at the comment limit; the HTML report has everything."
    return text[: limit - len(ending)].rsplit("\n", 1)[0] + ending


def _head_markdown(run: RunResults) -> list[str]:
    """Title, verdict, counts and the files that could not be collected."""
    out = ["## pytest-mleval results", ""]
    meta = run.meta
    head = []
    if meta.git_sha:
        head.append(f"commit {md_code(meta.git_sha[:10])}")
    n_cases = len({(c.suite, c.case_id) for c in run.cases})
    n_passed = sum(1 for c in run.cases if c.passed)
    head.append(f"{n_cases} cases, {n_passed}/{len(run.cases)} results passed")
    head.append(f"{meta.duration_s:.1f} s")
    # The verdict first, from the status the run ended with: never "passed" for a run that
    # pytest failed, and an incomplete run says so before any table.
    status, text = run_status(run)
    icon = {"passed": "✅", "partial": "⚠️", "failed": "❌", "incomplete": "⚠️"}[status]
    out.append(f"{icon} **Run {md_text(text)}**")
    out.append("")
    out.append(" · ".join(head))
    out.append("")
    if run.collection_errors:
        out.append(f"**{len(run.collection_errors)} file(s) could not be collected:**")
        out.append("")
        for e in run.collection_errors:
            out.append(f"- {md_code(e.where)}: {md_text(_last_line(e.message), limit=WHY_LIMIT)}")
        out.append("")
    return out


def _gates_markdown(run: RunResults, *, passing: bool = True) -> list[str]:
    """The gates' count and table (without the passing gates' rows when ``passing`` is off)."""
    out: list[str] = []
    failed_gates = [g for g in run.gates if not g.passed]
    unchecked = unchecked_gates(run)
    if run.gates or unchecked:
        icon = "❌" if failed_gates else "✅" if not unchecked else "⚠️"
        n_unchecked = sum(s.unchecked_gates for s in run.suites)
        more = f", {n_unchecked} not checked" if unchecked else ""
        out.append(
            f"**Gates: {len(run.gates) - len(failed_gates)}/{len(run.gates)} passed{more}** {icon}"
        )
        out.append("")
        out.append("| suite | gate | result |")
        out.append("|---|---|---|")
        for g in run.gates:
            if g.passed and not passing:
                continue
            verdict = "✅ pass" if g.passed else "❌ fail"
            out.append(f"| {_md(g.suite)} | {_md(g.message)} | {verdict} |")
        for name, text in unchecked:
            out.append(f"| {_md(name)} | {_md(text)} | ⚠️ not checked |")
        out.append("")
    return out


def _comparisons_markdown(run: RunResults, *, top: int) -> list[str]:
    """Variant sets, the baseline comparison, variant comparisons and the safety probes."""
    out: list[str] = []
    for vs in run.variant_sets:
        out.extend(variant_markdown(vs))
    if run.comparison:
        out.append("### Compared with the baseline")
        out.append("")
        out.extend(comparison_markdown(run.comparison, top=top))
    for variant in run.variants:
        out.append(f"### {_md(variant['candidate_suite'])} vs {_md(variant['baseline_suite'])}")
        out.append("")
        out.extend(comparison_markdown(variant, top=top)[2:])
    out.extend(safety_markdown(run, top=top))
    return out


def _suite_markdown(
    suite: SuiteInfo,
    cases: list[CaseResult],
    aggregates: list[Aggregate],
    *,
    top: int,
    details: bool = True,
) -> list[str]:
    """One suite's section: notes, metric table, tools, and (``details``) its failing cases.

    ``cases`` and ``aggregates`` are the suite's own, in the run's order.
    """
    out: list[str] = []
    out.append(f"### {_md(suite.name)}")
    out.append("")
    note = partial_note(suite)
    if note:
        out.append(f"⚠️ {note}")
        out.append("")
    if suite.skipped:
        out.append(f"**Skipped:** {_md(skipped_text(suite))}")
        out.append("")
    unscored = unscored_text(cases)
    if unscored:
        out.append(f"**Not scored:** {_md(unscored)}")
        out.append("")
    if suite.sequential is not None:
        out.append(f"**Sequential:** {_md(sequential_line(suite.sequential))}")
        out.append("")
    if aggregates:  # none when no case of the suite ran: its note says so
        out.append("| metric | estimate | 95% CI | n |")
        out.append("|---|---:|---|---:|")
        for a in aggregates:
            out.append(f"| {_md(a.metric)} | {_fmt_value(a)} | {_ci(a)} | {a.n} |")
        out.append("")
    tools = _tool_use(cases)
    if tools:
        out.append(f"**Tools:** {tools}")
        out.append("")
    failing = [c for c in cases if not c.passed]
    if failing and details:
        what = "failing or errored" if any(c.errored for c in failing) else "failing"
        out.append(f"<details><summary>{len(failing)} {what} case result(s)</summary>")
        out.append("")
        for c in sorted(failing, key=lambda c: (c.case_id, c.repeat))[: top * 2]:
            why = c.error or ", ".join(
                f"{k}={v.score:.3f}" if v.score is not None else f"{k}: {v.error or 'error'}"
                for k, v in c.scores.items()
                if v.passed is False
            )
            # Long error texts are cut: GitHub refuses a comment over 65536 characters
            # whole, and the HTML report keeps the full text.
            out.append(
                f"- {md_code(c.case_id)}: {md_text(why, limit=WHY_LIMIT)}" + _failed_tools_md(c)
            )
        out.append("")
        out.append("</details>")
        out.append("")
    return out


def _usage_markdown(run: RunResults) -> list[str]:
    """The usage table (tokens, cost, latency) per suite and model."""
    out: list[str] = []
    rows = usage_rows(run)
    if rows:
        out.append("### Usage")
        out.append("")
        # TTFT columns only where something was streamed: most runs stream nothing.
        streamed = any(t.get("streamed") for _, _, t in rows)
        ttft_head, ttft_rule = (
            (" TTFT p50 / p95 / p99 | tokens/s |", "---:|---:|") if streamed else ("", "")
        )
        out.append(
            f"| | tokens (in / out) | cost | latency p50 / p95 | cached | retries |{ttft_head}"
        )
        out.append(f"|---|---:|---:|---:|---:|---:|{ttft_rule}")
        for kind, name, t in rows:
            lat = t.get("latency_ms")
            latency = f"{lat['p50']:.0f} / {lat['p95']:.0f} ms" if lat else "–"
            label = (
                "**total**"
                if kind == "total"
                else "outside any case"
                if kind == "outside"
                else f"{kind} {md_code(name, table=True)}"
            )
            out.append(
                f"| {label} | {t.get('total_tokens', 0):,} ({t.get('prompt_tokens', 0):,} / "
                f"{t.get('completion_tokens', 0):,}) | {md_text(cost_text(t))} | "
                f"{latency} | "
                f"{t.get('cached', 0)} | {t.get('retries', 0)} |"
                + (_ttft_cells(t) if streamed else "")
            )
        out.append("")
    return out


def _ttft_cells(t: dict[str, Any]) -> str:
    """The Markdown usage table's TTFT and tokens/s cells of one row."""
    q = t.get("ttft_ms")
    if not t.get("streamed") or not q:
        return " – | – |"
    speed = t.get("output_tokens_per_s")
    return (
        f" {q['p50']:.0f} / {q['p95']:.0f} / {q['p99']:.0f} ms ({_streamed_note(t)}) | "
        f"{f'{speed:.1f}' if speed else '–'} |"
    )
