"""Assembling a run's results from the gathered per-case results (core).

The session gathers one :class:`~.records.CaseResult` per item (xdist-safe) and hands them here
with the suites it collected; this module builds everything else the results file holds:
suite aggregates and gates, the paired comparison with a baseline and between ``compare_to:``
variants, usage totals and latency percentiles, the run's metadata and why it is incomplete.
Pure functions over typed inputs: no pytest, nothing written.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..targets.registry import COST_UNKNOWN
from .records import CallUse, CaseResult, CollectionError, RunMeta, RunResults, SuiteInfo

if TYPE_CHECKING:
    from ..cases.schema import GateSpec
    from ..cases.suite import Suite

__all__ = [
    "Gathered",
    "RunSettings",
    "add_calls",
    "add_outside_calls",
    "assemble_run",
    "now_iso",
    "percentile",
    "run_meta",
    "sum_calls",
    "tool_version",
    "usage_totals",
    "why_incomplete",
]


@dataclass(frozen=True)
class RunSettings:
    """The run-wide settings that assembling a run depends on."""

    confidence: float = 0.95
    """Confidence level of intervals, gates and comparisons."""
    seed: int = 0
    """Seed of the bootstrap and permutation tests."""
    regression_margin: float = 0.0
    """Regression margin of suites without ``regression_margin:``."""
    regression_metrics: tuple[str, ...] | None = None
    """Regression metrics of suites without ``regression_metrics:`` (``None``: every metric)."""
    sequential: bool = False
    """``--mleval-sequential``: every suite ran sequentially."""
    repeats: int | None = None
    """``--mleval-repeats``: the repeats of every case, over the suites' own ``repeats:``."""


class NotSelected(NamedTuple):
    """A suite none of whose cases the run selected (``-k``, ``-m``, ``--deselect``, ``--lf``)."""

    file: str
    """Its eval file."""
    cases: int
    """Its cases, none of which ran."""
    gates: int
    """Its gates, none of which was checked."""


@dataclass
class Gathered:
    """What a session gathered: the inputs of :func:`assemble_run`."""

    meta: RunMeta
    """The run's metadata (see :func:`run_meta`); its ``incomplete`` is kept as given."""
    cases: list[CaseResult]
    """Per-case (per-repeat) results, in the order they were reported."""
    suites: Mapping[str, Suite] = field(default_factory=dict)
    """The suites collected in this process, by name (others are read from the cases' files)."""
    collection_errors: list[CollectionError] = field(default_factory=list)
    """Files that could not be collected."""
    baseline: RunResults | None = None
    """The ``--mleval-baseline`` run, when one was given."""
    inference: dict[str, Any] | None = None
    """The inference engine's summary (calls, cache, cost), when the run had an engine."""
    sequential: Mapping[str, tuple[int | None, str]] = field(default_factory=dict)
    """Sequential suite -> (cases run when it was decided, what decided it), as watched by
    the process that ran it (empty under xdist: the workers watched)."""
    outside_calls: Mapping[str, CallUse] = field(default_factory=dict)
    """Model -> the calls no case made (building RAG pipelines: document embeddings), every
    process's: the run's total and the models' rows count them, no suite's."""
    unselected: Mapping[str, NotSelected] = field(default_factory=dict)
    """Suite -> what of it did not run, for suites none of whose cases was selected."""


def now_iso(timestamp: float | None = None) -> str:
    """A time (default: now) in UTC, ISO 8601 to the second."""
    when = (
        _dt.datetime.now(_dt.timezone.utc)
        if timestamp is None
        else (_dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc))
    )
    return when.isoformat(timespec="seconds")


