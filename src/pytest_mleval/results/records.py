"""Result records and the results file (``mleval-results.json``).

Everything written to or read from disk is a pydantic model, so the file has a JSON Schema
(``mleval schema results``) and a version that readers check.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..cases.schema import PASS_RATE
from ..conversation.trajectory import Trajectory
from ..errors import ResultsFileError
from ..targets.registry import STREAM_TIMINGS
from .safety_records import SafetySummary
from .variant_records import (
    VariantEstimate,
    VariantPair,
    VariantRank,
    VariantSet,
    VariantUsage,
    VariantVerdict,
    VariantWinRate,
)

__all__ = [
    "PASS_RATE",
    "RESULTS_FILE",
    "SCHEMA_VERSION",
    "STREAM_TIMINGS",
    "Aggregate",
    "CallUse",
    "CaseResult",
    "CollectionError",
    "GateResult",
    "ImageRecord",
    "MetricScore",
    "RunMeta",
    "RunResults",
    "SequentialInfo",
    "ShardInfo",
    "SuiteInfo",
    "Usage",
    "VariantEstimate",
    "VariantPair",
    "VariantRank",
    "VariantSet",
    "VariantUsage",
    "VariantVerdict",
    "VariantWinRate",
    "incomplete_reasons",
    "load_results",
    "metric_kind",
    "not_run_text",
    "run_status",
    "write_results",
]

RESULTS_FILE = "mleval-results.json"
"""The results file's name in a report directory."""

SCHEMA_VERSION = 1
"""Version of the results file layout; bumped on incompatible changes."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MetricScore(_Model):
    """One metric's outcome for one case (one repeat)."""

    score: float | None = None
    """The score (in [0, 1] except raw measures); ``None`` when it errored or was skipped."""
    threshold: float | None = None
    """Minimum score to pass, if any."""
    max: float | None = None
    """Maximum value to pass, if any."""
    passed: bool | None = None
    """Whether the metric passed; ``None`` for informational metrics without a threshold."""
    weight: float = 1.0
    """Weight in the weighted pass rule."""
    explanation: str | None = None
    """Why the score is what it is (e.g. the missing substring, a judge's reasoning)."""
    error: str | None = None
    """The metric's error, when it failed to score (the case then fails)."""
    skipped: str | None = None
    """Why the metric was not computed (e.g. no judge model configured)."""
    data: dict[str, Any] | None = None
    """Extra structured data (e.g. per-claim verdicts)."""
    metric: str | None = None
    """The metric behind this score when its entry has a ``name:`` label (None: the key)."""

    def why_unscored(self) -> str | None:
        """Why there is no score (``skipped: ...`` or ``error: ...``); ``None`` when scored."""
        if self.score is not None:
            return None
        if self.skipped:
            return f"skipped: {self.skipped}"
        return f"error: {self.error}" if self.error else None


class Usage(_Model):
    """Token usage of the model calls behind one output."""

    prompt_tokens: int = 0
    """Tokens in the prompt."""
    completion_tokens: int = 0
    """Tokens generated."""
    total_tokens: int = 0
    """Sum of both."""


class CallUse(_Model):
    """One model's calls behind a case: its metrics' (judges, API embedders) or its target's."""

    calls: int = 0
    """Calls answered (from the provider or the cache)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    """Their cost as priced (a cached answer's as recorded, as for a target's)."""
    cached: int = 0
    """Of the calls, those answered from the cache (or by an identical call made before)."""
    retries: int = 0
    """Provider attempts beyond the first, failed calls' included."""
    latencies_ms: list[float] = Field(default_factory=list)
    """Wall time of each answered call."""
    unpriced: int = 0
    """Of the calls, those to a model with no price (counted as $0 in ``cost_usd``)."""


class ImageRecord(_Model):
    """One image a case sent."""

    source: str
    """The path (relative to the eval file) or the start of the data URL, as written."""
    mime: str
    """Its type (``image/png``...)."""
    sha256: str
    """SHA-256 (hex) of its bytes."""
    size: int
    """Its size in bytes."""
    data_url: str | None = None
    """The image as a data URL, when small enough to keep (the report's thumbnail)."""


