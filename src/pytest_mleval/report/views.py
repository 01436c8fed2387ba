"""View models of the HTML report: pure functions from result records to template data.

The case payload, the header, the suite tables, usage and the comparison are here; the charts
(sparklines, histograms, per-case deltas) are in :mod:`.charts`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..results.records import run_status
from ..results.sequential import sequential_line
from ..results.units import fmt_usd
from .charts import LOWER_IS_BETTER, sparkline
from .conversation import ConversationPayload, Interner

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..results.records import CaseResult, RunResults, SuiteInfo
    from .history import TrendPoint

__all__ = [
    "FLIPS",
    "STATUSES",
    "case_payload",
    "case_status",
    "comparison_view",
    "cost_text",
    "header_view",
    "partial_note",
    "skipped_text",
    "suite_ran",
    "suite_tables",
    "unchecked_gates",
    "unscored_text",
    "usage_rows",
]

STATUSES = ("passed", "failed", "errored")


def case_status(case: CaseResult) -> str:
    """``errored`` when the case could not be scored, else ``passed`` or ``failed``."""
    if case.errored:
        return "errored"
    return "passed" if case.passed else "failed"


def _text(value: Any) -> str | None:
    """Inputs and references may be structured; the report shows them as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _score_record(metrics: Interner, name: str, ms: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"m": metrics(name)}
    for key, value in (
        ("v", ms.score),
        ("p", ms.passed),
        ("t", ms.threshold),
        ("x", ms.max),
        ("e", ms.explanation),
        ("er", ms.error),
        ("sk", ms.skipped),
    ):
        if value is not None:
            rec[key] = value
    if ms.data:
        # Sent as data; the page pretty-prints it when a case is opened.
        rec["d"] = ms.data
    if ms.weight != 1.0:
        rec["w"] = ms.weight
    return rec


def case_payload(run: RunResults, baseline: RunResults | None = None) -> dict[str, Any]:
    """The cases as compact JSON-ready records (optional fields are left out when empty).

    Keys of a case: ``s`` suite index, ``id``, ``r`` repeat, ``st`` status index (into
    ``statuses``), ``in``/``pr``/``out``/``exp`` texts, ``ctx`` indexes into ``docs``, ``ret``
    retrieved ids, ``sc`` scores (``m`` metric index, ``v`` score, ``p`` passed, ``t``/``x``
    bounds, ``e`` explanation, ``er`` error, ``sk`` skipped, ``d`` data), ``tg`` tag indexes,
    ``md`` metadata, ``img``/``cv``/``tr``/``stop`` the case's images, conversation steps,
    trajectory counts and stop reason (see :meth:`.ConversationPayload.case_fields`; texts
    and images are indexes into ``texts`` and ``images``, image data into ``imageData``),
    ``lat``, ``tok`` [prompt, completion, total], ``cost``, ``mo`` model, ``err``, ``ca``
    answered from the cache, ``tt``/``itl``/``tps`` a streamed call's time to first token,
    inter-token latency and output tokens/s, ``b`` the baseline's status, output and scores
    of the same case and repeat. ``variantGroups`` lists the suites run as variants of one
    suite (``g`` its name, ``v`` the variants, ``s`` their suite indexes), for the page's
    side-by-side view of a case across its variants.
    """
    suites, metrics, tags, docs = Interner(), Interner(), Interner(), Interner()
    conversations = ConversationPayload()
    for s in run.suites:
        suites(s.name)
    base_index: dict[tuple[str, str, int], CaseResult] = {}
    if baseline is not None:
        for bc in baseline.cases:
            base_index[(bc.suite, bc.case_id, bc.repeat)] = bc
    cases = []
    for c in run.cases:
        rec: dict[str, Any] = {"s": suites(c.suite), "id": c.case_id, "st": case_status(c)}
        rec["st"] = STATUSES.index(rec["st"])
        optional: dict[str, Any] = {
            "r": c.repeat or None,
            "in": _text(c.input),
            "pr": c.prompt,
            "out": c.output,
            "exp": _text(c.expected),
            "err": c.error,
            "lat": c.latency_ms,
            "tt": c.ttft_ms,
            "itl": c.itl_ms,
            "tps": c.output_tokens_per_s,
            "cost": c.cost_usd,
            "mo": c.model,
            "fb": c.fallback_used,
            "cl": c.cluster,
            "nid": c.nodeid or None,
            "ca": c.cached or None,
            "rt": c.retries or None,
        }
        rec.update({k: v for k, v in optional.items() if v is not None})
        if c.context:
            rec["ctx"] = [docs(text) for text in c.context]
        if c.retrieved:
            rec["ret"] = list(c.retrieved)
        if c.scores:
            rec["sc"] = [_score_record(metrics, k, v) for k, v in c.scores.items()]
        if c.tags:
            rec["tg"] = [tags(t) for t in c.tags]
        if c.usage.total_tokens or c.usage.prompt_tokens or c.usage.completion_tokens:
            rec["tok"] = [c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.total_tokens]
        if c.metadata:
            rec["md"] = c.metadata
        rec.update(conversations.case_fields(c))
        b = base_index.get((c.suite, c.case_id, c.repeat)) or base_index.get(
            (c.suite, c.case_id, 0)
        )
        if b is not None:
            brec: dict[str, Any] = {"st": STATUSES.index(case_status(b))}
            if b.output is not None:
                brec["out"] = b.output
            brec["sc"] = {
                str(metrics(k)): v.score for k, v in b.scores.items() if v.score is not None
            }
            rec["b"] = brec
        cases.append(rec)
    return {
        "statuses": list(STATUSES),
        "suites": suites.items,
        "metrics": metrics.items,
        "tags": sorted(tags.items),
        "tagIndex": tags.items,
        "docs": docs.items,
        "texts": conversations.texts,
        "images": conversations.images,
        "imageData": conversations.image_data,
        "hasBaseline": baseline is not None,
        "variantGroups": _variant_groups(run, suites.items),
        "cases": cases,
    }


