"""The ``pairwise`` judge between a suite's variants (``judge_variants:``), at the end of a run.

For every case, repeat and compared pair of variants (each against ``reference:`` when the
suite has one, else every pair) the judge model is shown both variants' outputs and asked which
is better, in both orders: a variant wins a case only when the judge prefers it both times,
otherwise it is a tie (position bias cancels). The prompt and the verdict parsing are
``pairwise``'s own (:func:`.rubric._pairwise_verdict`); calls go through the backend the
session gives (the run's inference engine: cached, replayable, budgeted). The verdicts become
win rates and a Bradley-Terry ranking in :func:`..results.variant_judging.attach_judgements`.

Nothing is ever made up: without a judge model, or where a case of a variant errored or a
verdict could not be had, the judgements are missing and the suite's notes say why.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError

from ..errors import MlevalError
from ..fields import Count
from ..results.variant_judging import PairJudgement, Winner, attach_judgements, judged_pairs
from .backend import JudgeBackend, JudgeModelOptions, _text
from .rubric import (
    _PAIRWISE_CRITERIA,
    _PAIRWISE_TRAJECTORY_CRITERIA,
    Over,
    _both_orders,
    _pairwise_verdict,
)

if TYPE_CHECKING:
    from ..cases.schema import SuiteSpec
    from ..cases.suite import Suite
    from ..results.records import CaseResult, RunResults, VariantSet

__all__ = ["VariantJudgeOptions", "judge_run_variants", "judge_variant_set"]


class VariantJudgeOptions(JudgeModelOptions):
    """Options of a suite's ``judge_variants:`` (``pairwise`` between its variants)."""

    criteria: str = _PAIRWISE_CRITERIA
    """What makes one variant's answer better than the other's."""
    over: Over = "output"
    """What is compared: the outputs, or the agents' whole ``trajectory``."""
    samples: Count = Field(default=1, ge=1)
    """Judge each pair this many times (distinct seeds); every sample is one judgement, and a
    case's judgements are averaged before any interval (which counts cases)."""


def _judged_text(case: CaseResult, over: str) -> str | None:
    """What the judge reads of a variant's case: its output, or its trajectory's transcript."""
    from ..conversation.trajectory import transcript

    if case.error is not None:
        return None
    if over == "trajectory":
        return None if case.trajectory is None else transcript(case.trajectory)
    return case.output


def judge_variant_set(
    variant_set: VariantSet,
    cases: Sequence[CaseResult],
    options: VariantJudgeOptions,
    backend: JudgeBackend,
    *,
    workers: int = 8,
) -> tuple[list[PairJudgement], list[str]]:
    """The judge's verdicts between the variants of one suite, case by case.

    Args:
        variant_set: The suite's variants (``variants``, ``reference``: which pairs).
        cases: The run's results of the variants' suites (``SUITE[VARIANT]``).
        options: The suite's ``judge_variants:``.
        backend: The judge model.
        workers: Judgements asked at once (the engine's own limits apply as well).

    Returns:
        ``(judgements, notes)``: one judgement per case, repeat, sample and pair that both
        variants answered; the notes say what could not be judged.
    """
    from ..cases.variants import variant_suite_name

    trajectories = options.over == "trajectory"
    criteria = options.criteria
    if trajectories and criteria == _PAIRWISE_CRITERIA:
        criteria = _PAIRWISE_TRAJECTORY_CRITERIA
    by_variant: dict[str, dict[tuple[str, int], CaseResult]] = {}
    for v in variant_set.variants:
        name = variant_suite_name(variant_set.suite, v)
        by_variant[v] = {(c.case_id, c.repeat): c for c in cases if c.suite == name}
    tasks: list[tuple[str, str, str, int, int, list[str], str, str]] = []
    missing = 0
    for a, b in judged_pairs(variant_set.variants, variant_set.reference):
        for key in sorted(by_variant[a].keys() & by_variant[b].keys()):
            ca, cb = by_variant[a][key], by_variant[b][key]
            ta, tb = _judged_text(ca, options.over), _judged_text(cb, options.over)
            if ta is None or tb is None:
                missing += 1
                continue
            # A trajectory holds its conversation, so the input is not shown besides.
            question = [] if trajectories else [_text(ca.input)]
            for k in range(options.samples):
                tasks.append((a, b, key[0], key[1], k, question, ta, tb))

    def judge(task: tuple[str, str, str, int, int, list[str], str, str]) -> PairJudgement:
        a, b, case_id, repeat, k, question, ta, tb = task
        seed = k if options.samples > 1 else None

        def ask(first: str, second: str) -> str:
            return _pairwise_verdict(
                backend,
                criteria,
                question,
                first,
                second,
                trajectories=trajectories,
                reasks=options.reasks,
                seed=seed,
            )

        orders = (ask(ta, tb), ask(tb, ta))  # a shown first, then b first
        score = _both_orders(*orders)
        winner: Winner = "a" if score == 1.0 else "b" if score == 0.0 else "tie"
        return PairJudgement(case_id, a, b, winner, repeat=repeat, orders=orders, sample=k)

    judgements: list[PairJudgement] = []
    failures: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        # Each judgement in a copy of the caller's context: the calls count in its meter.
        futures = [pool.submit(contextvars.copy_context().run, judge, t) for t in tasks]
        for task, fut in zip(tasks, futures, strict=True):
            try:
                judgements.append(fut.result())
            except MlevalError as exc:
                failures.append(f"{task[2]} ({task[0]} vs {task[1]}): {exc}")
    notes = []
    if missing:
        notes.append(
            f"judge: {missing} case(s) of a compared pair not judged: a variant's case errored "
            + ("or has no trajectory" if trajectories else "or has no output")
        )
    if failures:
        notes.append(
            f"judge: {len(failures)} of {len(tasks)} judgement(s) failed and are left out "
            f"(first: {failures[0]})"
        )
    return judgements, notes