def tool_version() -> str:
    """The installed pytest-mleval's version (``0+unknown`` from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-mleval")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def run_meta(
    *,
    started: float,
    cases: Iterable[CaseResult],
    flags: Mapping[str, Any],
    seed: int,
    exit_status: int,
    git_sha: str | None = None,
    git_branch: str | None = None,
) -> RunMeta:
    """The metadata of a run that ends now.

    Args:
        started: When the run started (``time.time()``); it ends now.
        cases: The run's results (the models they used are listed).
        flags: The mleval options in effect (``None`` values are left out).
        seed: The run's seed.
        exit_status: pytest's exit status (``-1`` when unknown).
        git_sha: Commit of the working tree, if any.
        git_branch: Branch of the working tree, if any.

    Returns:
        The run's :class:`RunMeta` (``incomplete`` empty: see :func:`why_incomplete`).
    """
    return RunMeta(
        tool_version=tool_version(),
        started_at=now_iso(started),
        finished_at=now_iso(),
        duration_s=round(time.time() - started, 3),
        git_sha=git_sha,
        git_branch=git_branch,
        python=sys.version.split()[0],
        platform=f"{platform.system()} {platform.machine()}",
        models=sorted({c.model for c in cases if c.model}),
        flags={k: v for k, v in flags.items() if v is not None},
        seed=seed,
        exit_status=exit_status,
    )


def why_incomplete(
    collection_errors: Sequence[CollectionError],
    *,
    interrupted: bool = False,
    internal_error: bool = False,
    expected: Collection[str] | None = None,
    reported: Collection[str] = (),
) -> list[str]:
    """Why a run is not the whole run (empty when it is).

    Args:
        collection_errors: Files that could not be collected.
        interrupted: The run was interrupted (Ctrl-C).
        internal_error: pytest hit an internal error.
        expected: Node ids of every eval item collected (``None`` when not known).
        reported: Node ids of the items that reported at all (a skipped one counts).

    Returns:
        One line per reason, in a fixed order.
    """
    why = []
    if collection_errors:
        files = sorted({e.collected for e in collection_errors})
        why.append(f"{len(files)} file(s) could not be collected: {', '.join(files)}")
    if interrupted:
        why.append("the run was interrupted")
    elif internal_error:
        why.append("pytest hit an internal error")
    if expected:
        missing = len(set(expected) - set(reported))
        if missing:
            why.append(f"{missing} of {len(expected)} eval item(s) did not run")
    return why


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile of ``values`` (0 for none), as ``numpy.percentile``'s default.

    In pure Python (numpy's percentile imports ``numpy.ma``, ~10 ms of the end of a run); the
    interpolation is numpy's own, so the figures are bit for bit the same.
    """
    if not values:
        return 0.0
    xs = sorted(float(v) for v in values)
    pos = (q / 100.0) * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    t = pos - lo
    a, b = xs[lo], xs[hi]
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def usage_totals(cases: Sequence[CaseResult]) -> dict[str, Any]:
    """Tokens, cost and latency percentiles over the run, per suite and per model.

    Tokens, cost, cached answers and retries count every model call: each case's target's and
    the calls its metrics made (judges, API embedders: ``CaseResult.metric_calls``), so a
    judge model has its own row and its spend is in its suite's and the run's. Latency
    percentiles are the targets' (what a user of the system waits); a model's row has its
    calls' (a judge model's, its judge calls'). A target that used several models
    (``CaseResult.target_calls``: a RAG pipeline's generator and query embedder) gives each
    its row from its own calls. ``metric_calls`` in a total is the metrics'
    share (``total_tokens``, ``cost_usd``). Where cases were streamed, their time to first
    token too: ``ttft_ms`` (p50, p95, p99, mean), ``streamed`` (cases with one),
    ``streamed_cached`` (of those, answers from the cache, whose timings are their recorded
    calls') and ``output_tokens_per_s`` (mean). ``cost_unknown``, where some are: the cases
    whose target (or, in a model's row, its metrics) called a model with no price, counted
    as $0 in ``cost_usd``.
    """
    by_suite: dict[str, list[CaseResult]] = {}
    by_model: dict[str, list[CaseResult]] = {}
    targeted: dict[str, list[tuple[CaseResult, CallUse]]] = {}
    judged: dict[str, list[tuple[CaseResult, CallUse]]] = {}
    for c in cases:
        by_suite.setdefault(c.suite, []).append(c)
        if c.target_calls:
            # A target that used several models: each has its row from its own calls.
            for model, use in c.target_calls.items():
                targeted.setdefault(model, []).append((c, use))
        elif c.model:
            by_model.setdefault(c.model, []).append(c)
        for model, use in c.metric_calls.items():
            judged.setdefault(model, []).append((c, use))
    models = {
        m: _totals(by_model.get(m, []), judged.get(m, []), targeted.get(m, []))
        for m in sorted(by_model.keys() | judged.keys() | targeted.keys())
    }
    return {
        "total": _totals(cases, [(c, u) for c in cases for u in c.metric_calls.values()]),
        "suites": {
            k: _totals(v, [(c, u) for c in v for u in c.metric_calls.values()])
            for k, v in by_suite.items()
        },
        "models": models,
    }