def _variant_groups(run: RunResults, suite_names: list[str]) -> list[dict[str, Any]]:
    """For the page's side-by-side view of a case: per varied suite, its variants and their
    suites' indexes in the payload (``g`` the suite, ``v`` variant names, ``s`` indexes)."""
    index = {name: i for i, name in enumerate(suite_names)}
    groups: dict[str, dict[str, Any]] = {}
    for s in run.suites:
        if s.variant_of and s.variant and s.name in index:
            g = groups.setdefault(s.variant_of, {"g": s.variant_of, "v": [], "s": []})
            g["v"].append(s.variant)
            g["s"].append(index[s.name])
    return list(groups.values())


def header_view(run: RunResults) -> dict[str, Any]:
    """The run header: when, which commit and models, flags, counts, cost, verdict."""
    meta = run.meta
    counts = {s: 0 for s in STATUSES}
    for c in run.cases:
        counts[case_status(c)] += 1
    total = (run.usage or {}).get("total") or {}
    cost = total.get("cost_usd")
    if cost is None:
        cost = sum(c.cost_usd or 0.0 for c in run.cases)
    tokens = total.get("total_tokens")
    if tokens is None:
        tokens = sum(c.usage.total_tokens for c in run.cases)
    gates_failed = sum(1 for g in run.gates if not g.passed)
    # The badge derives from the status the run ended with (exit status, completeness), as
    # the Markdown headline and the terminal do: it never says "passed" for a failed run.
    status, text = run_status(run)
    if status == "incomplete":
        verdict, tone = text, "bad"
    elif status == "partial":
        verdict, tone = text, "warn"
    elif status == "failed":
        verdict, tone = text, "bad"
    elif not run.cases:
        verdict, tone = "no cases", "neutral"
    elif counts["errored"] or counts["failed"]:
        # Failures pytest expected (xfail): the run passed, and the badge says what failed.
        verdict, tone = text, "warn"
    else:
        verdict, tone = text, "good"
    flags = [
        (str(k), v if isinstance(v, str) else json.dumps(v, default=str))
        for k, v in sorted((meta.flags or {}).items())
    ]
    return {
        "started_at": meta.started_at or None,
        "finished_at": meta.finished_at or None,
        "duration": _duration(meta.duration_s),
        "git_sha": meta.git_sha,
        "git_branch": meta.git_branch,
        "models": list(meta.models),
        "flags": flags,
        "cost_usd": float(cost),
        "cost_unknown": int(total.get("cost_unknown") or 0),
        "tokens": int(tokens),
        "tool_version": meta.tool_version or None,
        "python": meta.python or None,
        "platform": meta.platform or None,
        "seed": meta.seed,
        "exit_status": meta.exit_status,
        "n_results": len(run.cases),
        "n_cases": len({(c.suite, c.case_id) for c in run.cases}),
        "counts": counts,
        "gates_total": len(run.gates),
        "gates_failed": gates_failed,
        "gates_unchecked": sum(s.unchecked_gates for s in run.suites),
        "verdict": verdict,
        "tone": tone,
    }


