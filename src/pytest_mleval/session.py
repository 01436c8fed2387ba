"""The run's state: targets, gathered results (xdist-safe), aggregates, gates and outputs."""

from __future__ import annotations

import bisect
import contextlib
import datetime as _dt
import importlib
import platform
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .cases.suite import Suite
    from .collect import EvalItem
    from .results.records import CaseResult, CollectionError, GateResult, RunMeta, RunResults
    from .targets.registry import TargetContext, TargetOutput

__all__ = ["CASE_PROPERTY", "SESSION_KEY", "MlevalSession"]

CASE_PROPERTY = "mleval_case"
"""user_properties key under which each item's full result record travels (xdist-safe)."""

# A `target: model:...` (not a local `hf:` one) or a `judge_model:` line in an eval file's text.
_NAMES_A_MODEL = re.compile(
    rb"^[ \t]*(?:target:[ \t]*[\"']?model:(?![ \t]*[\"']?hf:)"
    rb"|judge_model:[ \t]*[\"']?(?!hf:|null\b|~)[\w.-])",
    re.MULTILINE,
)

RESULTS_FILE = "mleval-results.json"
SUMMARY_FILE = "mleval-summary.md"


def _names_remote_model(model: str | None) -> bool:
    return bool(model) and not str(model).startswith("hf:")


def eval_file_names_a_model(path: Path) -> bool:
    """Whether an eval file's raw text names a remote model (a glance, before parsing)."""
    try:
        return bool(_NAMES_A_MODEL.search(path.read_bytes()))
    except OSError:
        return False  # collection reports it


