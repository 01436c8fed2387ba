"""Eval-file collection: each case (each repeat) becomes a pytest item."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .cases.suite import Suite, load_suite
from .context import CASE_PROPERTY, SESSION_KEY
from .errors import EvalFileError, MlevalError
from .metrics.registry import Scored, unknown_metric_problem
from .options import get_options
from .report.escaping import term_text
from .targets.bounds import TemplateLimits
from .targets.registry import EvalCase, TargetOutput
from .targets.render import render_case

if TYPE_CHECKING:
    # TerminalRepr, the return type of repr_failure, is not exported by pytest.
    from _pytest._code.code import TerminalRepr

    from .results.records import CaseResult
    from .session import MlevalSession

__all__ = ["EvalFile", "EvalFileWarning", "EvalItem", "EvalSuite"]


def score_metered(
    ec: EvalCase, out: TargetOutput, **kwargs: Any
) -> tuple[CaseResult, list[Scored]]:
    """:func:`.results.scoring.score_case`, with the model calls its metrics make (judges,
    API embedders) counted in the record's ``metric_calls``: the run's usage counts them."""
    from .inference.metering import metering
    from .results.records import CallUse
    from .results.scoring import score_case

    with metering() as meter:
        result, scored = score_case(ec, out, **kwargs)
    result.metric_calls = {m: CallUse(**use) for m, use in meter.as_dict().items()}
    return result, scored


class EvalFileWarning(pytest.PytestWarning):
    """An eval file loads but will not do what its author likely meant (e.g. no cases)."""


class EvalFile(pytest.File):
    """An eval YAML file."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        suite = load_suite(self.path, known_metric=unknown_metric_problem)
        for field_name in ("prompt", "system"):
            template = getattr(suite.spec, field_name)
            if not template:
                continue
            from .targets.templates import check_template

            problem = check_template(template)
            if problem:
                raise EvalFileError(problem, path=str(self.path), field=field_name)
        if not suite.cases:
            # An empty file (or one whose cases were all forgotten) would otherwise pass as
            # 0 cases without a word.
            self._warn_no_cases(suite)
        if suite.spec.judge_variants is not None:
            _check_judge_variants(suite)
        only = get_options(self.config).variant_filter()
        runs = suite.expand(only)
        if suite.variants and not runs:
            self.warn(
                EvalFileWarning(
                    f"suite {suite.name!r} in {self.nodeid}: --mleval-variants selects none "
                    f"of its variants ({', '.join(v.name for v in suite.variants)})"
                )
            )
        session = _session(self.config)
        for run in runs:
            other = session.suites.get(run.name)
            if other is not None and other.path.resolve() != suite.path.resolve():
                # One name, two files: their cases were averaged per id as repeats of one
                # suite, with the first file's gates and settings.
                from .cases.suite import line_of

                raise EvalFileError(
                    f"suite {run.name!r} is also the suite of {other.path}: give each eval "
                    "file its own `suite:` name",
                    path=str(self.path),
                    line=line_of(self.path, ("suite",)),
                    field="suite",
                )
        for run in runs:
            session.register_suite(run)
        yield EvalSuite.from_parent(self, name=suite.name, suite=suite, runs=runs)

    def _warn_no_cases(self, suite: Suite) -> None:
        """Warn that the file runs nothing, and why: no cases given, or datasets without rows."""
        import warnings

        from .cases.suite import line_of

        given = suite.spec.dataset
        datasets = given if isinstance(given, list) else [] if given is None else [given]
        paths = [repr(d if isinstance(d, str) else d.path) for d in datasets]
        if paths:
            # "add a `dataset:`" to a file that has one sent its author looking in the wrong
            # place: the data file is what is empty (a CSV with a header only, an empty JSONL).
            which = (
                f"its dataset {paths[0]} has"
                if len(paths) == 1
                else f"its datasets {', '.join(paths)} have"
            )
            message = (
                f"eval file {self.nodeid} has no cases: {which} no rows, so nothing of it runs"
            )
            line = line_of(self.path, ("dataset",))
        else:
            message = (
                f"eval file {self.nodeid} has no cases: nothing of it runs "
                "(add `cases:` or a `dataset:`)"
            )
            line = line_of(self.path, ("cases",)) if "cases" in suite.spec.model_fields_set else 1
        # Node.warn puts a collector's warning at line 0, which no file has; a file with
        # nothing to point at (empty, or no `cases:`) warns at its line 1.
        warnings.warn_explicit(
            EvalFileWarning(message), category=None, filename=str(self.path), lineno=line or 1
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str | TerminalRepr:  # type: ignore[override]
        if isinstance(excinfo.value, EvalFileError):
            return f"eval file error: {excinfo.value}"
        return super().repr_failure(excinfo)


def _check_judge_variants(suite: Suite) -> None:
    """A suite's ``judge_variants:`` options, checked when its file is collected, not after
    every case ran (the judging happens at the end of the run)."""
    from pydantic import ValidationError

    from .cases.suite import line_of
    from .judges.variants import VariantJudgeOptions

    try:
        VariantJudgeOptions.model_validate(suite.spec.judge_variants)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(err["loc"])
        msg = "unknown option" if err["type"] == "extra_forbidden" else err["msg"]
        line = line_of(suite.path, ("judge_variants", *loc[:1])) or line_of(
            suite.path, ("judge_variants",)
        )
        option = ".".join(str(p) for p in loc)
        raise EvalFileError(
            f"judge_variants: {option}: {msg}" if option else f"judge_variants: {msg}",
            path=str(suite.path),
            line=line,
            field=f"judge_variants.{option}" if option else "judge_variants",
        ) from None


class EvalSuite(pytest.Collector):
    """One suite of an eval file."""

    def __init__(self, *, suite: Suite, runs: list[Suite] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.suite = suite
        self.runs = [suite] if runs is None else runs
        """The suites that run: the suite itself, or one per selected variant."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        options = get_options(self.config)
        repeats = options.repeats or self.suite.spec.repeats
        limits = TemplateLimits(
            max_chars=max(options.max_prompt_chars, 1), timeout_s=options.render_timeout
        )
        # Every item of a suite sits at the same place and calls the same stand-in function,
        # so one fixture closure serves them all (as pytest does for parametrize).
        fixtureinfo = None
        for case in self.suite.cases:
            # Case-major: a case's variants run side by side (`case[a]`, `case[b]`, ...).
            for run in self.runs:
                for r in range(repeats):
                    name = case.id if run.variant is None else f"{case.id}[{run.variant}]"
                    if repeats > 1:
                        name += f"[r{r + 1}]"
                    item = EvalItem.from_parent(
                        self,
                        name=name,
                        callobj=_eval_case_function,
                        fixtureinfo=fixtureinfo,
                        eval_case=render_case(run, case, r, limits=limits),
                        suite=run,
                        line=run.lines.get(case.id, 0),
                    )
                    # Private attribute, no public equivalent: pytest.Function takes
                    # `fixtureinfo=` but only hands it back as `_fixtureinfo` (`fixturenames`
                    # is just the names). Computing it per item costs a fixture-closure walk
                    # each, which 10,000 cases feel (bench/bench_plugin.py); pytest's own
                    # parametrize shares it the same way.
                    fixtureinfo = item._fixtureinfo
                    yield item


def _eval_case_function() -> None:
    """Stand-in test function: eval items run their own protocol (see EvalItem)."""


class EvalCaseError(MlevalError):
    """A case could not produce an output; the case errors."""


class EvalCaseFailure(AssertionError):
    """A case's metrics did not pass."""

    def __init__(self, result: CaseResult, scored: list[Scored]) -> None:
        super().__init__(format_failure(result, scored))
        self.result = result
        self.scored = scored


class EvalItem(pytest.Function):
    """One case (one repeat) of a suite."""

    def __init__(self, *, eval_case: EvalCase, suite: Suite, line: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.eval_case = eval_case
        self.suite = suite
        self._line = line
        self._output: Any = None
        for tag in eval_case.tags:
            register_tag_marker(self.config, tag)
            self.add_marker(tag)

    def setup(self) -> None:
        # Scoring's records load with the first item, while the first model calls are in
        # flight, not during collection (on the way to those calls).
        from .results.scoring import error_result, not_needed_result, skipped_result

        super().setup()
        session = _session(self.config)
        ec = self.eval_case
        if ec.render_error:
            self._record(error_result(ec, ec.render_error, nodeid=self.nodeid))
            raise EvalCaseError(ec.render_error)
        reason = session.sequential.not_needed(self)
        if reason is not None:
            # Its sequential suite is decided: recorded as not needed, never as a pass.
            self._record(not_needed_result(ec, nodeid=self.nodeid))
            pytest.skip(reason)
        try:
            self._output = session.generate(self)
        except pytest.skip.Exception as exc:
            # The target (or a fixture it needs) skipped the case: not run, never a pass, and
            # not an error of the case either.
            self._record(skipped_result(ec, str(exc.msg or ""), nodeid=self.nodeid))
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            # The inference engine marks its errors with the retries spent and the model asked.
            retries, model = getattr(exc, "retries", 0), getattr(exc, "model", None)
            # A tool loop that failed (max_turns, a model call) carries what it did so far.
            trajectory = getattr(exc, "trajectory", None)
            from .conversation.trajectory import Trajectory

            result = error_result(
                ec,
                self._probe_prefix() + f"{type(exc).__name__}: {exc}",
                nodeid=self.nodeid,
                retries=retries if isinstance(retries, int) else 0,
                trajectory=trajectory if isinstance(trajectory, Trajectory) else None,
            )
            if isinstance(model, str):
                result.model = model
            self._record(result)
            raise

    def runtest(self) -> None:
        session = _session(self.config)
        extra: dict[str, Any] = {}
        if self.suite.spec.judge_model:
            extra["judge_model"] = self.suite.spec.judge_model
        baseline = session.baseline_case(
            self.eval_case.suite, self.eval_case.id, self.eval_case.repeat
        )
        if baseline is not None:
            extra["baseline_output"] = baseline.output
            if baseline.trajectory is not None:
                # For `pairwise` with `over: trajectory` against the baseline run.
                extra["baseline_trajectory"] = baseline.trajectory
        result, scored = score_metered(
            self.eval_case,
            self._output,
            nodeid=self.nodeid,
            extra=extra,
            max_output_chars=get_options(self.config).max_output_chars,
        )
        self._record(result)
        for s in scored:
            if s.score is not None:
                self.user_properties.append((f"mleval.{s.name}", round(s.score, 6)))
        if result.skipped is not None:
            # Nothing checked it (its judge had no model...): skipped, never a pass.
            # Reported at the case's line in its eval file, as a skip mark is.
            raise pytest.skip.Exception(result.skipped, _use_item_location=True)
        self.user_properties.append(("mleval.passed", result.passed))
        if not result.passed:
            raise EvalCaseFailure(result, scored)

    def record_marker_skip(self, report: pytest.TestReport) -> None:
        """Record a case a skip mark skipped before setup, with the mark's reason.

        Without a record the suite got no gate, so a suite whose every case a conftest
        skipped read green. A case setup already recorded (its target skipped it, or its
        sequential suite did not need it) is left as it is.
        """
        if any(name == CASE_PROPERTY for name, _ in self.user_properties):
            return
        from .results.scoring import skipped_result

        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr or "")
        reason = reason.removeprefix("Skipped: ")
        self._record(skipped_result(self.eval_case, reason, nodeid=self.nodeid))
        report.user_properties.append(self.user_properties[-1])

    def _record(self, result: CaseResult) -> None:
        result.run_order = getattr(self, "mleval_run_order", None)
        _scrub_secrets(result)
        self.user_properties.append((CASE_PROPERTY, result.model_dump_json()))
        session = _session(self.config)
        if session.sequential.applies(self.suite) and result.skipped is None:
            repeats = get_options(self.config).repeats or self.suite.spec.repeats
            session.sequential.observe(self.suite, repeats, result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str | TerminalRepr:  # type: ignore[override]
        if isinstance(excinfo.value, EvalCaseFailure):
            return format_failure(excinfo.value.result, excinfo.value.scored)
        if isinstance(excinfo.value, MlevalError):
            # Our own errors (provider failures, replay misses, budget) read best as one line;
            # a user's target raising keeps its traceback.
            return self._one_line(excinfo.value)
        return super().repr_failure(excinfo)

    def _repr_failure_py(  # type: ignore[override]
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        # Setup- and teardown-phase errors reach the report through this private method,
        # not repr_failure. Our own errors (target, provider, replay, budget) are one line;
        # answering here, rather than replacing the report afterwards, spares pytest the
        # traceback it would build first: that parses the source of every frame, and on
        # CPython 3.11 two threads parsing at once (the engine, tools and servers run in
        # threads) can fail as "AST constructor recursion depth mismatch", an INTERNALERROR
        # (python/cpython#106905).
        if isinstance(excinfo.value, MlevalError):
            return self._one_line(excinfo.value)
        rep = super()._repr_failure_py(excinfo, style=style)
        prefix = self._probe_prefix()
        if prefix and hasattr(rep, "addsection"):
            # A user's target raising keeps its traceback; a generated probe's id alone does
            # not say which entry of the eval file made it.
            rep.addsection("mleval probe", prefix + "the target raised on this probe")
        return rep

    def _probe_prefix(self) -> str:
        """``probe injection/roleplay (evals/x.eval.yaml:12): `` for a generated probe case:
        its id alone does not say which entry of the file made it."""
        probe = self.eval_case.metadata.get("probe")
        if not isinstance(probe, dict) or "technique" not in probe:
            return ""
        file = self.eval_case.file or str(self.path)
        where = f"{file}:{self._line}" if self._line else file
        return f"probe {probe.get('family')}/{probe['technique']} ({where}): "

    def _one_line(self, exc: BaseException) -> str:
        kind = type(exc).__name__
        # Provider error texts come from outside: control characters show as escapes.
        where = f"{term_text(self.eval_case.suite)}::{term_text(self.eval_case.id)}"
        return f"case {where} errored: {kind}: {term_text(exc)}"

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # A variant's item is named `case[variant]` already: its suite is shown unvaried.
        suite = self.suite.variant_of or self.eval_case.suite
        return self.path, max(self._line - 1, 0), f"{suite}::{self.name}"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) >= 1000 else f"{value:.3f}"


def _term_lines(text: str) -> list[str]:
    """Lines of a model's text for the terminal: control characters (ANSI escapes, carriage
    returns that would print over a line) shown as escapes, only newlines kept."""
    return [term_text(line) for line in text.replace("\r\n", "\n").split("\n")]


def format_failure(result: CaseResult, scored: list[Scored]) -> str:
    """The failure report of a case: each metric's score, threshold and why; then a diff."""
    # "failed" would say the output was judged wrong; a metric that raised judged nothing.
    outcome = "errored" if result.errored else "failed"
    lines = [f"case {term_text(result.suite)}::{term_text(result.case_id)} {outcome}"]
    header = f"  {'metric':<20} {'score':>8} {'needs':>10}  {'result':<6} explanation"
    lines.append(header)
    for s in scored:
        needs = []
        if s.threshold is not None:
            needs.append(f">={_fmt(s.threshold)}")
        if s.max is not None:
            needs.append(f"<={_fmt(s.max)}")
        if s.error:
            status = "error"
        elif s.skipped:
            status = "skip"
        else:
            status = "FAIL" if s.passed is False else ("ok" if s.passed else "info")
        why = term_text(_scrubbed(s.error or s.skipped) or s.explanation or "")
        name = term_text(s.name)
        lines.append(
            f"  {name:<20} {_fmt(s.score):>8} {' '.join(needs) or '-':>10}  {status:<6} {why}"
        )
    expected_text = None
    if result.expected is not None:
        expected_text = (
            result.expected
            if isinstance(result.expected, str)
            else json.dumps(result.expected, ensure_ascii=False)
        )
    if expected_text is not None and result.output is not None and expected_text != result.output:
        lines.append("  expected vs output:")
        diff = difflib.unified_diff(
            _term_lines(expected_text),
            _term_lines(result.output),
            "expected",
            "output",
            lineterm="",
            n=2,
        )
        lines.extend("    " + d for d in diff)
    elif result.output is not None:
        lines.append("  output: " + "\n".join(_term_lines(result.output[:2000])))
    return "\n".join(lines)


def register_tag_marker(config: pytest.Config, name: str) -> None:
    """Register marker ``name`` (an eval case's tag) once per run, so ``-m name`` selects it."""
    registered = config.stash.setdefault(_MARKERS_KEY, set())
    if name not in registered:
        config.addinivalue_line("markers", f"{name}: eval tag {name!r} (from an eval file)")
        registered.add(name)


_MARKERS_KEY = pytest.StashKey[set[str]]()


def _session(config: pytest.Config) -> MlevalSession:
    return config.stash[SESSION_KEY]


def _scrub_secrets(result: CaseResult) -> None:
    """A case's error texts without API keys, in place: what a target raised or skipped with
    and what a metric raised go into every output (results, Markdown, HTML). Inference errors
    are scrubbed where they are made; a user's own code is not, so its record is, here."""
    result.error = _scrubbed(result.error)
    result.skipped = _scrubbed(result.skipped)
    for score in result.scores.values():
        score.error = _scrubbed(score.error)


def _scrubbed(text: str | None) -> str | None:
    """A metric's error or skip reason without API keys (as its record has it)."""
    if not text:
        return text
    from .inference.scrubbing import scrub

    return scrub(text)
