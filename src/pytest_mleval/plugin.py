"""The pytest plugin: hooks and fixtures (options live in :mod:`.options`).

Kept cheap to import: pytest starts with this module for every user who has the package
installed, so heavy libraries load only when a run needs them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest


def _leave_package_unrewritten() -> None:
    """Take this package off pytest's list of modules whose asserts it rewrites.

    pytest rewrites every module of a plugin's distribution: it parses and compiles each one
    again at import (~0.35 s for this package's ~80 modules where no rewritten ``.pyc`` is
    cached yet: every fresh CI install). The package's asserts only narrow types; users'
    test modules and conftests are rewritten as before. Uses pytest's private rewrite-hook
    state; if that ever changes, nothing happens and pytest rewrites as it did.
    """
    for finder in list(sys.meta_path):
        marked = getattr(finder, "_must_rewrite", None)
        cache = getattr(finder, "_marked_for_rewrite_cache", None)
        if isinstance(marked, set) and __package__ in marked:
            marked.discard(str(__package__))
            if isinstance(cache, dict):
                for name in [n for n in cache if n.split(".", 1)[0] == __package__]:
                    del cache[name]


_leave_package_unrewritten()

from . import context  # noqa: E402  (after the rewrite marks are gone: see above)
from .evalfiles import is_eval_file  # noqa: E402
from .options import get_options, register_options  # noqa: E402

if TYPE_CHECKING:
    import warnings

    from .collect import EvalFile


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    # Again for each session: a second one in this process (pytester's in-process runs) has
    # a new rewrite hook with the marks back, and its imports of the package parsed source on
    # the main thread and a warm-up thread at once, which CPython 3.11.7's AST constructor
    # does not survive (gh-106905: "SystemError: AST constructor recursion depth mismatch").
    _leave_package_unrewritten()
    register_options(parser)
    # The plugin loads early in pytest's start-up: litellm's worker can start importing now
    # when the run's paths hold model suites (see prestart.py).
    from .prestart import prestart_litellm

    prestart_litellm(pluginmanager.get_plugin("pytestconfig"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from .session import MlevalSession

    config.addinivalue_line(
        "markers", "mleval(suite=None): mark a plain test as an eval case of a suite (Python API)."
    )
    session = MlevalSession(config)
    config.stash[context.SESSION_KEY] = session
    config.pluginmanager.register(session, "mleval-session")
    context.push_config(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    context.pop_config(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> EvalFile | None:
    if file_path.suffix in (".yaml", ".yml") and is_eval_file(
        file_path, get_options(parent.config).ini.files
    ):
        session = parent.config.stash.get(context.SESSION_KEY, None)
        if session is not None:
            session.peek_eval_file(file_path)
        # Collection machinery (pydantic, jinja2) loads only once an eval file is seen.
        from .collect import EvalFile

        item: EvalFile = EvalFile.from_parent(parent, path=file_path)
        return item
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    context.push_item(item)
    try:
        return (yield)
    finally:
        context.pop_item(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    record = getattr(item, "record_marker_skip", None)
    if record is not None and report.longrepr is not None and not _scored_failure(call):
        # An eval case's error (what its target or a metric raised, a skip's reason): an API
        # key in an HTTP client's message must not reach the terminal, junit or xdist's
        # transport (its record is scrubbed the same way, see collect.py). A scored failure
        # shows the output, which stays as written unless --mleval-redact.
        from .inference.scrubbing import scrub
        from .session.redaction import redact_report

        redact_report(report, scrub)
    if call.when == "setup" and report.skipped and record is not None:
        # A skip mark (a conftest without an API key, `tags: [skip]`) skips an eval case
        # before its setup runs: it is recorded as skipped, as a target's own skip is.
        record(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    if report.failed:
        # A module (or an eval file's value) that fails to collect with a key in its message:
        # pytest's ERRORS section, junit and the run's collection errors all read this report.
        from .inference.scrubbing import scrub
        from .session.redaction import redact_report

        redact_report(report, scrub)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_warning_recorded(warning_message: warnings.WarningMessage) -> None:
    # Before pytest's terminal (and xdist's transport) keep its text: a target warning with
    # the key it retried with showed it in the "warnings summary".
    message = warning_message.message
    if isinstance(message, Warning) and len(message.args) == 1 and isinstance(message.args[0], str):
        from .inference.scrubbing import scrub

        clean = scrub(message.args[0])
        if clean != message.args[0]:
            message.args = (clean,)


def _scored_failure(call: pytest.CallInfo[None]) -> bool:
    """Whether the case failed on its scores (its report shows the output, not an error)."""
    if call.excinfo is None:
        return False
    from .collect import EvalCaseFailure

    return isinstance(call.excinfo.value, EvalCaseFailure)


@pytest.fixture(scope="session")
def llm(pytestconfig: pytest.Config) -> Any:
    """Chat completions through the run's inference engine (cache, limits, retries, cost).

    Example::

        def test_summary(llm):
            reply = llm.complete("Summarise: ...", model="openai/gpt-4o-mini", temperature=0)
            assert "refund" in reply.text
    """
    from .inference.targets import LLMClient

    session = pytestconfig.stash[context.SESSION_KEY]
    return LLMClient(
        session.engine(),
        model=get_options(pytestconfig).model,
        api_base=get_options(pytestconfig).ini.api_base,
    )


@pytest.fixture(scope="session")
def finetune(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Run fine-tuning jobs from tests: ``finetune(config) -> JobRecord`` (docs/finetuning.md)."""
    from .finetune.jobs import finetune_fixture_factory

    return finetune_fixture_factory(tmp_path_factory.mktemp("mleval-finetune"))


@pytest.fixture(scope="session")
def embedder(pytestconfig: pytest.Config) -> Any:
    """The embedder named by ini ``mleval_embedder`` (local all-MiniLM-L6-v2 by default)."""
    from .retrieval.embedders import get_embedder

    return get_embedder(get_options(pytestconfig).ini.embedder)


@pytest.fixture(scope="session")
def rag_pipeline(pytestconfig: pytest.Config) -> Any:
    """The ingested RAG pipeline of ini ``mleval_rag_config`` (override it in conftest.py)."""
    from .retrieval.targets import load_pipeline

    config = get_options(pytestconfig).ini.rag_config
    if not config:
        raise pytest.UsageError(
            "the rag_pipeline fixture needs ini mleval_rag_config (a RAG YAML), "
            "or define your own rag_pipeline fixture in conftest.py"
        )
    path = Path(config)
    if not path.is_absolute():
        path = Path(str(pytestconfig.rootpath)) / path
    return load_pipeline(path, services=pytestconfig.stash[context.SESSION_KEY].services)


@pytest.fixture(scope="session")
def retriever(rag_pipeline: Any) -> Any:
    """``retrieve(query, k)`` of the rag_pipeline fixture."""
    return rag_pipeline.retrieve


@pytest.fixture
def mleval(request: pytest.FixtureRequest) -> Any:
    """Score outputs of plain pytest tests with eval metrics; results join the run's report.

    Example::

        @pytest.mark.parametrize("case", load_cases("evals/qa.eval.yaml"))
        def test_bot(case, mleval):
            mleval.check(case, my_bot(case.input))
    """
    from .api import Checker

    return Checker(request.node)
