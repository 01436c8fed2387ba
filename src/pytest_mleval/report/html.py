"""The HTML report: one self-contained file (inline CSS, JS and SVG; no network).

Server-side (jinja2, autoescaped) renders the summary parts; the cases travel once as JSON in a
``<script type="application/json">`` block and the table is rendered client-side, lazily, with
DOM text nodes only, so hostile outputs are shown as text and never parsed as markup.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..results.units import fmt_bound, fmt_interval, fmt_metric, fmt_p, fmt_usd, gated_unit
from .charts import delta_charts, histograms
from .safety_views import safety_view
from .variant_views import variant_sets_view
from .variants import fmt_ms, variant_cost
from .views import (
    FLIPS,
    case_payload,
    comparison_view,
    header_view,
    suite_tables,
    unchecked_gates,
    usage_rows,
)

if TYPE_CHECKING:
    from ..results.records import RunResults
    from .history import TrendPoint

__all__ = [
    "REPORT_FILE",
    "prepare_report",
    "render_report",
    "safe_json",
    "write_report",
]

REPORT_FILE = "mleval-report.html"
"""File name of the report in the report dir."""

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def safe_json(obj: Any) -> str:
    """JSON that can sit inside a ``<script>`` element: no ``</script>``, ``<!--`` or line breaks.

    ``<``, ``>``, ``&`` and U+2028/U+2029 become ``\\u`` escapes, which JSON.parse reads back
    unchanged; non-finite floats become ``null`` (JSON has none).
    """
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity somewhere: the slow path replaces them
        text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"))
    for char, escape in _JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _asset(name: str) -> str:
    from importlib.resources import files

    text = files("pytest_mleval.report").joinpath("templates", name).read_text(encoding="utf-8")
    # Inline assets must not be able to end their own element early.
    if "</" in text:
        raise AssertionError(f"templates/{name} contains '</'")
    return text


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pytest_mleval.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["signed"] = _signed
    env.filters["pvalue"] = _pvalue
    env.filters["usd"] = fmt_usd
    env.filters["ms"] = fmt_ms
    env.filters["variant_cost"] = variant_cost
    # {{ value|metricval(metric) }}: a value in its metric's unit ($, ms) or as a score.
    env.filters["metricval"] = lambda value, metric: fmt_metric(str(metric), value)
    env.globals["interval"] = fmt_interval
    # {{ g.value|gateval(g) }}, {{ g.max|gatebound(g) }}: dollars or ms as the gate's message.
    env.filters["gateval"] = _gate_value
    env.filters["gatebound"] = _gate_bound
    return env


# The report's template, compiled once per process. The lock makes a render that arrives while
# prepare_report compiles on its thread wait for that compile instead of doing it again.
_TEMPLATE: list[Any] = []
_TEMPLATE_LOCK = threading.Lock()


def _template() -> Any:
    with _TEMPLATE_LOCK:
        if not _TEMPLATE:
            _TEMPLATE.append(_environment().get_template("report.html.j2"))
        return _TEMPLATE[0]


def prepare_report() -> None:
    """Compile the report's template now (jinja2's compile is most of a small report's time).

    A run calls it on a thread while its items wait for model calls, so the end of the run
    only renders.
    """
    _template()


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if v != 0 and (abs(v) >= 10_000 or abs(v) < 10 ** (-digits)):
        return f"{v:.{digits}g}"
    return f"{v:.{digits}f}" if abs(v) < 100 else f"{v:,.1f}"


def _signed(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    text = _num(value, digits)
    return text if text.startswith("-") or text == "–" else f"+{text}"


def _in_unit(value: Any, gate: Any) -> bool:
    return (
        value is not None
        and math.isfinite(float(value))
        and gated_unit(str(gate.metric), str(gate.stat)) is not None
    )


def _gate_value(value: Any, gate: Any) -> str:
    """A gate's value in its metric's unit (``$0.0000500``, not ``5e-05``), else a share or
    score to four decimals."""
    return fmt_metric(str(gate.metric), float(value)) if _in_unit(value, gate) else _num(value, 4)


def _gate_bound(value: Any, gate: Any) -> str:
    """A gate's bound as its message writes it (``$0.0000300``, ``300 ms``)."""
    return fmt_bound(str(gate.metric), float(value)) if _in_unit(value, gate) else _num(value)