class CaseResult(_Model):
    """The result of one case (one repeat)."""

    suite: str
    """Suite name (``SUITE[VARIANT]`` for a variant's case)."""
    variant: str | None = None
    """The variant the case ran in (its suite is then ``SUITE[VARIANT]``)."""
    case_id: str
    """Case id, unique in the suite."""
    repeat: int = 0
    """Repeat index (0-based)."""
    nodeid: str = ""
    """The pytest node id."""
    file: str | None = None
    """The eval file (or test file) the case came from."""
    input: Any = None
    """The case input."""
    prompt: str | None = None
    """The rendered prompt, for model targets."""
    output: str | None = None
    """What the target produced (its start only when ``output_chars`` is set)."""
    output_chars: int | None = None
    """Full length of an output too long to store whole (``mleval_max_output_chars``)."""
    output_sha256: str | None = None
    """SHA-256 (hex, of the UTF-8 text) of an output stored truncated."""
    expected: Any = None
    """The reference, if any."""
    context: list[str] = Field(default_factory=list)
    """Context passages (given or retrieved)."""
    retrieved: list[str] = Field(default_factory=list)
    """Ids of retrieved documents, in rank order."""
    scores: dict[str, MetricScore] = Field(default_factory=dict)
    """Metric name -> outcome."""
    passed: bool = False
    """Whether the case passed (never true for an errored case)."""
    error: str | None = None
    """Why the case could not be scored (target error, timeout, budget), with the error type."""
    not_needed: bool = False
    """Not run: its suite ran sequentially and was decided before this case (never a pass)."""
    skipped: str | None = None
    """Why its target (or a fixture) skipped it (``pytest.skip``): not run, never a pass, and
    counted in its suite's ``SuiteInfo.skipped``, not in the statistics."""
    run_order: int | None = None
    """Its place in a sequential suite's seeded random order (the order its statistics use,
    whatever order the results arrived in)."""
    tags: list[str] = Field(default_factory=list)
    """Tags of the case."""
    cluster: str | None = None
    """Cluster key for clustered standard errors."""
    latency_ms: float | None = None
    """Wall time of the target call."""
    ttft_ms: float | None = None
    """Time to first token of a streamed model call (ms); an answer from the cache carries
    its recorded call's (``cached`` says so)."""
    itl_ms: float | None = None
    """Mean time between the content chunks of a streamed call after the first (ms)."""
    output_tokens_per_s: float | None = None
    """Completion tokens per second of a streamed call, from its first token to its last."""
    usage: Usage = Field(default_factory=Usage)
    """Tokens used."""
    cost_usd: float | None = None
    """Cost of the target call."""
    metric_calls: dict[str, CallUse] = Field(default_factory=dict)
    """Model -> the calls the case's metrics made (judges, API embedders): the run's usage
    counts them with the target's."""
    target_calls: dict[str, CallUse] = Field(default_factory=dict)
    """Model -> the target's calls, where it used more than one model (a RAG pipeline's
    generator and query embedder): ``usage`` and ``cost_usd`` are their sums, and each model
    has its row in the run's usage from these."""
    model: str | None = None
    """The model that answered (a fallback's name when one was used)."""
    cached: bool = False
    """Whether the output came from the cache."""
    retries: int = 0
    """Retries spent on the target call."""
    fallback_used: str | None = None
    """The fallback model that answered, if any."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form data from the case and the target."""
    messages: list[dict[str, Any]] | None = None
    """The case's conversation as sent (``messages:`` cases), images shown as references
    into ``images``."""
    images: list[ImageRecord] = Field(default_factory=list)
    """The case's images: source, type, size, SHA-256 (and the data of a small one)."""
    trajectory: Trajectory | None = None
    """What the target did turn by turn: every message, each tool call with its arguments,
    result or error, each model call's latency and tokens (tool-using and conversation cases,
    and targets that return ``messages``)."""

    @property
    def errored(self) -> bool:
        """Whether the case could not be scored: its target failed or a metric raised.

        A judge whose provider is down or a metric that raised says nothing about the output,
        so such a case is errored, never "failed" (its output was not judged wrong).
        """
        return self.error is not None or any(s.error is not None for s in self.scores.values())