def add_calls(
    usage: dict[str, Any], calls: Mapping[str, CallUse], *, share: str = "metric_calls"
) -> None:
    """Count model calls made outside any case (the controller's judging of variants, the
    building of RAG pipelines) in the run's total and its models' rows of
    :func:`usage_totals`' ``usage``, in place; ``share`` names the key of each row that
    keeps their part (``total_tokens``, ``cost_usd``)."""
    for model, use in calls.items():
        row = usage.setdefault("models", {}).get(model)
        if row is None:
            usage["models"][model] = row = _totals([], [])
            # A model only this judging used: its row's latencies are its calls'.
            row["latency_ms"] = _latency(use.latencies_ms)
        for t in (usage.setdefault("total", _totals([], [])), row):
            _add_use(t, use)
            part = t.setdefault(share, {"total_tokens": 0, "cost_usd": 0.0})
            part["total_tokens"] += use.total_tokens
            part["cost_usd"] += use.cost_usd


def _add_use(t: dict[str, Any], use: CallUse) -> None:
    """Add one model's calls to the tokens, cost, cached answers and retries of a usage row."""
    for key in ("prompt_tokens", "completion_tokens", "total_tokens", "cached", "retries"):
        t[key] = int(t.get(key) or 0) + int(getattr(use, key))
    t["cost_usd"] = float(t.get("cost_usd") or 0.0) + use.cost_usd


def add_outside_calls(
    usage: dict[str, Any], calls: Mapping[str, CallUse], *, share: str = "outside_cases"
) -> None:
    """Count calls no case made (building RAG pipelines, judging variants) in ``usage``, in
    place: in the run's total and the models' rows (:func:`add_calls`), kept as they were in
    ``outside_calls`` (so ``mleval merge`` adds the shards' up again) and summed in the row
    ``outside`` that people read beside the suites', so the rows add up to the total."""
    add_calls(usage, calls, share=share)
    kept = {m: CallUse.model_validate(u) for m, u in (usage.get("outside_calls") or {}).items()}
    every = sum_calls(kept, calls)
    usage["outside_calls"] = {m: u.model_dump() for m, u in every.items()}
    row = _totals([], [])
    for use in every.values():
        _add_use(row, use)
    row["latency_ms"] = _latency([x for u in every.values() for x in u.latencies_ms])
    usage["outside"] = row


def sum_calls(*parts: Mapping[str, CallUse]) -> dict[str, CallUse]:
    """Model -> the calls of every part, added up (workers', shards')."""
    out: dict[str, CallUse] = {}
    for part in parts:
        for model, use in part.items():
            have = out.get(model)
            if have is None:
                out[model] = use.model_copy(deep=True)
                continue
            for key in CallUse.model_fields:
                # Counts and money add up; latency lists join.
                setattr(have, key, getattr(have, key) + getattr(use, key))
    return dict(sorted(out.items()))


def _latency(lat: Sequence[float]) -> dict[str, float] | None:
    """Percentiles and mean of ``lat``; ``None`` when nothing was timed (a model whose every
    call failed), which every output shows as unknown, never as 0 ms."""
    if not lat:
        return None
    return {
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "mean": sum(lat) / len(lat),
    }


