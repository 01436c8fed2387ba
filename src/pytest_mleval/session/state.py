"""The run's session: run-wide services, gathering per-item results (xdist-safe), the end of run.

The session owns what lives as long as the run: the inference engine, the xdist limiter,
litellm's early start and the baseline. It gathers each item's result record from its report
(records travel from xdist workers to the controller in ``user_properties``). At the end the
controller hands what it gathered to :func:`..results.run.assemble_run` (aggregates, gates,
comparisons) and the assembled run to :func:`..report.outputs.write_outputs` (every output
file). Targets are :mod:`.targets`, the look-ahead window :mod:`.lookahead`.

One file (~900 lines): the pytest hooks below share the run-wide state they create and
release; what could leave (assembling, writing, targets, the window) has left.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..context import CASE_PROPERTY
from ..evalfiles import eval_file_models, is_eval_file
from ..options import get_options
from .lookahead import Lookahead
from .selection import Selection, unselected_from_json, unselected_json
from .targets import RunServices, Targets, eval_item

if TYPE_CHECKING:
    from ..cases.suite import Suite
    from ..collect import EvalItem
    from ..inference.engine import InferenceEngine
    from ..inference.limits import LimitServer
    from ..inference.targets import EngineJudge
    from ..report.outputs import OutputPlan
    from ..results.records import (
        CallUse,
        CaseResult,
        CollectionError,
        GateResult,
        RunMeta,
        RunResults,
        ShardInfo,
    )
    from ..results.run import NotSelected, RunSettings
    from ..targets.registry import TargetOutput

__all__ = ["MlevalSession"]

_SHARD_OUTPUT = "mleval_shard"
"""Key of a worker's shard record in xdist's ``workeroutput``."""
_CALLS_OUTPUT = "mleval_outside_calls"
"""Key of a worker's model calls that no case made (JSON: model -> use) in ``workeroutput``."""
_UNSELECTED_OUTPUT = "mleval_unselected"
"""Key of a worker's suites none of whose cases was selected (JSON) in ``workeroutput``."""