FLIPS = (
    ("flipped_to_fail", "pass → fail"),
    ("flipped_to_error", "pass → errored"),
    ("flipped_to_pass", "fail → pass"),
)
"""The case lists of a suite's comparison and their labels (the terminal writes ``->``)."""


_OUTSIDE_CASES = "any case"
"""The name of the usage row of calls no case made (kind ``outside``: "outside any case")."""


def cost_text(t: dict[str, Any]) -> str:
    """A usage row's cost as people read it: ``$0.0123``, and where some cases called a model
    with no price, ``$0.0123 + unknown (N case(s) of a model with no price)``: their $0 is
    not what they cost."""
    money = fmt_usd(t.get("cost_usd"))
    unknown = int(t.get("cost_unknown") or 0)
    return f"{money} + unknown ({unknown} case(s) of a model with no price)" if unknown else money


def usage_rows(run: RunResults) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, totals) for the whole run, then each suite, the calls outside any case
    (kind ``outside``) and each model that used anything.

    Totals are read tolerantly (a results file from an older version may lack keys) and
    always carry ``total_tokens``, ``prompt_tokens``, ``completion_tokens``, ``cost_usd``,
    ``cached``, ``retries``, ``latency_ms`` (``p50``, ``p95``, ``p99``; ``None`` when no call
    was timed), ``streamed`` (cases
    with a time to first token), ``streamed_cached`` (of those, answers from the cache: their
    timings are the recorded calls'), ``ttft_ms`` (``p50``, ``p95``, ``p99``; ``None``
    without streamed cases) and ``output_tokens_per_s`` (mean, or ``None``).
    """
    usage = run.usage or {}
    rows: list[tuple[str, str, dict[str, Any]]] = []

    def norm(t: dict[str, Any]) -> dict[str, Any]:
        raw_lat = t.get("latency_ms")
        lat: dict[str, Any] = raw_lat if isinstance(raw_lat, dict) else {}
        raw_ttft = t.get("ttft_ms")
        ttft: dict[str, Any] = raw_ttft if isinstance(raw_ttft, dict) else {}
        streamed = int(t.get("streamed") or 0) if ttft else 0
        speed = t.get("output_tokens_per_s")
        return {
            "total_tokens": int(t.get("total_tokens") or 0),
            "prompt_tokens": int(t.get("prompt_tokens") or 0),
            "completion_tokens": int(t.get("completion_tokens") or 0),
            "cost_usd": float(t.get("cost_usd") or 0.0),
            "cost_unknown": int(t.get("cost_unknown") or 0),
            "cached": int(t.get("cached") or 0),
            "retries": int(t.get("retries") or 0),
            # None: nothing was timed (every call failed), shown as unknown, never as 0 ms.
            "latency_ms": (
                {q: float(lat.get(q) or 0.0) for q in ("p50", "p95", "p99")} if lat else None
            ),
            "streamed": streamed,
            "streamed_cached": int(t.get("streamed_cached") or 0) if streamed else 0,
            "ttft_ms": {q: float(ttft.get(q) or 0.0) for q in ("p50", "p95", "p99")}
            if streamed
            else None,
            "output_tokens_per_s": float(speed) if streamed and speed else None,
        }

    def used(t: Any) -> bool:
        # Retries alone count: calls that all failed (a judge down) still reached a provider.
        return isinstance(t, dict) and bool(
            t.get("total_tokens") or t.get("cost_usd") or t.get("retries")
        )

    total = usage.get("total")
    if not isinstance(total, dict) or not used(total):
        return rows
    rows.append(("total", "all", norm(total)))
    for name, t in sorted((usage.get("suites") or {}).items()):
        if used(t):
            rows.append(("suite", str(name), norm(t)))
    # Calls no case made (building RAG pipelines, judging variants): with the suites' rows
    # they add up to the total.
    if used(usage.get("outside")):
        rows.append(("outside", _OUTSIDE_CASES, norm(usage["outside"])))
    for name, t in sorted((usage.get("models") or {}).items()):
        if used(t):
            rows.append(("model", str(name), norm(t)))
    return rows


def _duration(seconds: float | None) -> str | None:
    if not seconds:
        return None
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def _ci_bar(estimate: float, lo: float, hi: float) -> dict[str, float] | None:
    if not all(0.0 <= v <= 1.0 for v in (estimate, lo, hi)):
        return None
    w = 100.0
    return {"x1": lo * w, "x2": hi * w, "xe": estimate * w, "w": w}


def suite_ran(suite: SuiteInfo) -> str:
    """``3 cases``, or ``2 of 4 cases ran (1 not run, 1 skipped)`` for a suite run in part."""
    repeats = (
        f" ({suite.repeats_not_run} of {suite.n_cases * suite.repeats} repeats not run)"
        if suite.repeats_not_run
        else ""
    )
    if not suite.missing:
        return f"{suite.n_cases} cases{repeats}"
    why = [f"{suite.not_run} not run"] if suite.not_run else []
    if suite.skipped:
        why.append(f"{len(suite.skipped)} skipped")
    ran = f"{suite.n_cases} of {suite.n_cases + suite.missing} cases ran"
    return f"{ran} ({', '.join(why)}){repeats}"


def unchecked_gates(run: RunResults) -> list[tuple[str, str]]:
    """``(suite, why)`` for each suite with gates not checked: none of its cases, or none
    of those that score the gated metrics, was selected."""
    return [
        (
            s.name,
            f"{s.unchecked_gates} gate(s) on {', '.join(s.unchecked_metrics)}: "
            "no case it scores was selected"
            if s.unchecked_metrics
            else f"{s.unchecked_gates} gate(s): no case of the suite was selected",
        )
        for s in run.suites
        if s.unchecked_gates
    ]


def partial_note(suite: SuiteInfo) -> str | None:
    """What a suite run in part covers (``None`` for a whole one): Markdown and HTML say it."""
    if not suite.missing and not suite.repeats_not_run:
        return None
    if not suite.n_cases and not suite.skipped:
        # Deselected whole (-k, --deselect): a gate over no case is not checked, not passed.
        return f"{suite_ran(suite)}: none was selected, so its gates were not checked."
    return f"{suite_ran(suite)}: its statistics and gates cover those that ran."


def skipped_text(suite: SuiteInfo, limit: int = 10) -> str:
    """The cases its target skipped, each with why: ``c (needs a GPU), d (...)``."""
    items = sorted(suite.skipped.items())
    text = ", ".join(f"{k} ({why})" if why else k for k, why in items[:limit])
    return text + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def unscored_text(cases: Sequence[CaseResult]) -> str:
    """The metrics these cases list but none of them scored, each with its first reason:
    ``judge on 12 cases (skipped: no judge model configured)``; empty when there are none.

    Such a metric has no estimate to show, so without this line it would vanish from the
    suite's table without a word.
    """
    listed: dict[str, set[str]] = {}
    why: dict[str, str] = {}
    scored: set[str] = set()
    for c in cases:
        for name, ms in c.scores.items():
            listed.setdefault(name, set()).add(c.case_id)
            if ms.score is not None:
                scored.add(name)
            elif name not in why and (reason := ms.why_unscored()):
                why[name] = reason
    return ", ".join(
        f"{name} on {len(ids)} case(s) ({why[name]})" if name in why else name
        for name, ids in listed.items()
        if name not in scored
    )


def suite_tables(
    run: RunResults, trends: dict[tuple[str, str], list[TrendPoint]]
) -> list[dict[str, Any]]:
    """Per suite: description, case counts, and each metric's estimate, CI and trend."""
    names = [s.name for s in run.suites]
    for c in run.cases:
        if c.suite not in names:
            names.append(c.suite)
    info = {s.name: s for s in run.suites}
    out = []
    for name in names:
        counts = {s: 0 for s in STATUSES}
        for c in run.cases:
            if c.suite == name:
                counts[case_status(c)] += 1
        rows = []
        for a in run.aggregates:
            if a.suite != name:
                continue
            rows.append(
                {
                    "metric": a.metric,
                    "estimate": a.estimate,
                    "ci_low": a.ci_low,
                    "ci_high": a.ci_high,
                    "confidence": a.confidence,
                    "n": a.n,
                    "method": a.method,
                    "note": a.note,
                    "bar": _ci_bar(a.estimate, a.ci_low, a.ci_high),
                    "spark": sparkline(trends.get((name, a.metric), [])),
                }
            )
        s = info.get(name)
        out.append(
            {
                "name": name,
                "description": s.description if s else None,
                "sequential": sequential_line(s.sequential) if s and s.sequential else None,
                "partial": partial_note(s) if s else None,
                "skipped": sorted(s.skipped.items()) if s else [],
                "unscored": unscored_text([c for c in run.cases if c.suite == name]),
                "target": s.target if s else None,
                "file": s.file if s else None,
                "n_cases": s.n_cases
                if s
                else len({c.case_id for c in run.cases if c.suite == name}),
                "counts": counts,
                "rows": rows,
            }
        )
    return out


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def comparison_view(comparison: dict[str, Any] | None) -> dict[str, Any] | None:
    """A tolerant reading of ``RunResults.comparison`` (missing keys read as absent).

    Reads top-level ``baseline_sha``, ``baseline_started_at``, ``margin``, ``alpha``,
    ``warnings``, ``only_in_baseline``, ``only_in_candidate`` and ``suites``; per suite
    ``suite``, ``n_matched``, ``regressed``, ``flipped_to_fail``, ``flipped_to_error``,
    ``flipped_to_pass`` and
    ``metrics``; per metric ``metric``, ``n``, ``baseline``, ``candidate``, ``diff``,
    ``ci_low``, ``ci_high``, ``p_value``, ``p_adjusted``, ``test``, ``verdict``,
    ``regression``, ``gating``, ``lower_is_better``, ``note``.
    """
    if not comparison:
        return None
    suites = []
    for s in comparison.get("suites") or []:
        if not isinstance(s, dict):
            continue
        metrics = []
        for m in s.get("metrics") or []:
            if not isinstance(m, dict):
                continue
            p = _float(m.get("p_value"))
            p_adj = _float(m.get("p_adjusted"))
            metrics.append(
                {
                    "metric": str(m.get("metric", "?")),
                    "n": m.get("n"),
                    "baseline": _float(m.get("baseline")),
                    "candidate": _float(m.get("candidate")),
                    "diff": _float(m.get("diff")),
                    "ci_low": _float(m.get("ci_low")),
                    "ci_high": _float(m.get("ci_high")),
                    "p_value": p,
                    "p_adjusted": p_adj if p_adj is not None else p,
                    "test": m.get("test"),
                    "verdict": str(m.get("verdict") or "not tested"),
                    "regression": bool(m.get("regression")),
                    "gating": bool(m.get("gating")),
                    "lower_is_better": bool(
                        m.get("lower_is_better", m.get("metric") in LOWER_IS_BETTER)
                    ),
                    "note": m.get("note"),
                }
            )
        suites.append(
            {
                "suite": str(s.get("suite", "?")),
                "n_matched": s.get("n_matched"),
                "regressed": bool(s.get("regressed")),
                "metrics": metrics,
                "flipped_to_fail": [str(i) for i in s.get("flipped_to_fail") or []],
                "flipped_to_error": [str(i) for i in s.get("flipped_to_error") or []],
                "flipped_to_pass": [str(i) for i in s.get("flipped_to_pass") or []],
            }
        )
    sha = comparison.get("baseline_sha")
    return {
        "baseline_sha": str(sha) if sha else None,
        "baseline_started_at": comparison.get("baseline_started_at") or None,
        "margin": _float(comparison.get("margin")),
        "alpha": _float(comparison.get("alpha")),
        "warnings": [str(w) for w in comparison.get("warnings") or []],
        "only_in_baseline": [str(i) for i in comparison.get("only_in_baseline") or []],
        "only_in_candidate": [str(i) for i in comparison.get("only_in_candidate") or []],
        "suites": suites,
    }
