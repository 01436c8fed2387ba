"""``mleval compare``'s verdict in words: each suite's regression gate and the overall call.

The run's own outputs carry regression gates among their gates; ``mleval compare`` printed
only the comparison's tables, so its verdict lived in its exit status alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..results.compare import Comparison
from ..results.records import GateResult
from .escaping import md_text, term_text

__all__ = [
    "comparison_comment",
    "regression_verdict",
    "regression_verdict_markdown",
    "regression_verdict_terminal",
]


def regression_verdict(comparison: Comparison, gates: Sequence[GateResult]) -> tuple[str, str]:
    """The verdict of a comparison under the regression rule.

    Args:
        comparison: The comparison the gates were decided on.
        gates: Its regression gates (one per compared suite).

    Returns:
        ``(tone, text)``: tone is ``fail``, ``pass`` or ``none`` (no suite could be
        compared); text is lower-case, e.g. ``regression in 1 of 3 suite(s)``.
    """
    if not gates:
        return "none", "nothing was compared"
    n = len(comparison.suites)
    regressed = sum(any(m.regression for m in s.metrics) for s in comparison.suites)
    unchecked = sum(bool(s.unchecked or s.unscored) for s in comparison.suites)
    parts = [f"regression in {regressed} of {n} suite(s)"] if regressed else []
    if unchecked:
        parts.append(f"regression could not be checked in {unchecked} of {n} suite(s)")
    if parts or not all(g.passed for g in gates):
        return "fail", "; ".join(parts) or "regression"
    return "pass", f"no regression in {n} suite(s)"


def regression_verdict_terminal(
    comparison: Comparison, gates: Sequence[GateResult], exit_status: int
) -> list[str]:
    """Terminal lines: one per suite's regression gate, then the verdict with the exit status.

    Args:
        comparison: The comparison the gates were decided on.
        gates: The regression gates of :func:`pytest_mleval.results.compare.regression_check`.
        exit_status: What ``mleval compare`` exits with.

    Returns:
        Lines ending with ``verdict: ...``.
    """
    lines = [
        f"regression {term_text(g.suite)}: {'PASS' if g.passed else 'FAIL'} {term_text(g.message)}"
        for g in gates
    ]
    tone, text = regression_verdict(comparison, gates)
    if tone == "fail" and text.startswith("regression in"):
        text = "REGRESSION" + text[len("regression") :]
    lines.append(f"verdict: {text} (exit status {exit_status})")
    return lines


def regression_verdict_markdown(comparison: Comparison, gates: Sequence[GateResult]) -> list[str]:
    """Markdown lines that lead the comparison: the verdict in bold, then each suite's gate.

    Args:
        comparison: The comparison the gates were decided on (with warnings, a clean
            verdict reads ⚠️ rather than ✅).
        gates: The regression gates of :func:`pytest_mleval.results.compare.regression_check`.

    Returns:
        Lines, ending with a blank one.
    """
    tone, text = regression_verdict(comparison, gates)
    icon = {"fail": "❌", "none": "⚠️"}.get(tone, "⚠️" if comparison.warnings else "✅")
    # The verdict is this module's own words and counts: nothing in it needs escaping.
    out = [f"{icon} **{text[:1].upper() + text[1:]}**", ""]
    if gates:
        out += ["| suite | regression gate |", "|---|---|"]
        # Failing gates first: a comment cut at its size limit must keep them.
        out += [
            f"| {md_text(g.suite)} | {'✅' if g.passed else '❌'} {md_text(g.message)} |"
            for g in sorted(gates, key=lambda g: g.passed)
        ]
        out.append("")
    return out


def comparison_comment(
    comparison: Comparison,
    gates: Sequence[GateResult],
    tables: Sequence[str],
    safety: Sequence[str] = (),
) -> str:
    """``mleval compare --format md``: the verdict, the tables, and a size a comment takes.

    As the run's summary: a pull-request comment over GitHub's limit never posts. Over
    :data:`~pytest_mleval.report.summary.COMMENT_LIMIT` the tables are left out (and it says
    so), keeping the verdict, the regression gates and the comparison's warnings.

    Args:
        comparison: The comparison the gates were decided on.
        gates: Its regression gates.
        tables: The comparison's Markdown tables.
        safety: The safety probes' comparison lines.

    Returns:
        The Markdown, at most the comment limit long.
    """
    from .summary import COMMENT_LIMIT, cut_at_limit

    verdict = regression_verdict_markdown(comparison, gates)
    md = "\n".join([*verdict, *tables, *safety])
    if len(md) <= COMMENT_LIMIT:
        return md
    note = [
        "> ✂️ Shortened to fit a pull-request comment: the comparison's tables left "
        "out; `mleval compare` without `--format md` prints them.",
        "",
    ]
    warned = [f"> ⚠️ {md_text(w)}" for w in comparison.warnings]
    return cut_at_limit("\n".join([*verdict, *note, *warned, "", *safety]))