def _totals(
    group: Sequence[CaseResult],
    calls: Sequence[tuple[CaseResult, CallUse]],
    target: Sequence[tuple[CaseResult, CallUse]] = (),
) -> dict[str, Any]:
    """The usage of ``group``'s target calls, of ``target`` (one model's share of targets that
    used several, for that model's row) and of the metric ``calls`` counted with them;
    latencies are the targets' (``target``'s: that model's calls'), or the metric calls' where
    there are no target calls (a judge model's row)."""
    lat = [c.latency_ms for c in group if c.latency_ms is not None]
    lat += [x for _, u in target for x in u.latencies_ms]
    if not group and not target:
        lat = [x for _, u in calls for x in u.latencies_ms]
    metric = {
        "total_tokens": sum(u.total_tokens for _, u in calls),
        "cost_usd": sum(u.cost_usd for _, u in calls),
    }
    uses = [*target, *calls]
    out: dict[str, Any] = {
        "cases": len(
            {(c.suite, c.case_id, c.repeat) for c in group}
            | {(c.suite, c.case_id, c.repeat) for c, _ in uses}
        ),
        "prompt_tokens": sum(c.usage.prompt_tokens for c in group)
        + sum(u.prompt_tokens for _, u in uses),
        "completion_tokens": sum(c.usage.completion_tokens for c in group)
        + sum(u.completion_tokens for _, u in uses),
        "total_tokens": sum(c.usage.total_tokens for c in group)
        + sum(u.total_tokens for _, u in target)
        + metric["total_tokens"],
        "cost_usd": sum(c.cost_usd or 0.0 for c in group)
        + sum(u.cost_usd for _, u in target)
        + metric["cost_usd"],
        "cached": sum(1 for c in group if c.cached) + sum(u.cached for _, u in uses),
        "retries": sum(c.retries for c in group) + sum(u.retries for _, u in uses),
        "latency_ms": _latency(lat),
    }
    if calls:
        out["metric_calls"] = metric
    unpriced = len(
        {(c.suite, c.case_id, c.repeat) for c in group if c.metadata.get(COST_UNKNOWN)}
        | {(c.suite, c.case_id, c.repeat) for c, u in uses if u.unpriced}
    )
    if unpriced:
        # Their calls count as $0 in `cost_usd`: readers must see that the sum is short.
        out["cost_unknown"] = unpriced
    streamed = [c for c in group if c.ttft_ms is not None]
    if streamed:
        ttft = [float(c.ttft_ms) for c in streamed if c.ttft_ms is not None]
        speeds = [c.output_tokens_per_s for c in streamed if c.output_tokens_per_s]
        out["streamed"] = len(streamed)
        out["streamed_cached"] = sum(1 for c in streamed if c.cached)
        out["ttft_ms"] = {
            "p50": percentile(ttft, 50),
            "p95": percentile(ttft, 95),
            "p99": percentile(ttft, 99),
            "mean": sum(ttft) / len(ttft),
        }
        out["output_tokens_per_s"] = sum(speeds) / len(speeds) if speeds else None
    return out