class Aggregate(_Model):
    """A suite-level statistic with its confidence interval."""

    suite: str
    """Suite name."""
    metric: str
    """Metric name, or ``pass_rate``."""
    estimate: float
    """Point estimate."""
    ci_low: float
    """Lower confidence bound."""
    ci_high: float
    """Upper confidence bound."""
    n: int
    """Number of cases (repeats averaged first)."""
    method: str
    """How the interval was computed (and why, for degenerate inputs)."""
    confidence: float = 0.95
    """Confidence level of the interval."""
    note: str | None = None
    """Anything a reader should know (skipped cases, errors)."""


class GateResult(_Model):
    """The outcome of one gate."""

    suite: str
    """Suite name."""
    metric: str
    """Gated metric."""
    stat: str
    """Statistic gated."""
    on: str
    """``estimate``, ``ci_low`` or ``ci_high``."""
    min: float | None = None
    """Lower bound of the gate."""
    max: float | None = None
    """Upper bound of the gate."""
    value: float | None = None
    """The gated value (the estimate or a bound)."""
    estimate: float | None = None
    """The point estimate."""
    ci_low: float | None = None
    """Lower confidence bound."""
    ci_high: float | None = None
    """Upper confidence bound."""
    passed: bool
    """Whether the gate held."""
    message: str
    """Human-readable outcome."""


class SequentialInfo(_Model):
    """A sequential suite's run: when its verdicts were decided and what that saved."""

    cases: int
    """Cases in the suite (repeats counted once)."""
    run: int
    """Cases run (their results scored)."""
    not_needed: int
    """Cases not run because the suite was already decided."""
    not_needed_ids: list[str] = Field(default_factory=list)
    """Their ids (they have no result: never run, never a pass)."""
    decided_after: int | None = None
    """Cases run when every gate and the regression verdict were decided (``None``: never)."""
    reason: str = ""
    """What decided it, or why it could not be decided early."""
    calls_saved: int = 0
    """Model calls not made (the run's mean calls per case times the cases not needed)."""
    cost_saved_usd: float = 0.0
    """Cost not spent, estimated the same way."""


class SuiteInfo(_Model):
    """What a suite is."""

    name: str
    """Suite name."""
    file: str | None = None
    """Eval file."""
    description: str | None = None
    """Suite description."""
    target: str | None = None
    """Target spec."""
    n_cases: int = 0
    """Cases run (repeats counted once)."""
    skipped: dict[str, str] = Field(default_factory=dict)
    """Case id -> why its target skipped it (``pytest.skip``): not run, never a pass, not in
    the statistics; a suite with no case left to run fails its gates."""
    not_run: int = 0
    """Cases of the suite's file that have no result in this run: not selected (``-k``, ``-m``,
    ``--lf``, ``--deselect``, another shard's) or never reached (``-x``, an interrupt). Its
    statistics and gates cover the ``n_cases`` that ran; a sequential suite's cases it did not
    need are counted in ``sequential``, not here."""
    repeats_not_run: int = 0
    """Repeats of the cases that ran (``n_cases``) with no result in this run: a case run on
    1 of its 3 repeats (``-k r1``, ``--lf``) is not the whole case."""
    repeats: int = 1
    """Repeats of each case the run asked for (the suite's ``repeats:`` or the flag's)."""
    unchecked_gates: int = 0
    """Gates of a suite none of whose cases was selected: not checked (neither passed nor
    failed), so the run reads "passed on part of its suites", never "passed". So are a
    partly selected suite's gates on metrics that only its unselected cases declare."""
    unchecked_metrics: list[str] = Field(default_factory=list)
    """The metrics of those gates of a partly selected suite (empty for one not selected)."""
    regression_margin: float | None = None
    """Non-inferiority margin of the regression gate in effect for this suite."""
    regression_metrics: list[str] | None = None
    """Metrics whose regression fails the run (None: the default rule, every metric in both
    runs but raw measures such as latency and cost)."""
    sequential: SequentialInfo | None = None
    """How a sequential suite ended: decided early, or every case run."""
    variant: str | None = None
    """The variant this suite runs (its name is then ``VARIANT_OF[VARIANT]``)."""
    variant_of: str | None = None
    """The suite it is a variant of."""

    @property
    def missing(self) -> int:
        """Cases of the suite's file without a result here: not run, or skipped."""
        return self.not_run + len(self.skipped)