def _varied_spec(
    variant_set: VariantSet, run: RunResults, suites: Mapping[str, Suite]
) -> SuiteSpec | None:
    """The spec of the suite a variant set varies: a collected variant suite's, else read back
    from its eval file (an xdist controller collects nothing)."""
    from ..cases.suite import load_suite
    from ..cases.variants import variant_suite_name

    names = [variant_suite_name(variant_set.suite, v) for v in variant_set.variants]
    for name in names:
        if name in suites:
            return suites[name].spec
    files = {s.file for s in run.suites if s.name in names and s.file}
    files |= {c.file for c in run.cases if c.suite in names and c.file}
    for f in sorted(files):
        path = Path(f)
        if not path.exists():
            continue
        try:
            suite = load_suite(path)
        except MlevalError:
            continue
        if suite.name == variant_set.suite:
            return suite.spec
    return None


def judge_run_variants(
    run: RunResults,
    *,
    suites: Mapping[str, Suite],
    factory: Callable[[str], JudgeBackend] | None,
    default_model: str | None,
    confidence: float = 0.95,
    seed: int = 0,
    workers: int = 8,
) -> list[str]:
    """Judge the variants of every suite with ``judge_variants:`` and fill in its win rates and
    ranking (``run.variant_sets`` is updated in place).

    Args:
        run: The assembled run (its ``variant_sets`` and ``cases``).
        suites: The suites collected in this process, by name.
        factory: Model id -> judge backend (``None``: no backend, judging is skipped).
        default_model: ``--mleval-judge-model`` (it wins over the suite's ``judge_model:``;
            ``judge_variants: {model: ...}`` over both).
        confidence: Confidence level of the intervals.
        seed: Seed of the ranking's bootstrap.
        workers: Judgements asked at once.

    Returns:
        Problems the run should report besides the suites' notes (a ``judge_variants:`` that
        cannot be read).
    """
    errors: list[str] = []
    for i, vs in enumerate(run.variant_sets):
        spec = _varied_spec(vs, run, suites)
        if spec is None or spec.judge_variants is None:
            continue
        try:
            options = VariantJudgeOptions.model_validate(spec.judge_variants)
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}"
                for e in exc.errors()
            )
            message = f"suite {vs.suite!r}: `judge_variants:` cannot be read ({problem})"
            errors.append(message)
            run.variant_sets[i] = vs.model_copy(update={"notes": [*vs.notes, message]})
            continue
        model = options.model or default_model or spec.judge_model
        skip = None
        if len(vs.variants) < 2:
            skip = "judge: skipped, fewer than two variants ran"
        elif not model:
            skip = (
                "judge: skipped, no judge model configured (--mleval-judge-model, ini "
                "mleval_judge_model, `judge_model:` in the suite, or `model:` in "
                "`judge_variants:`)"
            )
        elif factory is None:
            skip = "judge: skipped, no judge backend in this run"
        if skip is not None:
            run.variant_sets[i] = vs.model_copy(update={"notes": [*vs.notes, skip]})
            continue
        assert factory is not None and model  # narrowed by the checks above
        judgements, notes = judge_variant_set(
            vs, run.cases, options, factory(str(model)), workers=workers
        )
        judged = vs.model_copy(update={"notes": [*vs.notes, *notes]})
        run.variant_sets[i] = attach_judgements(
            judged, judgements, confidence=confidence, seed=seed
        )
    return errors