def assemble_run(gathered: Gathered, settings: RunSettings) -> tuple[RunResults, list[str]]:
    """A run's results: suites, aggregates, gates, comparisons and usage over its cases.

    Args:
        gathered: The cases, suites, collection errors and baseline a session gathered.
        settings: Confidence, seed and the regression defaults.

    Returns:
        ``(run, notes)``: the results, and what the reader should be told about them (a
        ``compare_to:`` suite that did not run).
    """
    from .aggregate import aggregate_suite, evaluate_gates
    from .human_scale import human_scale_aggregates
    from .variants import build_variant_sets, variant_plans

    notes: list[str] = []
    suites = dict(gathered.suites)
    # A sequential suite's cases it did not need were never run: they are counted (and
    # named) in its SuiteInfo.sequential, not listed as results that could pass or fail.
    skipped: dict[str, list[CaseResult]] = {}
    # So are cases their target skipped (pytest.skip): counted and named in SuiteInfo.skipped.
    target_skips: dict[str, list[CaseResult]] = {}
    for c in gathered.cases:
        if c.not_needed:
            skipped.setdefault(c.suite, []).append(c)
        elif c.skipped is not None:
            target_skips.setdefault(c.suite, []).append(c)
    cases = [c for c in gathered.cases if not c.not_needed and c.skipped is None]
    by_suite: dict[str, list[CaseResult]] = {}
    for c in cases:
        by_suite.setdefault(c.suite, []).append(c)
    # Each case's repeats with a record of any kind (ran, skipped, not needed), by suite.
    repeats_seen: dict[str, dict[str, set[int]]] = {}
    for c in gathered.cases:
        repeats_seen.setdefault(c.suite, {}).setdefault(c.case_id, set()).add(c.repeat)
    # In the order the results came, with the suites whose every case was skipped.
    names = list(dict.fromkeys(c.suite for c in gathered.cases if not c.not_needed))
    run = RunResults(meta=gathered.meta)
    for name in names:
        suite_cases = by_suite.get(name, [])
        suite = _suite_for(name, suite_cases or target_skips[name], suites)
        ran = {c.case_id for c in suite_cases}
        skips = {
            c.case_id: c.skipped or "" for c in target_skips.get(name, []) if c.case_id not in ran
        }
        # The suite's file is the population: -k, --deselect, --lf or -x left the rest unrun.
        in_file = {c.id for c in suite.cases} if suite else set()
        population = len(in_file | ran | set(skips))
        not_needed = {c.case_id for c in skipped.get(name, [])} - ran
        # A case that ran on 1 of its 3 repeats (-k r1, --lf rerunning the repeat that failed)
        # must not read as the whole case: every record of a repeat counts as run.
        expected = settings.repeats or (suite.spec.repeats if suite else 1)
        seen = repeats_seen.get(name, {})
        repeats_not_run = sum(max(0, expected - len(seen.get(i, ()))) for i in ran)
        run.suites.append(
            SuiteInfo(
                name=name,
                file=str(suite.path) if suite else suite_cases[0].file,
                description=suite.spec.description if suite else None,
                target=suite.spec.target if suite else None,
                n_cases=len(ran),
                skipped=skips,
                not_run=max(0, population - len(ran) - len(skips) - len(not_needed)),
                repeats_not_run=repeats_not_run,
                repeats=expected,
                regression_margin=_regression_margin(suite, settings),
                regression_metrics=_regression_metrics(suite, settings),
                variant=suite.variant if suite else suite_cases[0].variant,
                variant_of=suite.variant_of if suite else None,
            )
        )
        aggs = (
            aggregate_suite(name, suite_cases, confidence=settings.confidence, seed=settings.seed)
            if suite_cases
            else []
        )
        if settings.sequential or (suite is not None and suite.spec.sequential):
            # Stopped early on the data: only the anytime-valid intervals hold.
            from .sequential import sequential_aggregates, sequential_info

            aggs = sequential_aggregates(
                aggs, suite_cases, population=population, confidence=settings.confidence
            )
            decided_after, reason = gathered.sequential.get(name, (None, ""))
            run.suites[-1].sequential = sequential_info(
                [*suite_cases, *skipped.get(name, [])],
                population=population,
                decided_after=decided_after,
                reason=reason,
            )
        if suite is not None and suite.labels and suite_cases:
            # A labelled metric on the human scale (`METRIC:human`), beside its own mean.
            aggs.extend(
                human_scale_aggregates(name, suite, suite_cases, confidence=settings.confidence)
            )
        run.aggregates.extend(aggs)
        # A shard's gates would see its part of the cases: `mleval merge` decides them.
        if suite is not None and suite.spec.gates and gathered.meta.shard is None:
            gates, unchecked = _selected_gates(suite, ran, skips.keys() | not_needed)
            if unchecked:
                run.suites[-1].unchecked_gates = len(unchecked)
                run.suites[-1].unchecked_metrics = sorted({g.metric for g in unchecked})
            run.gates.extend(
                evaluate_gates(
                    name,
                    gates,
                    suite_cases,
                    aggs,
                    confidence=settings.confidence,
                    seed=settings.seed,
                    population=population,
                    skipped=len(skips),
                )
            )
    for name, gone in gathered.unselected.items():
        if name in names:
            continue  # a case of it ran after all: its not_run counts the rest
        suite = suites.get(name)
        # No case of it ran, so no record carried it: without this row it vanished, and a
        # failing gated suite deselected with -k read "passed" (its gates are not checked).
        run.suites.append(
            SuiteInfo(
                name=name,
                file=gone.file,
                description=suite.spec.description if suite else None,
                target=suite.spec.target if suite else None,
                n_cases=0,
                not_run=gone.cases,
                unchecked_gates=gone.gates,
                variant=suite.variant if suite else None,
                variant_of=suite.variant_of if suite else None,
            )
        )
    run.cases = cases
    run.collection_errors = list(gathered.collection_errors)
    run.usage = usage_totals(cases)
    run.variant_sets = build_variant_sets(
        run, variant_plans(suites), confidence=settings.confidence, seed=settings.seed
    )
    if gathered.outside_calls:
        add_outside_calls(run.usage, gathered.outside_calls)
    if gathered.inference is not None:
        run.usage["inference"] = gathered.inference
    if gathered.baseline is not None:
        _compare(run, gathered.baseline, settings)
    notes.extend(_compare_variants(run, by_suite, suites, settings))
    from .safety import safety_summary

    # Over the assembled run (a merge's union of shards too), never from the parts' rates.
    run.safety = safety_summary(run, baseline=gathered.baseline, confidence=settings.confidence)
    return run, notes