class CollectionError(_Model):
    """A file (or node) that could not be collected: its cases did not run."""

    nodeid: str
    """pytest's node id of what failed to collect."""
    file: str
    """The file of the problem, relative to the rootdir: the eval file, or its dataset."""
    line: int | None = None
    """Line of the problem, when known."""
    message: str
    """What went wrong (the collection error's text)."""

    @property
    def collected(self) -> str:
        """The file that failed to collect (the eval file also for an error in its dataset)."""
        return self.nodeid.split("::", 1)[0] or self.file

    @property
    def where(self) -> str:
        """``file:line``, or the file when the line is unknown."""
        return self.file if self.line is None else f"{self.file}:{self.line}"


class ShardInfo(_Model):
    """One shard of a sharded run (``--mleval-shard I/N``): which, and what must agree.

    Shards merge only when their ``count``, ``fingerprint`` and commit agree; each index once.
    """

    index: int
    """This shard's number, 1 to ``count``."""
    count: int
    """How many shards the run was split into."""
    fingerprint: str
    """SHA-256 over ``files`` and ``options``: equal for shards of one run."""
    files: dict[str, str] = Field(default_factory=dict)
    """Every eval file collected (relative to ``root``) -> SHA-256 of its bytes."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The options that change results (model, seed, confidence, repeats...), by flag name."""
    root: str = ""
    """The rootdir the shard ran in (case files are below it)."""
    baseline_sha256: str | None = None
    """SHA-256 of the ``--mleval-baseline`` file, when one was given."""
    selected: int = 0
    """Items this shard ran."""
    deselected: int = 0
    """Items left to the other shards."""
    positions: dict[str, int] = Field(default_factory=dict)
    """Node id of each item this shard ran -> its place in the whole collection (the order
    an unsharded run reports cases in; ``mleval merge`` restores it)."""


class Rebase(_Model):
    """A stored run compared, after it ran, with another baseline (``mleval report
    --baseline``): its exit status is its own, its regression gates that baseline's."""

    regressions_failed: int = 0
    """Regression gates that failed against the baseline given after the run."""
    own_regressions_failed: int = 0
    """Regression gates that failed against the run's own baseline when it ran."""


class RunMeta(_Model):
    """Metadata of a run."""

    tool_version: str = ""
    """pytest-mleval version."""
    started_at: str = ""
    """ISO 8601 start time (UTC)."""
    finished_at: str = ""
    """ISO 8601 end time (UTC)."""
    duration_s: float = 0.0
    """Wall time of the session."""
    git_sha: str | None = None
    """Commit of the working tree, if in a git repository."""
    git_branch: str | None = None
    """Branch, if any."""
    python: str = ""
    """Python version."""
    platform: str = ""
    """Operating system and machine."""
    models: list[str] = Field(default_factory=list)
    """Models used by targets."""
    flags: dict[str, Any] = Field(default_factory=dict)
    """The mleval options in effect."""
    seed: int = 0
    """Seed for sampling, bootstrap and permutation tests."""
    exit_status: int | None = None
    """pytest's exit status (after gates: the status the run ended with)."""
    incomplete: list[str] = Field(default_factory=list)
    """Why the run is incomplete (files not collected, cases not run, an interruption);
    empty for a complete run."""
    shard: ShardInfo | None = None
    """The shard this run was (``--mleval-shard I/N``); ``None`` for a whole run."""
    merged_from: list[ShardInfo] = Field(default_factory=list)
    """The shards ``mleval merge`` combined into this run (empty for a run that ran)."""
    rebased: Rebase | None = None
    """Set on a copy compared with a baseline after it ran (never stored by a run)."""


