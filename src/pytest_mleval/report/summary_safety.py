"""The safety probes in text: the Markdown summary's "Safety probes" section and the terminal's
``safety ...`` lines (rates from ``RunResults.safety``; see :mod:`..results.safety`)."""

from __future__ import annotations

from ..results.records import RunResults
from ..results.safety_records import ALL_FAMILIES, SafetyComparison, SafetyFamily
from ..results.units import fmt_p
from .escaping import md_code, md_text, term_text

__all__ = ["pct", "safety_comparison_lines", "safety_markdown", "safety_terminal"]

# Case ids of successful attacks named per suite and family in the Markdown summary.
IDS_SHOWN = 10


def pct(value: float) -> str:
    """A rate as a percentage with one decimal (``7.5%``)."""
    return f"{100.0 * value:.1f}%"


def _rate(f: SafetyFamily) -> str:
    return f"{pct(f.rate)} [{pct(f.ci_low)}, {pct(f.ci_high)}]"


def _family_label(family: str) -> str:
    return "all families" if family == ALL_FAMILIES else family


def _against(r: SafetyComparison) -> str:
    return "baseline" if r.against == "baseline" else r.reference_suite


def _comparison_text(r: SafetyComparison) -> str:
    """One comparison in words (plain text: escape it for where it goes)."""
    pts = 100.0 * r.diff
    adjusted = "" if r.family == ALL_FAMILIES else f", Holm p{fmt_p(r.p_adjusted, relation=True)}"
    return (
        f"{r.suite} vs {_against(r)}, {_family_label(r.family)}: {r.b} newly broken, "
        f"{r.c} newly defended of {r.n} paired; attack success {pct(r.rate_reference)} → "
        f"{pct(r.rate_candidate)} ({pts:+.1f} pts), "
        f"exact McNemar p{fmt_p(r.p_value, relation=True)}"
        f"{adjusted}: {r.verdict}"
    )


def safety_markdown(run: RunResults, *, top: int = IDS_SHOWN) -> list[str]:
    """The Markdown "Safety probes" section (no lines when no probe case ran).

    Args:
        run: The run's results.
        top: Successful attacks named per suite and family.

    Returns:
        The section's lines; every suite name, family and case id escaped.
    """
    safety = run.safety
    if safety is None or not safety.families:
        return []
    level = round(safety.confidence * 100)
    out = ["### Safety probes", ""]
    out.append(
        f"Attack success rate: share of scored probe cases whose attack got through, "
        f"with its {level}% Wilson interval; errored probes are neither and are counted apart."
    )
    out.append("")
    out.append("| suite | family | n | attack success rate | errors |")
    out.append("|---|---|---:|---|---:|")
    for f in safety.families:
        family = f"**{_family_label(f.family)}**" if f.family == ALL_FAMILIES else md_text(f.family)
        out.append(
            f"| {md_text(f.suite)} | {family} | {f.n} | "
            f"{f.successes}/{f.n} · {md_text(_rate(f))} | {f.errors} |"
        )
    out.append("")
    for f in safety.families:
        if f.family == ALL_FAMILIES or not f.success_ids:
            continue
        shown = ", ".join(md_code(i) for i in f.success_ids[:top])
        more = f" and {len(f.success_ids) - top} more" if len(f.success_ids) > top else ""
        out.append(
            f"- **{md_text(f.suite)}** · {md_text(f.family)}: attacks that got through "
            f"({len(f.success_ids)}): {shown}{more}"
        )
    if any(f.success_ids for f in safety.families):
        out.append("")
    if safety.comparisons:
        out.append("**Paired comparisons** (matched case ids, exact McNemar, Holm-adjusted):")
        out.append("")
        for r in safety.comparisons:
            icon = {"safer": "🟢 ", "less safe": "🔴 "}.get(r.verdict, "")
            out.append(f"- {icon}{md_text(_comparison_text(r))}")
        out.append("")
    for note in safety.notes:
        out.append(f"> {md_text(note)}")
        out.append("")
    return out


def safety_terminal(run: RunResults) -> list[str]:
    """One ``safety SUITE: FAMILY k/n attacks succeeded (rate [low, high])`` line per suite,
    then one line per paired comparison."""
    safety = run.safety
    if safety is None:
        return []
    lines = []
    suites: dict[str, list[SafetyFamily]] = {}
    for f in safety.families:
        suites.setdefault(f.suite, []).append(f)
    for suite, families in suites.items():
        parts = []
        for f in families:
            if f.family == ALL_FAMILIES:
                continue
            errs = f", {f.errors} errored" if f.errors else ""
            parts.append(
                f"{term_text(f.family)} {f.successes}/{f.n} attacks succeeded ({_rate(f)}{errs})"
            )
        lines.append(f"safety {term_text(suite)}: " + "; ".join(parts))
    for r in safety.comparisons:
        lines.append(f"  {term_text(_comparison_text(r))}")
    return lines


def safety_comparison_lines(
    comparisons: list[SafetyComparison], *, markdown: bool = False
) -> list[str]:
    """The paired safety comparisons as lines (``mleval compare``): escaped for the terminal,
    or as Markdown list items under a heading."""
    if not comparisons:
        return []
    if not markdown:
        return ["safety probes (matched case ids, exact McNemar, Holm-adjusted):"] + [
            f"  {term_text(_comparison_text(r))}" for r in comparisons
        ]
    out = ["", "**Safety probes** (matched case ids, exact McNemar, Holm-adjusted):", ""]
    for r in comparisons:
        icon = {"safer": "🟢 ", "less safe": "🔴 "}.get(r.verdict, "")
        out.append(f"- {icon}{md_text(_comparison_text(r))}")
    return out
