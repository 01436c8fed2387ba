"""Numbers people read: money with significant digits, raw measures in their units.

One place decides how a cost, a latency or a score is written, so the terminal, the Markdown
summary and the HTML report never disagree (and never print a real cost as ``$0.0000``).
"""

from __future__ import annotations

import math

__all__ = [
    "RAW_MEASURES",
    "UNITS",
    "fmt_bound",
    "fmt_delta",
    "fmt_interval",
    "fmt_metric",
    "fmt_p",
    "fmt_usd",
    "gated_unit",
    "unit_of",
]

UNITS = {"cost_usd": "USD", "latency_ms": "ms", "ttft_ms": "ms"}
"""Raw measures and their units; every other built-in metric is a score in [0, 1]."""
RAW_MEASURES = frozenset(UNITS)
"""The built-in raw measures: lower is better, aggregated and compared in their units."""


_STATS_OF_VALUES = frozenset({"mean", "median", "min", "max"})
"""Gate statistics of a metric's own values, so in its unit (a pass rate of a cost is a share)."""


def unit_of(metric: str) -> str | None:
    """The unit of a metric's values (``None`` for scores in [0, 1])."""
    return UNITS.get(metric)


def gated_unit(metric: str, stat: str) -> str | None:
    """The unit of a gate's value: its metric's for a statistic of the metric's values.

    Args:
        metric: The gated metric.
        stat: The gate's statistic (``mean``, ``pass_rate``...).

    Returns:
        The unit, or ``None`` for a score, a pass rate (of a cost too: a share of the cases,
        not dollars) or a corpus or human-scale estimate.
    """
    return unit_of(metric) if stat in _STATS_OF_VALUES else None


def fmt_usd(value: float | None, *, digits: int = 3) -> str:
    """Money with ``digits`` significant digits: ``$0.0000135``, ``$0.042``, ``$12.35``.

    Args:
        value: Dollars (``None`` reads as unknown).
        digits: Significant digits of amounts below one dollar.

    Returns:
        The amount as text; cents for a dollar and more, ``$0`` for exactly nothing.
    """
    if value is None or not math.isfinite(value):
        return "–"
    if value == 0:
        return "$0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    decimals = digits - 1 - math.floor(math.log10(value))
    text = f"{value:.{decimals}f}"
    if float(text) >= 1:  # rounding reached a dollar (0.9999 -> 1.00)
        return f"{sign}${float(text):,.2f}"
    return f"{sign}${text}"


def _plain(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def fmt_metric(metric: str, value: float | None) -> str:
    """A metric's value in its unit: ``$0.0000135``, ``412 ms``, ``0.873``."""
    if value is None:
        return "–"
    unit = unit_of(metric)
    if unit == "USD":
        return fmt_usd(value)
    if unit is not None:
        return f"{_plain(value)} {unit}"
    return f"{value:.3f}"


def fmt_delta(metric: str, value: float) -> str:
    """A signed difference in the metric's unit (``+$0.0000250``, ``-12 ms``), a score's to
    four significant digits (``+0.03125``)."""
    if not unit_of(metric):
        return f"{value:+.4g}"
    text = fmt_metric(metric, value)
    return text if text.startswith("-") else f"+{text}"


def fmt_bound(metric: str, value: float) -> str:
    """A gate's bound in the metric's unit; money keeps the significant digits it was written
    with (up to six), so ``max: 0.00003125`` never reads as ``$0.0000312``.

    Args:
        metric: A raw measure (:func:`unit_of` is not ``None``).
        value: The bound.

    Returns:
        The bound as text.
    """
    if unit_of(metric) == "USD" and value != 0 and math.isfinite(value):
        written = f"{abs(value):.5e}".split("e")[0].replace(".", "").rstrip("0")
        return fmt_usd(value, digits=max(3, len(written)))
    return fmt_metric(metric, value)


def fmt_interval(metric: str, low: float, high: float) -> str:
    """A confidence interval in the metric's unit (``[$0.0000121, $0.0000149]``)."""
    unit = unit_of(metric)
    if unit == "USD":
        return f"[{fmt_usd(low)}, {fmt_usd(high)}]"
    if unit is not None:
        return f"[{_plain(low)}, {_plain(high)}] {unit}"
    return f"[{low:.3f}, {high:.3f}]"


def fmt_p(p: float, *, relation: bool = False) -> str:
    """A p-value to three decimals, ``<0.001`` below that: a p-value is never 0, so it never
    reads ``0.000`` (nor ``p=0.0000`` in a gate's message).

    Args:
        p: The p-value.
        relation: Prefix ``=`` unless the text starts with ``<``, for ``p(adj)=0.016`` and
            ``p(adj)<0.001`` after a label.

    Returns:
        The p-value as text.
    """
    if p < 0.001:
        return "<0.001"
    return f"={p:.3f}" if relation else f"{p:.3f}"