class RunResults(_Model):
    """The whole results file."""

    schema_version: int = SCHEMA_VERSION
    """Layout version of this file."""
    kind: Literal["mleval-results"] = "mleval-results"
    """Marks the file as pytest-mleval results."""
    meta: RunMeta = Field(default_factory=RunMeta)
    """Run metadata."""
    suites: list[SuiteInfo] = Field(default_factory=list)
    """Suites in the run."""
    cases: list[CaseResult] = Field(default_factory=list)
    """Per-case (per-repeat) results."""
    aggregates: list[Aggregate] = Field(default_factory=list)
    """Suite-level statistics."""
    gates: list[GateResult] = Field(default_factory=list)
    """Gate outcomes."""
    comparison: dict[str, Any] | None = None
    """Paired comparison against a baseline, when one was given."""
    usage: dict[str, Any] = Field(default_factory=dict)
    """Totals of tokens, cost and latency per suite and per model."""
    variants: list[dict[str, Any]] = Field(default_factory=list)
    """Paired comparisons between suites of this run (``compare_to:``), one per pair."""
    variant_sets: list[VariantSet] = Field(default_factory=list)
    """Per suite with ``variants:`` or ``matrix:``: its variants compared."""
    collection_errors: list[CollectionError] = Field(default_factory=list)
    """Files that could not be collected (their cases are missing from this run)."""
    safety: SafetySummary | None = None
    """Safety probes: attack success rates per suite and family, and their paired
    comparisons with the baseline and between variants (``None``: no probe case ran)."""


def metric_kind(cases: Iterable[CaseResult], name: str) -> str:
    """The metric a score key stands for: the labelled entry's metric, else the key itself.

    Args:
        cases: Results holding scores under ``name``.
        name: A score key (a metric name or a ``name:`` label).

    Returns:
        The metric name, so a labelled ``latency_ms`` is still known as a raw measure.
    """
    for c in cases:
        score = c.scores.get(name)
        if score is not None:
            return score.metric or name
    return name


def incomplete_reasons(run: RunResults) -> list[str]:
    """Why a run is incomplete (empty for a complete one), also for results assembled
    elsewhere than in a pytest session (which may carry collection errors but no reasons)."""
    reasons = list(run.meta.incomplete)
    if run.collection_errors and not reasons:
        reasons.append(f"{len(run.collection_errors)} file(s) could not be collected")
    return reasons


def run_status(run: RunResults) -> tuple[str, str]:
    """The run's verdict for people, derived from pytest's exit status and completeness.

    Every output (terminal, Markdown, HTML, history) shows this one verdict, so none can say
    "passed" for a run that pytest failed.

    Args:
        run: The run's results.

    Returns:
        ``(status, text)``: status is ``passed``, ``partial`` (what ran passed, but some cases
        of its suites did not run), ``failed`` or ``incomplete``; text is a short headline
        saying why.
    """
    exit_status = run.meta.exit_status
    failed_gates = sum(1 for g in run.gates if not g.passed)
    why = []
    if failed_gates:
        why.append(f"{failed_gates} gate(s) failed")
    # A case is errored if any repeat could not be scored: "failed" would say its output was
    # judged wrong, when the target, provider or budget stopped it.
    errored = {(c.suite, c.case_id) for c in run.cases if c.errored}
    n_failed = len({(c.suite, c.case_id) for c in run.cases if not c.passed} - errored)
    if n_failed:
        why.append(f"{n_failed} case(s) failed")
    if errored:
        why.append(f"{len(errored)} case(s) errored")
    reasons = incomplete_reasons(run)
    if reasons:
        text = "incomplete: " + "; ".join(reasons + why)
        if exit_status:
            text += f" (exit status {exit_status})"
        return "incomplete", text
    part = not_run_text(run)
    shard = run.meta.shard
    if shard is not None:
        # The cases not run here are the other shards'; the merge has the run's verdict.
        part = f"shard {shard.index}/{shard.count}: its gates are decided by `mleval merge`"
    # Results assembled outside a pytest session carry no exit status: a failed case there
    # fails the run. Under pytest, exit status 0 beside a failed case means pytest expected
    # the failure (xfail); the run passed, and its headline says what failed.
    cases_failed = bool(n_failed or errored)
    if exit_status not in (0, None) or failed_gates or (exit_status is None and cases_failed):
        detail = "; ".join([*why, part] if part else why) or _unstated_failure(run)
        return "failed", f"failed: {detail}{_exit_text(run)}"
    expected = f" ({'; '.join(why)}, as expected by pytest)" if cases_failed else ""
    gone = len((run.comparison or {}).get("only_in_baseline") or [])
    if gone:
        # Cases deleted since the baseline are compared with nothing: a run that dropped 17
        # of its 20 cases must not read a plain "passed".
        expected += f" ({gone} case(s) of the baseline are not in this run)"
    if part:
        # What pytest ran passed, but a gate over 2 of 3 cases is not the suite's verdict.
        return "partial", f"passed on part of its suites: {part}{expected}"
    return "passed", f"passed{expected}"