def _pvalue(value: Any) -> str:
    if value is None:
        return "–"
    return fmt_p(float(value))


def render_report(
    run: RunResults,
    *,
    baseline: RunResults | None = None,
    trends: dict[tuple[str, str], list[TrendPoint]] | None = None,
    title: str = "pytest-mleval report",
    notes: Sequence[str] = (),
) -> str:
    """Render a run as one self-contained HTML page.

    Args:
        run: The run's results (its ``comparison`` is shown when present).
        baseline: The baseline run, for per-case deltas and each case's baseline output.
        trends: Suite metric trends from the run history (see :func:`history.metric_trends`).
        title: Page title.
        notes: Lines shown at the top (e.g. why the history is missing).

    Returns:
        The HTML text.
    """
    from markupsafe import Markup

    payload = case_payload(run, baseline)
    usage = usage_rows(run)
    data_json = safe_json(payload)
    # A nonce derived from the content keeps the output deterministic while the CSP still
    # refuses any script (or inline handler) that did not come from this file.
    nonce = hashlib.sha256(data_json.encode("utf-8")).hexdigest()[:24]
    context = {
        "title": title,
        "notes": list(notes),
        "header": header_view(run),
        "usage": usage,
        # TTFT columns only when something was streamed: most runs stream nothing.
        "usage_streamed": any(t["streamed"] for _, _, t in usage),
        "gates": run.gates,
        # Gates left unchecked by the selection: rows of their own, not "No gates in this run".
        "unchecked": unchecked_gates(run),
        "collection_errors": run.collection_errors,
        "incomplete": run.meta.incomplete,
        "suites": suite_tables(run, trends or {}),
        "comparison": comparison_view(run.comparison),
        "flips": FLIPS,
        "variants": [
            {
                **view,
                "baseline_suite": v.get("baseline_suite"),
                "candidate_suite": v.get("candidate_suite"),
            }
            for v in run.variants
            if (view := comparison_view(v)) is not None
        ],
        "variant_sets": variant_sets_view(run),
        "safety": safety_view(run),
        "histograms": histograms(run, baseline),
        "deltas": delta_charts(run, baseline) if baseline is not None else [],
        "has_baseline": baseline is not None,
        "has_trends": bool(trends),
        "facets": {k: payload[k] for k in ("suites", "tags", "metrics")},
        "n_cases": len(run.cases),
        "nonce": nonce,
        "css": Markup(_asset("report.css")),
        "js": Markup(_asset("report.js")),
        "data_json": Markup(data_json),
    }
    html: str = _template().render(**context)
    return html


def write_report(
    path: str | Path,
    run: RunResults,
    *,
    baseline: RunResults | None = None,
    history_url: str | None = None,
    history_limit: int = 20,
) -> Path:
    """Render the report and write it; trends come from the history when one is given.

    A history that cannot be read (no SQLAlchemy, database down) leaves the trends out with
    a note in the report rather than losing the report.

    Args:
        path: Output file.
        run: The run's results.
        baseline: The baseline run, if any.
        history_url: SQLAlchemy URL of the run history (see :func:`history.resolve_url`).
        history_limit: How many recent runs the trends cover.

    Returns:
        The path written.
    """
    from ..errors import MlevalError

    trends: dict[tuple[str, str], list[TrendPoint]] = {}
    notes: list[str] = []
    if history_url:
        from .history import metric_trends

        try:
            trends = metric_trends(history_url, history_limit)
        except MlevalError as exc:
            notes.append(f"metric trends unavailable: {exc}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    html = render_report(run, baseline=baseline, trends=trends, notes=notes)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