def _suite_for(name: str, cases: list[CaseResult], suites: dict[str, Suite]) -> Suite | None:
    """The suite of ``name``: a collected one, else read from its cases' eval file.

    Under xdist the controller collects nothing: the suites (gates, regression settings) are
    read back from the files the workers' results name. Found suites join ``suites``.
    """
    from ..cases.suite import load_suite
    from ..errors import MlevalError

    if name in suites:
        return suites[name]
    files = {c.file for c in cases if c.file}
    for f in files:
        p = Path(f)
        if p.suffix in (".yaml", ".yml") and p.exists():
            try:
                suite = load_suite(p)
            except MlevalError:
                continue
            # A variant's suite (`SUITE[VARIANT]`) is one of the file's suite's expansions.
            for run in suite.expand():
                suites.setdefault(run.name, run)
            if name in suites:
                return suites[name]
    return None


def _selected_gates(
    suite: Suite, ran: set[str], accounted: Collection[str]
) -> tuple[list[GateSpec], list[GateSpec]]:
    """``(checked, unchecked)``: a gate on a metric that only cases left unselected declare
    (``-k``, ``--lf``, another shard's) is not checked. Failing it read "cannot be evaluated"
    and failed a run over the cases the user chose, where a suite deselected whole reads "not
    checked". A metric a selected case declares but could not score still fails its gate."""
    if all(case.id in ran or case.id in accounted for case in suite.cases):
        return list(suite.spec.gates), []  # every case ran or is accounted for: all checked
    declared_by_ran: set[str] = set()
    declared_elsewhere: set[str] = set()
    for case in suite.cases:
        names = {m.name for m in suite.metrics_for(case)}
        if case.id in ran:
            declared_by_ran |= names
        elif case.id not in accounted:
            declared_elsewhere |= names
    checked: list[GateSpec] = []
    unchecked: list[GateSpec] = []
    for gate in suite.spec.gates:
        gone = gate.metric in declared_elsewhere - declared_by_ran
        (unchecked if gone else checked).append(gate)
    return checked, unchecked


def _regression_margin(suite: Suite | None, settings: RunSettings) -> float:
    spec_margin = suite.spec.regression_margin if suite else None
    if spec_margin is not None:
        return float(spec_margin)
    return float(settings.regression_margin or 0.0)


def _regression_metrics(suite: Suite | None, settings: RunSettings) -> list[str] | None:
    if suite is not None and suite.spec.regression_metrics is not None:
        return list(suite.spec.regression_metrics)
    return list(settings.regression_metrics) if settings.regression_metrics else None


def _compare(run: RunResults, baseline: RunResults, settings: RunSettings) -> None:
    """Paired comparison with the baseline under the one regression rule (the same
    function ``mleval compare`` calls), one regression gate per compared suite."""
    from .compare import regression_check

    comparison, gates = regression_check(
        baseline, run, confidence=settings.confidence, seed=settings.seed
    )
    run.comparison = comparison.model_dump(mode="json")
    run.gates.extend(gates)


def _compare_variants(
    run: RunResults,
    by_suite: Mapping[str, list[CaseResult]],
    suites: Mapping[str, Suite],
    settings: RunSettings,
) -> list[str]:
    """Suites with ``compare_to:`` are compared with that suite, paired by case id."""
    from .compare import compare_runs

    notes = []
    for name, suite in suites.items():
        other = suite.spec.compare_to
        if not other or name not in by_suite:
            continue
        if other not in by_suite:
            notes.append(f"suite {name!r}: compare_to {other!r} did not run in this session")
            continue
        # Both sides under one suite name, so cases pair by id.
        base = RunResults(cases=[c.model_copy(update={"suite": name}) for c in by_suite[other]])
        cand = RunResults(cases=by_suite[name])
        # Not a gate: the two suites are compared for the reader, nothing fails on it.
        comparison = compare_runs(
            base, cand, confidence=settings.confidence, seed=settings.seed, gating={name: ()}
        )
        data = comparison.model_dump(mode="json")
        data["baseline_suite"] = other
        data["candidate_suite"] = name
        run.variants.append(data)
    return notes