def _unstated_failure(run: RunResults) -> str:
    rebased = run.meta.rebased
    if rebased is not None and rebased.own_regressions_failed:
        # Its own regression gates were replaced by the later baseline's, which passed.
        return (
            f"{rebased.own_regressions_failed} regression gate(s) failed against the run's own "
            "baseline when it ran; none against the baseline given after the run"
        )
    return "pytest reported failures"


def _exit_text(run: RunResults) -> str:
    exit_status = run.meta.exit_status
    rebased = run.meta.rebased
    if exit_status is None:
        return ""
    if rebased is None:
        return f" (exit status {exit_status})"
    # The gates are the later baseline's and the exit status the run's own: "1 gate(s)
    # failed (exit status 0)" read as a contradiction.
    if rebased.regressions_failed:
        return f" (against the baseline given after the run; the run itself exited {exit_status})"
    return f" (the run itself exited {exit_status})"


def not_run_text(run: RunResults) -> str:
    """How many cases (and repeats of the cases that ran) of the run's suites have no result
    (``""`` when everything ran)."""
    return "; ".join(t for t in (_cases_not_run(run), _repeats_not_run(run)) if t)


def _cases_not_run(run: RunResults) -> str:
    part = [s for s in run.suites if s.missing]
    if not part:
        return ""
    gone = sum(s.missing for s in part)
    total = sum(s.missing + s.n_cases for s in part)
    if len(part) == 1:
        return f"{gone} of {total} cases of suite {part[0].name} not run"
    each = ", ".join(f"{s.name}: {s.missing} of {s.missing + s.n_cases}" for s in part)
    return f"{gone} of {total} cases of {len(part)} suites not run ({each})"


def _repeats_not_run(run: RunResults) -> str:
    part = [s for s in run.suites if s.repeats_not_run]
    if not part:
        return ""
    gone = sum(s.repeats_not_run for s in part)
    total = sum(s.n_cases * s.repeats for s in part)
    if len(part) == 1:
        return f"{gone} of {total} repeats of suite {part[0].name} not run"
    each = ", ".join(f"{s.name}: {s.repeats_not_run} of {s.n_cases * s.repeats}" for s in part)
    return f"{gone} of {total} repeats of {len(part)} suites not run ({each})"


def write_results(path: str | Path, run: RunResults) -> Path:
    """Write the results file atomically (a reader never sees a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = run.model_dump_json(indent=2)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mleval-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _token_line(text: str, token: str) -> str:
    """``" (line N)"`` of the first bare ``token`` in JSON ``text`` (not inside a string)."""
    import re

    line, in_string, escaped = 1, False, False
    pattern = re.compile(re.escape(token))
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        elif in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == token[0] and pattern.match(text, i):
            return f" (line {line})"
    return ""


def load_results(path: str | Path) -> RunResults:
    """Read a results file, checking that it is one and that its version is supported.

    Raises:
        ResultsFileError: missing, unreadable, not JSON, not a results file, or another version.
    """
    path = Path(path)

    def non_finite(token: str) -> Any:
        # Python's json reads NaN and Infinity, which JSON has not: a baseline score of NaN
        # then failed the run at its end ("must be finite"), after every case had run.
        raise ResultsFileError(
            f"{path}{_token_line(text, token)} holds {token}, which is not a JSON number: "
            "every score in a results file must be finite (was it edited by hand?)"
        )

    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text, parse_constant=non_finite)
    except FileNotFoundError:
        raise ResultsFileError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"cannot read results file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultsFileError(
            f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}; is it truncated?"
        ) from None
    if not isinstance(raw, dict) or raw.get("kind") != "mleval-results":
        raise ResultsFileError(f"{path} is not a pytest-mleval results file")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ResultsFileError(
            f"{path} has results schema version {version!r}; this pytest-mleval reads version "
            f"{SCHEMA_VERSION}"
        )
    try:
        return RunResults.model_validate(raw)
    except ValidationError as exc:
        raise ResultsFileError(f"{path} does not match the results schema: {exc}") from None