class MlevalSession:
    """Registered as a plugin for the run; reached through ``config.stash[SESSION_KEY]``."""

    def __init__(self, config: pytest.Config) -> None:
        from .plugin import OPTIONS, get_option

        self.config = config
        self.options = {name: get_option(config, name) for name, *_ in OPTIONS}
        self.repeats_override: int | None = self.options["repeats"]
        self.seed: int = int(self.options["seed"])
        self.confidence: float = float(self.options["confidence"])
        self.is_worker = hasattr(config, "workerinput")
        if self.options["cache"] not in ("rw", "ro", "off", "replay"):
            raise pytest.UsageError(
                f"--mleval-cache must be rw, ro, off or replay, got {self.options['cache']!r}"
            )
        if str(self.options["litellm-server"]).strip().lower() not in ("auto", "on", "off"):
            raise pytest.UsageError(
                "--mleval-litellm-server must be auto, on or off, "
                f"got {self.options['litellm-server']!r}"
            )
        from . import prestart

        if prestart.started() and not self._litellm_possible():
            prestart.cancel()  # started from the command line's look, not needed after all
        self.suites: dict[str, Suite] = {}
        self.results: dict[str, CaseResult] = {}
        self.services: dict[str, Any] = {}
        self.run: RunResults | None = None
        self.gate_failures: list[GateResult] = []
        self.written: list[Path] = []
        self.errors: list[str] = []
        self._targets: dict[str, Callable[..., Any]] = {}
        self._target_errors: dict[str, BaseException] = {}
        self.collection_errors: list[CollectionError] = []
        self._eval_nodeids: set[str] | None = None
        self._reported: set[str] = set()
        self._prefetched: set[str] = set()
        # Positions (in session.items) of the items whose generations can be issued ahead.
        self._ahead_at: list[int] = []
        self._positions: dict[int, int] = {}
        self._issued_upto = 0  # how many of _ahead_at have been issued
        self._limit_server: Any = None
        # Started during pytest's start-up: collection need not read eval files for it again.
        self._litellm_started = prestart.started()
        self._warm_thread: threading.Thread | None = None
        self.baseline: RunResults | None = None
        if self.options["baseline"]:
            # Workers read it too: pairwise judges need the baseline's outputs.
            self.baseline = self._load_baseline(self.options["baseline"])
        self._baseline_outputs: dict[tuple[str, str, int], str] | None = None
        self._engine: Any = None
        self.services["engine"] = self.engine
        self.services["model_override"] = self.options["model"]
        self.services["api_base"] = config.getini("mleval_api_base") or None
        self._started = time.time()
        self._started_iso = _now()

    def _load_baseline(self, path: str) -> RunResults:
        """Read the baseline up front: a missing or unreadable one stops the run at once."""
        from .errors import ResultsFileError
        from .results.records import load_results

        try:
            return load_results(path)
        except ResultsFileError as exc:
            raise pytest.UsageError(f"--mleval-baseline: {exc}") from None

    # ------------------------------------------------------------------ inference

    def engine(self) -> Any:
        """The run's inference engine, created on first use (one per process)."""
        if self._engine is None:
            from .errors import ConfigError
            from .inference.targets import build_engine, parse_rate_limits

            try:
                limits = parse_rate_limits(self.config.getini("mleval_rate_limits"))
            except ConfigError as exc:
                raise pytest.UsageError(str(exc)) from None
            for suite in self.suites.values():
                rl = suite.spec.rate_limit
                if rl is not None and suite.spec.target and suite.spec.target.startswith("model:"):
                    model = self.options["model"] or suite.spec.target[len("model:") :]
                    limits.setdefault(model, (rl.rpm, rl.tpm))
            self._engine = build_engine(
                cache_mode=self.options["cache"],
                cache_path=self._path(self.options["cache-path"]),
                concurrency=int(self.options["concurrency"]),
                max_cost_usd=self.options["max-cost"],
                rate_limits=limits,
                max_retries=int(self.options["max-retries"]),
                retry_delay=float(self.options["retry-delay"]),
                timeout=float(self.options["timeout"]),
                litellm_worker=not self.options["litellm-inline"],
                limits_address=self._limits_address(),
            )
            if not self.options["litellm-inline"]:
                self._use_litellm_server()
        return self._engine

    def _limits_address(self) -> str | None:
        """The run-wide limiter's address in an xdist worker (``None`` in one process)."""
        from .inference.limits import LIMITS_WORKERINPUT

        workerinput = getattr(self.config, "workerinput", None) or {}
        address = workerinput.get(LIMITS_WORKERINPUT)
        return str(address) if address else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: one limiter for the whole run; each worker learns its address.

        Without it every worker would allow ``--mleval-concurrency`` calls and each model's
        whole rate limit by itself. A run without xdist never starts it.
        """
        from .inference.limits import LIMITS_WORKERINPUT, LimitServer

        spec = getattr(getattr(node, "gateway", None), "spec", None)
        if spec is not None and not getattr(spec, "popen", False):
            return  # a worker on another machine cannot reach a local socket: its own limits
        if self._limit_server is None:
            self._limit_server = LimitServer(int(self.options["concurrency"]))
            self._limit_server.start()
        node.workerinput[LIMITS_WORKERINPUT] = self._limit_server.address

    def lookahead(self) -> int:
        """How many generations run ahead of the item pytest runs: twice the concurrency.

        Enough to keep every call slot busy while items are scored in order, and the most a
        run stopped by ``-x``, ``--maxfail`` or Ctrl-C has paid for beyond where it stopped.
        xdist workers split it (each covers its own queued items), so the run's total holds.
        """
        window = 2 * int(self.options["concurrency"])
        workerinput = getattr(self.config, "workerinput", None) or {}
        workers = max(1, int(workerinput.get("workercount", 1) or 1))
        return max(1, -(-window // workers))

    def judge_backend(self, model: str) -> Any:
        """A judge backend on the run's engine."""
        from .inference.targets import EngineJudge

        return EngineJudge(self.engine(), model, api_base=self.services.get("api_base"))

    def baseline_output(self, suite: str, case_id: str, repeat: int) -> str | None:
        """The baseline run's output for a case (for pairwise judges)."""
        if self.baseline is None:
            return None
        if self._baseline_outputs is None:
            self._baseline_outputs = {
                (c.suite, c.case_id, c.repeat): c.output
                for c in self.baseline.cases
                if c.output is not None
            }
        return self._baseline_outputs.get((suite, case_id, repeat)) or self._baseline_outputs.get(
            (suite, case_id, 0)
        )

    def _path(self, value: str) -> str:
        p = Path(value)
        return str(p if p.is_absolute() else Path(str(self.config.rootpath)) / p)

    def pytest_keyboard_interrupt(self) -> None:
        if self._engine is not None:
            self._engine.cancel_pending()

    def pytest_unconfigure(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._limit_server is not None:
            self._limit_server.stop()
            self._limit_server = None

    # ------------------------------------------------------------------ suites and targets

    def peek_eval_file(self, path: Path) -> None:
        """Start litellm's worker before an eval file is parsed when its text names a model.

        litellm's import (seconds) is the first model call's critical path; a glance at the
        raw text starts it one import of the collection machinery and one parse earlier than
        :meth:`register_suite` can. A false alarm costs only an import on another core,
        stopped at the end of the run.
        """
        if self._litellm_started or not self._litellm_possible():
            return
        if _names_remote_model(self.options["judge-model"]) or eval_file_names_a_model(path):
            self._start_litellm()

    def register_suite(self, suite: Suite) -> None:
        """Remember a collected suite (for gates and metadata)."""
        self.suites.setdefault(suite.name, suite)
        if not self._litellm_started and self._needs_litellm(suite):
            self._start_litellm()

    def _start_litellm(self) -> None:
        from .inference.worker import start_litellm_worker

        # litellm takes seconds to import: its worker process starts now, so the import
        # overlaps the rest of collection instead of delaying the first call.
        self._litellm_started = True
        self._use_litellm_server()
        start_litellm_worker()

    def _use_litellm_server(self) -> None:
        from .inference.forkserver import server_wanted
        from .inference.worker import use_litellm_server

        use_litellm_server(server_wanted(self.options["litellm-server"]))

    def _litellm_possible(self) -> bool:
        return not (
            self.options["litellm-inline"]
            or self.options["cache"] == "replay"  # replayed answers never need litellm
            or self.config.option.collectonly
        )

    def _needs_litellm(self, suite: Suite) -> bool:
        if not self._litellm_possible():
            return False
        models = [self.options["judge-model"] or suite.spec.judge_model]
        target = suite.spec.target or ""
        if target.startswith("model:"):
            models.append(self.options["model"] or target[len("model:") :])
        return any(_names_remote_model(m) for m in models)

    def _context(self, item: EvalItem) -> TargetContext:
        from .targets.registry import TargetContext

        return TargetContext(
            suite=item.suite,
            config=self.config,
            getfixturevalue=item._request.getfixturevalue,
            base_dir=item.suite.path.parent,
            services=self.services,
        )

    def target_for(self, item: EvalItem) -> Callable[..., Any]:
        """Resolve (and cache per suite) the target of an item's suite."""
        from .errors import MlevalError
        from .targets.registry import is_per_item

        spec = item.suite.spec.target
        if not spec:
            raise MlevalError(
                f"suite {item.suite.name!r} has no `target:`; nothing produces outputs"
            )
        key = f"{item.suite.path}::{spec}"
        if is_per_item(spec):
            return self._make_target(spec, self._context(item))
        if key in self._target_errors:
            raise self._target_errors[key]
        if key not in self._targets:
            try:
                self._targets[key] = self._make_target(spec, self._context(item))
            except Exception as exc:
                self._target_errors[key] = exc
                raise
        return self._targets[key]

    def _make_target(self, spec: str, ctx: TargetContext) -> Callable[..., Any]:
        from .targets.registry import resolve_target

        custom = self.config.hook.pytest_mleval_make_target(spec=spec, context=ctx)
        if custom is not None:
            fn: Callable[..., Any] = custom
            return fn
        return resolve_target(spec, ctx)

    def generate(self, item: EvalItem) -> TargetOutput:
        """Produce the output of one item (a prefetched result when the target has one)."""
        from .targets.registry import call_target

        target = self.target_for(item)
        return call_target(target, item.eval_case)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            # Under xdist the controller sees workers' failed collect reports here too; each
            # file is listed once however many workers failed to collect it.
            error = _collection_error(report)
            if all(e.nodeid != error.nodeid for e in self.collection_errors):
                self.collection_errors.append(error)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        collect = sys.modules.get("pytest_mleval.collect")
        if collect is not None and not self.is_worker and session.items:
            # Known only where items are collected (not on an xdist controller): lets the end
            # of the run tell cases that never ran (-x, --maxfail, Ctrl-C) from a full run.
            self._eval_nodeids = {
                i.nodeid for i in session.items if isinstance(i, collect.EvalItem)
            }

    def _only_eval_files_failed(self) -> bool:
        return bool(self.collection_errors) and all(
            self._is_eval_path(e.file) for e in self.collection_errors
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        # A broken eval file is one collection error; every other file still runs (pytest
        # would otherwise stop the whole session). Other collection errors keep pytest's rule.
        if self._only_eval_files_failed():
            session.config.option.continue_on_collection_errors = True
        if session.config.option.collectonly or self.is_worker:
            return
        # Generations start in a window ahead of the running item (model calls run
        # concurrently while pytest runs items one at a time), not all up front: a run that
        # stops early stops paying. The first window starts before the first item.
        self._ahead_at = [i for i, it in enumerate(session.items) if self._issuable(it)]
        self._positions = {id(it): i for i, it in enumerate(session.items)}
        self._prefetch_from(session.items, 0)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if not self.is_worker:
            position = self._positions.get(id(item))
            if position is not None and self._ahead_at:
                index = bisect.bisect_left(self._ahead_at, position)
                self._prefetch_from(item.session.items, index)
            return
        # An xdist worker learns its items as the controller sends them: the window covers
        # what is queued for this worker, so no worker generates another worker's cases.
        window = self.lookahead()
        queued = [item] if self._issuable(item) else []
        interactor = next(
            (p for p in self.config.pluginmanager.get_plugins() if hasattr(p, "torun")), None
        )
        if interactor is not None and len(queued) < window:
            items = item.session.items
            with interactor.torun.lock() as pending:
                for i in pending:
                    if isinstance(i, int) and self._issuable(items[i]):
                        queued.append(items[i])
                        if len(queued) >= window:
                            break
        self._prefetch(queued)

    def _prefetch_from(self, items: list[pytest.Item], index: int) -> None:
        """Issue the window of issuable items from the ``index``-th of them on."""
        end = index + self.lookahead()
        # Only the part not issued yet: usually the one item that entered the window.
        start = max(index, self._issued_upto)
        if start < end:
            self._issued_upto = end
            self._prefetch([items[p] for p in self._ahead_at[start:end]])

    def _issuable(self, item: pytest.Item) -> bool:
        """Whether an item's generation can be issued before the item runs."""
        collect = sys.modules.get("pytest_mleval.collect")
        if collect is None or not isinstance(item, collect.EvalItem):
            return False
        from .targets.registry import is_per_item

        target = item.suite.spec.target
        return bool(target) and not is_per_item(target) and not item.eval_case.render_error

    def _prefetch(self, items: list[pytest.Item]) -> None:
        collect = sys.modules.get("pytest_mleval.collect")
        if collect is None:
            return  # no eval file was collected
        groups: dict[str, list[EvalItem]] = {}
        for item in items:
            if (
                isinstance(item, collect.EvalItem)
                and item.nodeid not in self._prefetched
                and self._issuable(item)
            ):
                self._prefetched.add(item.nodeid)
                groups.setdefault(f"{item.suite.path}::{item.suite.spec.target}", []).append(item)
        for group in groups.values():
            try:
                target = self.target_for(group[0])
            except Exception:
                continue
            prefetch = getattr(target, "prefetch", None)
            if callable(prefetch):
                prefetch([i.eval_case for i in group])
                self._warm_finish()

    def _warm_finish(self) -> None:
        """Import what the end of the run needs (statistics, scipy, the report) on a thread
        now, while items wait for model calls, instead of after the last item."""
        if self.is_worker or self._warm_thread is not None:
            return
        modules = [
            "pytest_mleval.results.aggregate",
            "pytest_mleval.stats",
            "scipy.special",
            "pytest_mleval.results.compare",
            "pytest_mleval.report.summary",
        ]
        if not self.options["no-report"]:
            modules += ["pytest_mleval.report.html", "pytest_mleval.report.history"]

        def load() -> None:
            for name in modules:
                # A module that fails here fails again where it is needed, and says so there.
                with contextlib.suppress(Exception):
                    importlib.import_module(name)

        self._warm_thread = threading.Thread(target=load, name="mleval-warm", daemon=True)
        self._warm_thread.start()

    # ------------------------------------------------------------------ gathering results

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            # Workers forward reports (with user_properties) to the controller untouched.
            return
        self._reported.add(report.nodeid)
        if not any(name == CASE_PROPERTY for name, _ in report.user_properties):
            return
        from .results.records import CaseResult

        keep = []
        for name, value in report.user_properties:
            if name == CASE_PROPERTY:
                result = CaseResult.model_validate_json(str(value))
                key = f"{report.nodeid}\x00{result.suite}\x00{result.case_id}\x00{result.repeat}"
                self.results[key] = result
                self.config.hook.pytest_mleval_case_result(result=result, config=self.config)
            else:
                keep.append((name, value))
        # The full record is large; junit keeps only the per-metric scores.
        report.user_properties[:] = keep

    # ------------------------------------------------------------------ end of run

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._warm_thread is not None:
            # Its imports finish inside the session (in-process pytester runs unload
            # modules imported during a run once it ends).
            self._warm_thread.join()
        if self._engine is not None:
            # -x, --maxfail or an error stopped the run: calls nobody waits for are dropped.
            self._engine.cancel_pending()
        if self.is_worker or session.config.option.collectonly:
            return
        eval_errors = [e for e in self.collection_errors if self._is_eval_path(e.file)]
        if not self.results and not eval_errors:
            return  # no eval ran and no eval file broke: nothing to report
        try:
            self.run = self.build_run(int(exitstatus))
            self.gate_failures = [g for g in self.run.gates if not g.passed]
            if self.gate_failures and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            # Every output derives its headline from the status the run ends with.
            self.run.meta.exit_status = int(session.exitstatus)
            self.config.hook.pytest_mleval_run_results(run=self.run, config=self.config)
            if not self.options["no-report"]:
                self.write_outputs(self.run)
        except Exception as exc:
            self.errors.append(f"could not finish the run's results: {type(exc).__name__}: {exc}")
            self._write_raw_results()
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return

    def _is_eval_path(self, file: str) -> bool:
        from .plugin import is_eval_file

        return is_eval_file(Path(file), self.config.getini("mleval_files"))

    def _incomplete(self, exit_status: int) -> list[str]:
        """Why this run is not the whole run (empty when it is)."""
        why = []
        if self.collection_errors:
            files = sorted({e.file for e in self.collection_errors})
            why.append(f"{len(files)} file(s) could not be collected: {', '.join(files)}")
        if exit_status == pytest.ExitCode.INTERRUPTED:
            why.append("the run was interrupted")
        elif exit_status == pytest.ExitCode.INTERNAL_ERROR:
            why.append("pytest hit an internal error")
        if self._eval_nodeids:
            # Reported at all (a skipped item ran as far as it should), not only scored.
            missing = len(self._eval_nodeids - self._reported)
            if missing:
                total = len(self._eval_nodeids)
                why.append(f"{missing} of {total} eval item(s) did not run")
        return why

    def _write_raw_results(self) -> None:
        """Last resort: keep the per-case results even when aggregation failed."""
        from .results.records import RunResults, write_results

        try:
            run = RunResults(meta=self._meta(-1, []), cases=list(self.results.values()))
            self.written.append(write_results(self.report_dir() / RESULTS_FILE, run))
        except Exception as exc:
            self.errors.append(f"could not write raw results either: {exc}")

    def _suite_for(self, name: str, cases: list[CaseResult]) -> Suite | None:
        from .cases.suite import load_suite
        from .errors import MlevalError

        if name in self.suites:
            return self.suites[name]
        files = {c.file for c in cases if c.file}
        for f in files:
            p = Path(f)
            if p.suffix in (".yaml", ".yml") and p.exists():
                try:
                    suite = load_suite(p)
                except MlevalError:
                    continue
                if suite.name == name:
                    self.suites[name] = suite
                    return suite
        return None

    def build_run(self, exit_status: int) -> RunResults:
        """Assemble the run's results: cases, aggregates, gates, metadata."""
        from .results.aggregate import aggregate_suite, evaluate_gates
        from .results.records import RunResults, SuiteInfo

        cases = list(self.results.values())
        by_suite: dict[str, list[CaseResult]] = {}
        for c in cases:
            by_suite.setdefault(c.suite, []).append(c)
        run = RunResults(meta=self._meta(exit_status, cases))
        for name, suite_cases in by_suite.items():
            suite = self._suite_for(name, suite_cases)
            run.suites.append(
                SuiteInfo(
                    name=name,
                    file=str(suite.path) if suite else suite_cases[0].file,
                    description=suite.spec.description if suite else None,
                    target=suite.spec.target if suite else None,
                    n_cases=len({c.case_id for c in suite_cases}),
                    regression_margin=self._regression_margin(suite),
                    regression_metrics=self._regression_metrics(suite),
                )
            )
            aggs = aggregate_suite(name, suite_cases, confidence=self.confidence, seed=self.seed)
            run.aggregates.extend(aggs)
            if suite is not None and suite.spec.gates:
                run.gates.extend(
                    evaluate_gates(
                        name,
                        suite.spec.gates,
                        suite_cases,
                        aggs,
                        confidence=self.confidence,
                        seed=self.seed,
                    )
                )
        run.cases = cases
        run.collection_errors = list(self.collection_errors)
        run.meta.incomplete = self._incomplete(exit_status)
        run.usage = _usage_totals(cases)
        if self._engine is not None:
            run.usage["inference"] = self._engine.summary()
        if self.baseline is not None:
            self._compare(run, self.baseline)
        self._compare_variants(run, by_suite)
        return run

    def _compare_variants(self, run: RunResults, by_suite: dict[str, list[CaseResult]]) -> None:
        """Suites with ``compare_to:`` are compared with that suite, paired by case id."""
        from .results.compare import compare_runs
        from .results.records import RunResults

        for name, suite in self.suites.items():
            other = suite.spec.compare_to
            if not other or name not in by_suite:
                continue
            if other not in by_suite:
                self.errors.append(
                    f"suite {name!r}: compare_to {other!r} did not run in this session"
                )
                continue
            # Both sides under one suite name, so cases pair by id.
            base = RunResults(cases=[c.model_copy(update={"suite": name}) for c in by_suite[other]])
            cand = RunResults(cases=by_suite[name])
            # Not a gate: the two suites are compared for the reader, nothing fails on it.
            comparison = compare_runs(
                base, cand, confidence=self.confidence, seed=self.seed, gating={name: ()}
            )
            data = comparison.model_dump(mode="json")
            data["baseline_suite"] = other
            data["candidate_suite"] = name
            run.variants.append(data)

    def _regression_margin(self, suite: Suite | None) -> float:
        spec_margin = suite.spec.regression_margin if suite else None
        if spec_margin is not None:
            return float(spec_margin)
        return float(self.options["regression-margin"] or 0.0)

    def _regression_metrics(self, suite: Suite | None) -> list[str] | None:
        if suite is not None and suite.spec.regression_metrics is not None:
            return list(suite.spec.regression_metrics)
        value = self.options["regression-metrics"]
        names = [m.strip() for m in str(value or "").split(",") if m.strip()]
        return names or None

    def _compare(self, run: RunResults, baseline: RunResults) -> None:
        """Paired comparison with the baseline under the one regression rule (the same
        function ``mleval compare`` calls), one regression gate per compared suite."""
        from .results.compare import regression_check

        comparison, gates = regression_check(
            baseline, run, confidence=self.confidence, seed=self.seed
        )
        run.comparison = comparison.model_dump(mode="json")
        run.gates.extend(gates)

    def _meta(self, exit_status: int, cases: list[CaseResult]) -> RunMeta:
        from importlib.metadata import PackageNotFoundError, version

        from .results.records import RunMeta

        try:
            tool_version = version("pytest-mleval")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            tool_version = "0+unknown"
        sha, branch = _git_info(Path(str(self.config.rootpath)))
        return RunMeta(
            tool_version=tool_version,
            started_at=self._started_iso,
            finished_at=_now(),
            duration_s=round(time.time() - self._started, 3),
            git_sha=sha,
            git_branch=branch,
            python=sys.version.split()[0],
            platform=f"{platform.system()} {platform.machine()}",
            models=sorted({c.model for c in cases if c.model}),
            flags={k: v for k, v in self.options.items() if v is not None},
            seed=self.seed,
            exit_status=exit_status,
        )

    def report_dir(self) -> Path:
        """Where outputs go (relative paths are relative to the rootdir)."""
        p = Path(self.options["report-dir"])
        return p if p.is_absolute() else Path(str(self.config.rootpath)) / p

    def write_outputs(self, run: RunResults) -> None:
        """Write the results file and the Markdown summary (the controller only)."""
        from .report.summary import render_summary
        from .results.records import write_results

        out = self.report_dir()
        self.written.append(write_results(out / RESULTS_FILE, run))
        summary = out / SUMMARY_FILE
        summary.write_text(render_summary(run), encoding="utf-8")
        self.written.append(summary)
        from .errors import MlevalError
        from .report.history import record_run, resolve_url
        from .report.html import REPORT_FILE, write_report

        url: str | None = resolve_url(self.options.get("history"), out)
        try:
            record_run(str(url), run)
        except MlevalError as exc:
            self.errors.append(f"run history not recorded: {exc}")
            url = None
        self.written.append(
            write_report(out / REPORT_FILE, run, baseline=self.baseline, history_url=url)
        )
        save = self.options["save-baseline"]
        if save:
            self.written.append(write_results(Path(save), run))

    # ------------------------------------------------------------------ terminal

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        tr = terminalreporter
        for err in self.errors:
            tr.write_line(f"mleval: {err}", red=True)
        if self.run is None:
            return
        from .report.summary import terminal_lines

        tr.write_sep("=", "mleval summary")
        for line, style in terminal_lines(self.run):
            tr.write_line(line, **style)
        for path in self.written:
            tr.write_line(f"mleval: wrote {_display(path, self.config)}")
        litellm_line = self._litellm_line()
        if litellm_line:
            tr.write_line(f"mleval: {litellm_line}")

    def _litellm_line(self) -> str | None:
        worker_module = sys.modules.get("pytest_mleval.inference.worker")
        worker = getattr(worker_module, "_WORKER", None)
        if worker is None or worker.import_seconds is None:
            return None  # no litellm worker became ready in this run
        if worker.warm:
            return "litellm calls ran in a fork of the warm litellm server (no import)"
        if worker.server_used:
            return (
                f"litellm imported in {worker.import_seconds:.1f} s; a background server now "
                "keeps it imported for the next runs (it exits after 15 idle minutes; "
                "--mleval-litellm-server off)"
            )
        return None


_WHERE = re.compile(r"^(?:eval file error: )?(?P<file>[^\s:][^:\n]*):(?P<line>\d+):", re.M)


def _collection_error(report: pytest.CollectReport) -> CollectionError:
    """The record of a failed collection: file, line when the message names one, text."""
    from .results.records import CollectionError

    text = report.longreprtext.strip() or "collection failed"
    file = report.nodeid.split("::", 1)[0] or report.fspath
    line = None
    match = _WHERE.search(text)
    if match and Path(match["file"]).name == Path(file).name:
        line = int(match["line"])
        if match.start() == 0:
            # file and line have fields of their own: the message says what is wrong.
            text = text[match.end() :].strip() or text
    if len(text) > 4000:  # a long traceback: its end says what failed
        text = "…" + text[-4000:]
    return CollectionError(nodeid=report.nodeid or file, file=file, line=line, message=text)


def _display(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(Path(str(config.rootpath))))
    except ValueError:
        return str(path)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _git_info(root: Path) -> tuple[str | None, str | None]:
    def run(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() or None if out.returncode == 0 else None

    return run("rev-parse", "HEAD"), run("rev-parse", "--abbrev-ref", "HEAD")


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else 0.0


def _usage_totals(cases: list[CaseResult]) -> dict[str, Any]:
    """Tokens, cost and latency percentiles per suite and per model."""

    def totals(group: list[CaseResult]) -> dict[str, Any]:
        lat = [c.latency_ms for c in group if c.latency_ms is not None]
        return {
            "cases": len(group),
            "prompt_tokens": sum(c.usage.prompt_tokens for c in group),
            "completion_tokens": sum(c.usage.completion_tokens for c in group),
            "total_tokens": sum(c.usage.total_tokens for c in group),
            "cost_usd": sum(c.cost_usd or 0.0 for c in group),
            "cached": sum(1 for c in group if c.cached),
            "retries": sum(c.retries for c in group),
            "latency_ms": {
                "p50": _percentile(lat, 50),
                "p95": _percentile(lat, 95),
                "p99": _percentile(lat, 99),
                "mean": sum(lat) / len(lat) if lat else 0.0,
            },
        }

    by_suite: dict[str, list[CaseResult]] = {}
    by_model: dict[str, list[CaseResult]] = {}
    for c in cases:
        by_suite.setdefault(c.suite, []).append(c)
        if c.model:
            by_model.setdefault(c.model, []).append(c)
    return {
        "total": totals(cases),
        "suites": {k: totals(v) for k, v in by_suite.items()},
        "models": {k: totals(v) for k, v in by_model.items()},
    }


SESSION_KEY = pytest.StashKey[MlevalSession]()