class MlevalSession:
    """Registered as a plugin for the run; reached through ``config.stash[SESSION_KEY]``."""

    def __init__(self, config: pytest.Config) -> None:
        from .. import prestart

        self.config = config
        # Typed, read once; raises UsageError for a bad value before anything starts.
        self.options = get_options(config)
        self.is_worker = hasattr(config, "workerinput")
        if prestart.started() and not self._litellm_possible():
            prestart.cancel()  # started from the command line's look, not needed after all
        self.suites: dict[str, Suite] = {}
        self.results: dict[str, CaseResult] = {}
        self.run: RunResults | None = None
        self.gate_failures: list[GateResult] = []
        self.written: list[Path] = []
        self.errors: list[str] = []
        self.collection_errors: list[CollectionError] = []
        self._eval_nodeids: set[str] | None = None
        self._shard_info: ShardInfo | None = None
        self._selection = Selection()
        self._unselected: dict[str, NotSelected] = {}
        """Suites none of whose cases is selected (known where items are collected)."""
        self._workers_outside: list[dict[str, Any]] = []
        """Each worker's calls that no case made, as it sent them."""
        self._reported: set[str] = set()
        self._limit_server: LimitServer | None = None
        # Started during pytest's start-up: collection need not read eval files for it again.
        self._litellm_started = prestart.started()
        self._warm_thread: threading.Thread | None = None
        self.baseline: RunResults | None = None
        if self.options.baseline:
            # Workers read it too: pairwise judges need the baseline's outputs.
            self.baseline = self._load_baseline(self.options.baseline)
        if not self.is_worker:
            self._check_report_dir()
        self._baseline_cases: dict[tuple[str, str, int], CaseResult] | None = None
        self._engine: InferenceEngine | None = None
        self.services = RunServices(
            engine=self.engine,
            model_override=self.options.model,
            api_base=self.options.ini.api_base,
        )
        self.targets = Targets(config, self.services)
        from .sequential import Sequential

        workers = config.workerinput.get("workercount", 1) if self.is_worker else 1  # type: ignore[attr-defined]
        self.sequential = Sequential(
            every_suite=self.options.sequential,
            confidence=self.options.confidence,
            workers=int(workers or 1),
            baseline=self.baseline,
            margin=float(self.options.regression_margin or 0.0),
            issued=self._issued,
        )
        if self.options.redact:
            # Reports and log records of every process (xdist workers build their own).
            from .redaction import RedactionPlugin

            redaction = RedactionPlugin()
            redaction.install()
            config.pluginmanager.register(redaction, "mleval-redaction")
        self.ahead = Lookahead(
            config,
            self.targets,
            self.lookahead,
            self._warm_finish,
            skip=lambda item: self.sequential.decided(item.suite),
        )
        self._started = time.time()
        from ..inference import set_run_engine

        # Services reach this run's engine through inference.run_engine(); the outer run's
        # getter (an in-process pytester run's outer session) comes back at unconfigure.
        self._previous_engine = set_run_engine(self.engine)
        # Judges reach this run's backend, default judge model, config and services; the setup
        # of an outer in-process run comes back at unconfigure. judges.setup is cheap to
        # import: the judges themselves load when a judge metric is scored.
        from ..judges.setup import set_backend_factory

        self._previous_judges = set_backend_factory(
            self.judge_backend, self.options.judge_model, self.config, self.services
        )

    def _uninstall(self) -> None:
        from ..inference import set_run_engine
        from ..judges.setup import set_backend_factory

        set_run_engine(self._previous_engine)
        set_backend_factory(*self._previous_judges)

    def _check_report_dir(self) -> None:
        """A report directory given (flag or ini), or the directory of ``--mleval-save-baseline``,
        that cannot be written stops the run now.

        Found at the end, it cost every case's model calls and wrote nothing. The default
        directory is left alone (created only when a run writes to it): a plain test run must
        not make a ``reports/`` directory.
        """
        from ..options import MlevalOptions

        if self.options.no_report:
            return
        given = self.options.report_dir
        if given != MlevalOptions.report_dir:
            _check_writable(self._path(given), f"--mleval-report-dir {given}")
        save = self.options.save_baseline
        if save:
            _check_writable(Path(save).parent, f"--mleval-save-baseline {save}")

    def _load_baseline(self, path: str) -> RunResults:
        """Read the baseline up front: a missing or unreadable one stops the run at once."""
        from ..errors import ResultsFileError
        from ..results.records import load_results

        try:
            return load_results(path)
        except ResultsFileError as exc:
            raise pytest.UsageError(f"--mleval-baseline: {exc}") from None

    # ------------------------------------------------------------------ inference

    def engine(self) -> InferenceEngine:
        """The run's inference engine, created on first use (one per process)."""
        if self._engine is None:
            from ..errors import ConfigError
            from ..inference.targets import build_engine, parse_rate_limits

            try:
                limits = parse_rate_limits(self.options.ini.rate_limits)
            except ConfigError as exc:
                raise pytest.UsageError(str(exc)) from None
            for suite in self.suites.values():
                rl = suite.spec.rate_limit
                if rl is not None and suite.spec.target and suite.spec.target.startswith("model:"):
                    model = self.options.model or suite.spec.target[len("model:") :]
                    limits.setdefault(model, (rl.rpm, rl.tpm))
            opts = self.options
            self._engine = build_engine(
                cache_mode=opts.cache,
                cache_path=str(self._path(opts.cache_path)),
                cache_url=opts.cache_url,
                concurrency=opts.concurrency,
                max_cost_usd=opts.max_cost,
                rate_limits=limits,
                max_retries=opts.max_retries,
                retry_delay=opts.retry_delay,
                timeout=opts.timeout,
                litellm_worker=not opts.litellm_inline,
                limits_address=self._limits_address(),
                client=opts.client,
            )
            if not opts.litellm_inline:
                self._use_litellm_server()
        return self._engine

    def _limits_address(self) -> str | None:
        """The run-wide limiter's address in an xdist worker (``None`` in one process)."""
        from ..inference.limits import LIMITS_WORKERINPUT

        workerinput = getattr(self.config, "workerinput", None) or {}
        address = workerinput.get(LIMITS_WORKERINPUT)
        return str(address) if address else None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: one limiter for the whole run; each worker learns its address.

        Without it every worker would allow ``--mleval-concurrency`` calls and each model's
        whole rate limit by itself. A run without xdist never starts it.
        """
        from ..inference.limits import LIMITS_WORKERINPUT, LimitServer

        spec = getattr(getattr(node, "gateway", None), "spec", None)
        if spec is not None and not getattr(spec, "popen", False):
            return  # a worker on another machine cannot reach a local socket: its own limits
        if self._limit_server is None:
            self._limit_server = LimitServer(self.options.concurrency)
            self._limit_server.start()
        node.workerinput[LIMITS_WORKERINPUT] = self._limit_server.address

    def lookahead(self) -> int:
        """How many generations run ahead of the item pytest runs: twice the concurrency.

        Enough to keep every call slot busy while items are scored in order, and the most a
        run stopped by ``-x``, ``--maxfail`` or Ctrl-C has paid for beyond where it stopped.
        xdist workers split it (each covers its own queued items), so the run's total holds.
        """
        window = 2 * self.options.concurrency
        workerinput = getattr(self.config, "workerinput", None) or {}
        workers = max(1, int(workerinput.get("workercount", 1) or 1))
        return max(1, -(-window // workers))

    def judge_backend(self, model: str) -> EngineJudge:
        """A judge backend on the run's engine."""
        from ..inference.targets import EngineJudge

        return EngineJudge(self.engine(), model, api_base=self.services.api_base)

    def baseline_case(self, suite: str, case_id: str, repeat: int) -> CaseResult | None:
        """The baseline run's record of a case with an output (its repeat, else repeat 0), for
        pairwise judges (its output, and its trajectory for ``over: trajectory``)."""
        if self.baseline is None:
            return None
        if self._baseline_cases is None:
            self._baseline_cases = {
                (c.suite, c.case_id, c.repeat): c for c in self.baseline.cases if c.output
            }
        return self._baseline_cases.get((suite, case_id, repeat)) or self._baseline_cases.get(
            (suite, case_id, 0)
        )

    def _path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else Path(str(self.config.rootpath)) / p

    def pytest_keyboard_interrupt(self) -> None:
        if self._engine is not None:
            self._engine.cancel_pending()

    def pytest_unconfigure(self) -> None:
        self._uninstall()
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
        models = [self.options.judge_model, *eval_file_models(path)]
        if self.options.model:
            models.append(self.options.model)
        from ..inference.clients import native_endpoint
        from ..inference.warmup import warm_native_client

        api_base = self.options.ini.api_base
        if any(m and native_endpoint(m, api_base, self.options.client) for m in models):
            warm_native_client()
        if any(self._model_needs_litellm(m) for m in models):
            self._start_litellm()

    def register_suite(self, suite: Suite) -> None:
        """Remember a collected suite (for gates and metadata)."""
        self.suites.setdefault(suite.name, suite)
        if not self._litellm_started and self._needs_litellm(suite):
            self._start_litellm()

    def _start_litellm(self) -> None:
        from ..inference.worker import start_litellm_worker

        # litellm takes seconds to import: its worker process starts now, so the import
        # overlaps the rest of collection instead of delaying the first call.
        self._litellm_started = True
        self._use_litellm_server()
        start_litellm_worker()

    def _use_litellm_server(self) -> None:
        from ..inference.forkserver import server_wanted
        from ..inference.worker import use_litellm_server

        use_litellm_server(server_wanted(self.options.litellm_server))

    def _litellm_possible(self) -> bool:
        return not (
            self.options.litellm_inline
            or self.options.cache == "replay"  # replayed answers never need litellm
            or self.config.option.collectonly
        )

    def _needs_litellm(self, suite: Suite) -> bool:
        if not self._litellm_possible():
            return False
        models = [self.options.judge_model or suite.spec.judge_model]
        target = suite.spec.target or ""
        if target.startswith("model:"):
            models.append(self.options.model or target[len("model:") :])
        return any(self._model_needs_litellm(m, suite.spec.api_base) for m in models)

    def _model_needs_litellm(self, model: str | None, api_base: str | None = None) -> bool:
        # Calls the native client serves need no litellm: its worker is not started for them.
        from ..inference.clients import needs_litellm

        return needs_litellm(model, self.options.client, api_base or self.options.ini.api_base)

    def target_for(self, item: EvalItem) -> Callable[..., Any]:
        """Resolve (and cache per suite) the target of an item's suite."""
        return self.targets.target_for(item)

    def generate(self, item: EvalItem) -> TargetOutput:
        """Produce the output of one item (a prefetched result when the target has one)."""
        return self.targets.generate(item)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            # Under xdist the controller sees workers' failed collect reports here too; each
            # file is listed once however many workers failed to collect it.
            error = _collection_error(report, self.config)
            if all(e.nodeid != error.nodeid for e in self.collection_errors):
                self.collection_errors.append(error)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._selection.deselected(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # Suites the user's selection left without a case: their gates are not checked.
        self._unselected = self._selection.unselected(session.items, self.suites)
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None and self._unselected:
            workeroutput[_UNSELECTED_OUTPUT] = unselected_json(self._unselected)
        evals = {i.nodeid for i in session.items if eval_item(i) is not None}
        if not self.is_worker and session.items:
            # Known only where items are collected (not on an xdist controller): lets the end
            # of the run tell cases that never ran (-x, --maxfail, Ctrl-C) from a full run.
            self._eval_nodeids = evals
        if evals and not session.config.option.collectonly:
            # What start-up and collection built (modules, suites, items) lives to the end of
            # the run: out of the cyclic collector's way, the collections during the run and
            # pytest's at its end skip it (~0.2 s of a 1,000-case run). Objects are still
            # freed when their references go; only cycles among them would wait for exit.
            gc.freeze()

    def _only_eval_files_failed(self) -> bool:
        return bool(self.collection_errors) and all(
            self._is_eval_error(e) for e in self.collection_errors
        )

    # ------------------------------------------------------------------ look-ahead

    def _issued(self, item: pytest.Item) -> bool:
        return self.ahead.issued(item)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # After selection (-k, -m, deselection by other plugins): the order items run in.
        from .sequential import sequential_order

        if self.options.shard_spec() is not None:
            self._select_shard(items)
        sequential_order(items, self.options.seed, self.sequential.applies)

    def _select_shard(self, items: list[pytest.Item]) -> None:
        """``--mleval-shard I/N``: keep this shard's items, deselect the rest (as ``-k`` does).

        An eval case goes by its suite (a variant's by the suite it varies) and id, so its
        repeats and variants stay together; any other test by its node id. Every process
        that collects (each xdist worker) deselects the same items.
        """
        from ..results.shards import case_shard, node_shard

        spec = self.options.shard_spec()
        assert spec is not None
        index, count = spec
        kept, deselected = [], []
        # Where each kept item is in the whole collection: the merge puts the union of the
        # cases back in the order one unsharded run reports them (statistics that resample,
        # such as a median's bootstrap, see the same order).
        positions: dict[str, int] = {}
        for position, item in enumerate(items):
            ev = eval_item(item)
            if ev is not None:
                suite = ev.suite.variant_of or ev.suite.name
                shard = case_shard(suite, ev.eval_case.id, count)
            else:
                shard = node_shard(item.nodeid, count)
            if shard == index:
                kept.append(item)
                positions.setdefault(item.nodeid, position)
            else:
                deselected.append(item)
        if deselected:
            with self._selection.sharding():
                self.config.hook.pytest_deselected(items=deselected)
            items[:] = kept
        self._shard_info = self._shard_record(index, count, len(kept), len(deselected))
        self._shard_info.positions = positions
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            # The controller collects nothing: it learns the shard's files from a worker.
            workeroutput[_SHARD_OUTPUT] = self._shard_info.model_dump_json()

    def _shard_record(self, index: int, count: int, selected: int, deselected: int) -> ShardInfo:
        """What a shard's results say about it: which, and what must agree to merge."""
        from ..results.records import ShardInfo
        from ..results.shards import file_sha256, result_options, shard_fingerprint

        root = Path(str(self.config.rootpath))
        files: dict[str, str] = {}
        for suite in self.suites.values():
            path = Path(suite.path).resolve()
            try:
                rel = path.relative_to(root).as_posix()
            except ValueError:
                rel = str(path)
            if rel not in files:
                files[rel] = file_sha256(path)
        from ..inference.scrubbing import scrub

        ini = self.options.ini
        # The results file keeps these: an API base's password or key goes, as flags' do.
        api_base = scrub(ini.api_base) if ini.api_base else ini.api_base
        options = result_options(
            self.options.flags(),
            {"api_base": api_base, "embedder": ini.embedder, "rag_config": ini.rag_config},
        )
        baseline = self.options.baseline
        return ShardInfo(
            index=index,
            count=count,
            fingerprint=shard_fingerprint(files, options),
            files=files,
            options=options,
            root=str(root),
            baseline_sha256=file_sha256(baseline) if baseline else None,
            selected=selected,
            deselected=deselected,
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: a worker's shard record (every worker's is the same)."""
        from ..results.records import ShardInfo

        output = getattr(node, "workeroutput", None) or {}
        raw = output.get(_SHARD_OUTPUT)
        if raw and self._shard_info is None:
            self._shard_info = ShardInfo.model_validate_json(raw)
        if output.get(_CALLS_OUTPUT):
            import json

            self._workers_outside.append(json.loads(output[_CALLS_OUTPUT]))
        if output.get(_UNSELECTED_OUTPUT) and not self._unselected:
            # Every worker collects and selects the same items: the first one's list will do.
            self._unselected = unselected_from_json(output[_UNSELECTED_OUTPUT])

    def _outside_calls(self) -> dict[str, CallUse]:
        """The model calls no case made (building RAG pipelines), this process's and the
        workers': they count in the run's total and its models' rows."""
        from ..results.records import CallUse
        from ..results.run import sum_calls

        parts = [{m: CallUse(**u) for m, u in w.items()} for w in self._workers_outside]
        # Only a run that built a pipeline imported the module that builds them.
        rag = sys.modules.get("pytest_mleval.retrieval.targets")
        if rag is not None:
            parts += [{m: CallUse(**u) for m, u in p.items()} for p in rag.take_build_calls()]
        return sum_calls(*parts)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        # A broken eval file is one collection error; every other file still runs (pytest
        # would otherwise stop the whole session). Other collection errors keep pytest's rule.
        if self._only_eval_files_failed():
            session.config.option.continue_on_collection_errors = True
        if session.config.option.collectonly or self.is_worker:
            return
        # The first window starts before the first item.
        self.ahead.start(session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        if self.is_worker:
            self.ahead.advance_worker(item)
        else:
            self.ahead.advance(item)

    def _warm_finish(self) -> None:
        """Import what the end of the run needs (statistics, numpy, the report) on a thread
        now, while items wait for model calls, instead of after the last item."""
        if self.is_worker or self._warm_thread is not None:
            return
        modules = [
            "pytest_mleval.results.run",
            "pytest_mleval.results.aggregate",
            "pytest_mleval.stats",
            # The paired tests' random generator; scipy is no longer needed at the end.
            "numpy.random",
            "pytest_mleval.results.compare",
            "pytest_mleval.report.summary",
        ]
        if not self.options.no_report:
            modules += [
                "pytest_mleval.report.outputs",
                "pytest_mleval.report.html",
                "pytest_mleval.report.history",
            ]

        def load() -> None:
            for name in modules:
                # A module that fails here fails again where it is needed, and says so there.
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
            if not self.options.no_report:
                # The report's template compile, too: the end of the run then only renders.
                with contextlib.suppress(Exception):
                    from ..report.html import prepare_report

                    prepare_report()

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
        from ..results.records import CaseResult

        keep = []
        for name, value in report.user_properties:
            if name == CASE_PROPERTY:
                result = CaseResult.model_validate_json(str(value))
                key = f"{report.nodeid}\x00{result.suite}\x00{result.case_id}\x00{result.repeat}"
                # Kept raw for the end of the run (the variant judge reads the raw outputs);
                # what is published is redacted (--mleval-redact).
                self.results[key] = result
                self.config.hook.pytest_mleval_case_result(
                    result=self._published_case(result), config=self.config
                )
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
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            import json

            workeroutput[_CALLS_OUTPUT] = json.dumps(
                {m: u.model_dump() for m, u in self._outside_calls().items()}
            )
        if self.is_worker or session.config.option.collectonly:
            return
        eval_errors = [e for e in self.collection_errors if self._is_eval_error(e)]
        # A shard whose share of the eval cases is empty (fewer cases than shards) ran all it
        # had to: it passes, and writes its results, or the merge misses a shard.
        empty_shard = (
            not self.results
            and self._shard_info is not None
            and bool(self._shard_info.files)
            and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED
        )
        if empty_shard:
            session.exitstatus = pytest.ExitCode.OK
            exitstatus = pytest.ExitCode.OK
        elif not self.results and not eval_errors:
            return  # no eval ran and no eval file broke: nothing to report
        try:
            self.run = self.build_run(int(exitstatus))
            self.gate_failures = [g for g in self.run.gates if not g.passed]
            # A shard's gates see a part of the cases: `mleval merge` decides them over all.
            sharded = self.options.shard_spec() is not None
            if self.gate_failures and session.exitstatus == pytest.ExitCode.OK and not sharded:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            # Every output derives its headline from the status the run ends with.
            self.run.meta.exit_status = int(session.exitstatus)
            if not sharded:
                self._record_junit_gates(self.run)
            self.config.hook.pytest_mleval_run_results(run=self.run, config=self.config)
            if not self.options.no_report:
                self.write_outputs(self.run)
        except Exception as exc:
            self.errors.append(f"could not finish the run's results: {type(exc).__name__}: {exc}")
            self._write_raw_results()
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            return

    def _is_eval_path(self, file: str) -> bool:
        return is_eval_file(Path(file), list(self.options.ini.files))

    def _record_junit_gates(self, run: RunResults) -> None:
        """The gates as test cases of ``--junitxml`` (which pytest writes after this hook)."""
        from .junit import record_gates

        try:
            record_gates(self.config, run)
        except Exception as exc:  # pytest's JUnit internals moved: the run's verdict stands
            self.errors.append(
                f"could not add the gates to --junitxml: {type(exc).__name__}: {exc}"
            )

    def _is_eval_error(self, error: CollectionError) -> bool:
        # By the node that failed: the error's own file may be a dataset of an eval file.
        return self._is_eval_path(error.collected)

    def _meta(self, exit_status: int, cases: Iterable[CaseResult]) -> RunMeta:
        """The run's metadata (``incomplete`` left empty: see :meth:`_incomplete`)."""
        from ..results.run import run_meta

        sha, branch = _git_info(Path(str(self.config.rootpath)))
        meta = run_meta(
            started=self._started,
            cases=cases,
            flags=self.options.flags(),
            seed=self.options.seed,
            exit_status=exit_status,
            git_sha=sha,
            git_branch=branch,
        )
        meta.shard = self._shard_info
        return meta

    def _incomplete(self, exit_status: int) -> list[str]:
        """Why this run is not the whole run (empty when it is)."""
        from ..results.run import why_incomplete

        return why_incomplete(
            self.collection_errors,
            interrupted=exit_status == pytest.ExitCode.INTERRUPTED,
            internal_error=exit_status == pytest.ExitCode.INTERNAL_ERROR,
            # Reported at all (a skipped item ran as far as it should), not only scored.
            expected=self._eval_nodeids,
            reported=self._reported,
        )

    def _settings(self) -> RunSettings:
        from ..results.run import RunSettings

        return RunSettings(
            confidence=self.options.confidence,
            seed=self.options.seed,
            regression_margin=self.options.regression_margin or 0.0,
            regression_metrics=self.options.regression_metric_names(),
            sequential=self.options.sequential,
            repeats=self.options.repeats or None,
        )

    def build_run(self, exit_status: int) -> RunResults:
        """Hand the gathered results to :func:`.results.run.assemble_run`."""
        from ..results.run import Gathered, assemble_run

        cases = list(self.results.values())
        meta = self._meta(exit_status, cases)
        meta.incomplete = self._incomplete(exit_status)
        gathered = Gathered(
            meta=meta,
            cases=cases,
            suites=self.suites,
            collection_errors=list(self.collection_errors),
            baseline=self.baseline,
            inference=None if self._engine is None else self._engine.summary(),
            sequential=self.sequential.summary(),
            outside_calls=self._outside_calls(),
            unselected=dict(self._unselected),
        )
        run, notes = assemble_run(gathered, self._settings())
        self.errors.extend(notes)
        if run.variant_sets:
            self._judge_variants(run)
        if self.options.redact:
            # After every score and judgement: they read the raw records.
            from ..results.redaction import redact_run

            run = redact_run(run)
        return run

    def _published_case(self, result: CaseResult) -> CaseResult:
        """The record as hooks and files see it: redacted under ``--mleval-redact``."""
        if not self.options.redact:
            return result
        from ..results.redaction import redact_case

        return redact_case(result)

    def _judge_variants(self, run: RunResults) -> None:
        """A suite's ``judge_variants:``: the pairwise judge between its variants' outputs, here
        on the controller where every variant's outputs are known, through the run's engine."""
        from ..inference.metering import metering
        from ..judges.variants import judge_run_variants
        from ..results.records import CallUse
        from ..results.run import add_outside_calls

        with metering() as meter:
            self.errors.extend(
                judge_run_variants(
                    run,
                    suites=self.suites,
                    factory=self.judge_backend,
                    default_model=self.options.judge_model,
                    confidence=self.options.confidence,
                    seed=self.options.seed,
                    workers=self.options.concurrency,
                )
            )
        # The usage people read counts the judge's calls with the cases' (no suite row: they
        # judge a variant set, across the variants' suites; the row of calls outside cases).
        calls = {m: CallUse(**u) for m, u in meter.as_dict().items()}
        if calls:
            add_outside_calls(run.usage, calls, share="metric_calls")
        if self._engine is not None:
            # The judge's calls are the run's too: the summary counts them.
            run.usage["inference"] = self._engine.summary()

    def report_dir(self) -> Path:
        """Where outputs go (relative paths are relative to the rootdir)."""
        return self._path(self.options.report_dir)

    def _plan(self) -> OutputPlan:
        from ..report.outputs import OutputPlan

        save = self.options.save_baseline
        return OutputPlan(
            report_dir=self.report_dir(),
            history=self.options.history,
            # As given (relative to the working directory), like the other file arguments.
            save_baseline=Path(save) if save else None,
        )

    def write_outputs(self, run: RunResults) -> None:
        """Hand the run to :func:`.report.outputs.write_outputs` (the controller only)."""
        from ..report.outputs import Written, write_outputs

        written = Written(paths=self.written, errors=self.errors)
        baseline = self.baseline
        if baseline is not None and self.options.redact:
            # The HTML report shows the baseline's outputs beside this run's.
            from ..results.redaction import redact_run

            baseline = redact_run(baseline)
        write_outputs(run, self._plan(), written, baseline=baseline)

    def _write_raw_results(self) -> None:
        """Last resort: keep the per-case results even when assembling the run failed."""
        from ..report.outputs import Written, write_raw_results
        from ..results.records import RunResults

        written = Written(paths=self.written, errors=self.errors)
        try:
            cases = [self._published_case(c) for c in self.results.values()]
            run = RunResults(meta=self._meta(-1, []), cases=cases)
        except Exception as exc:
            self.errors.append(f"could not write raw results either: {exc}")
            return
        write_raw_results(run, self._plan(), written)

    # ------------------------------------------------------------------ terminal

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        tr = terminalreporter
        for err in self.errors:
            if self.options.redact:
                from ..safety.pii import redact_text

                err = redact_text(err)
            tr.write_line(f"mleval: {err}", red=True)
        if self.run is None:
            return
        from ..report.summary import terminal_lines

        tr.write_sep("=", "mleval summary")
        for line, style in terminal_lines(self.run):
            tr.write_line(line, **style)
        for path in self.written:
            tr.write_line(f"mleval: wrote {_display(path, self.config)}")
        litellm_line = self._litellm_line()
        if litellm_line:
            tr.write_line(f"mleval: {litellm_line}")
        for line in self._client_fallback_lines():
            tr.write_line(f"mleval: {line}", yellow=True)
        budget_line = self._unbounded_budget_line()
        if budget_line:
            tr.write_line(f"mleval: {budget_line}", yellow=True)

    def _unbounded_budget_line(self) -> str | None:
        # The budget adds up priced calls only: a model with no price spends unseen by it.
        limit = self.options.max_cost
        total = (self.run.usage if self.run is not None else {}).get("total") or {}
        unknown = int(total.get("cost_unknown") or 0)
        if limit is None or not unknown:
            return None
        return (
            f"--mleval-max-cost ${limit:g} counts calls to a model with no price as $0: "
            f"{unknown} case(s) called one, so the budget does not bound what they spent"
        )

    def _client_fallback_lines(self) -> list[str]:
        # Requests the native client could not make went to litellm: the run says which.
        provider = getattr(self._engine, "provider", None)
        counts = getattr(provider, "fallbacks", None) or {}
        return [
            f"litellm served {n} request{'s' if n != 1 else ''} of {model} ({why}; the native "
            "client does not send it)"
            for (model, why), n in sorted(counts.items())
        ]

    def _litellm_line(self) -> str | None:
        # Only a worker this run started: the module is not imported just to ask (a run that
        # made no model call never loaded it).
        worker_module = sys.modules.get("pytest_mleval.inference.worker")
        worker = None if worker_module is None else worker_module.existing_litellm_worker()
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


def _collection_error(report: pytest.CollectReport, config: pytest.Config) -> CollectionError:
    """The record of a failed collection: file, line when the message names one, text."""
    from ..results.records import CollectionError

    text = report.longreprtext.strip() or "collection failed"
    file = report.nodeid.split("::", 1)[0] or report.fspath
    line = None
    match = _WHERE.search(text)
    if match and match.start() == 0 and not _installed(Path(match["file"])):
        # file and line have fields of their own: the message says what is wrong. The file
        # may be a dataset of the eval file: its row is the place to look, not the eval file.
        line = int(match["line"])
        if Path(match["file"]).name != Path(file).name:
            file = _display(Path(match["file"]), config)
        text = text[match.end() :].strip() or text
    else:
        # A traceback (an import or syntax error): its innermost frame in the collected
        # file, not its first line, which is pytest's own importer.
        line = _line_in(text, Path(file).name)
    if len(text) > 4000:  # a long traceback: its end says what failed
        text = "…" + text[-4000:]
    return CollectionError(nodeid=report.nodeid or file, file=file, line=line, message=text)


# A Python traceback's own form, e.g. a SyntaxError's `File "/x/test_a.py", line 2`.
_FILE_LINE = re.compile(r'File "(?P<file>[^"\n]+)", line (?P<line>\d+)')


def _line_in(text: str, name: str) -> int | None:
    """The line of the last place in ``text`` (a traceback) that names the file ``name``."""
    found = [
        (m.start(), int(m["line"]))
        for pattern in (_WHERE, _FILE_LINE)
        for m in pattern.finditer(text)
        if Path(m["file"].strip()).name == name
    ]
    return max(found)[1] if found else None


def _installed(path: Path) -> bool:
    """Whether ``path`` is in Python's installation (pytest's, a library's), not the project."""
    if not path.is_absolute():
        return False
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    resolved = path.resolve()
    return any(resolved.is_relative_to(prefix) for prefix in prefixes)


def _display(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(Path(str(config.rootpath))))
    except ValueError:
        return str(path)


def _git_info(root: Path) -> tuple[str | None, str | None]:
    """The working tree's commit and branch (``None`` each outside a git repository)."""

    try:
        # One git process for both (each costs ~5 ms of the end of a run).
        out = subprocess.run(
            ["git", "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None, None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2:
        return None, None
    return lines[0], lines[1]


def _check_writable(directory: Path, what: str) -> None:
    """Create ``directory`` and write a file there, or raise a usage error naming ``what``."""
    import tempfile

    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise pytest.UsageError(f"{what}: cannot write there ({why}); no case was run") from None
