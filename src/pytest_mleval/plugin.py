"""The pytest plugin: options (with ini twins), hooks and fixtures.

Kept cheap to import: pytest starts with this module for every user who has the package
installed, so heavy libraries load only when a run needs them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .collect import EvalFile

DEFAULT_PATTERNS = ("*.eval.yaml", "*.eval.yml", "eval_*.yaml", "eval_*.yml")


def is_eval_file(path: Path, patterns: list[str]) -> bool:
    """Whether a path matches one of the eval-file patterns."""
    return any(fnmatch.fnmatch(path.name, p) for p in patterns)


# (name, metavar, type, default, help); each becomes --mleval-NAME and ini mleval_NAME.
OPTIONS: list[tuple[str, str | None, Any, Any, str]] = [
    (
        "report-dir",
        "DIR",
        str,
        "reports",
        "directory for results, report and summary (default: reports).",
    ),
    (
        "baseline",
        "PATH",
        str,
        None,
        "results JSON of an earlier run: paired comparison and regression gate.",
    ),
    (
        "save-baseline",
        "PATH",
        str,
        None,
        "also write this run's results to PATH, for use as a baseline.",
    ),
    ("model", "ID", str, None, "override the model of model: targets."),
    ("judge-model", "ID", str, None, "model used by judge metrics."),
    (
        "cache",
        "MODE",
        str,
        "rw",
        "model-call cache: rw (default), ro, off, or replay (a miss is an error).",
    ),
    (
        "cache-path",
        "PATH",
        str,
        ".mleval/cache.sqlite",
        "model-call cache file (default: .mleval/cache.sqlite).",
    ),
    (
        "concurrency",
        "N",
        int,
        8,
        "concurrent model calls across the whole run, every xdist worker together; "
        "generations are issued at most 2 x N cases ahead of the running item, so -x, "
        "--maxfail and Ctrl-C stop spending there (default: 8).",
    ),
    ("repeats", "N", int, None, "override the repeats of every suite."),
    ("seed", "N", int, 0, "seed for sampling, bootstrap and permutation tests (default: 0)."),
    (
        "max-retries",
        "N",
        int,
        4,
        "retries of a failed model call (429, 5xx, timeouts; default: 4).",
    ),
    ("retry-delay", "SECONDS", float, 0.5, "base delay of exponential backoff (default: 0.5)."),
    ("timeout", "SECONDS", float, 120.0, "per-call timeout of model calls (default: 120)."),
    ("max-cost", "USD", float, None, "stop issuing model calls once the run has spent this much."),
    ("history", "URL", str, None, "run-history database URL (default: SQLite in the report dir)."),
    ("confidence", "LEVEL", float, 0.95, "confidence level of intervals (default: 0.95)."),
    (
        "regression-margin",
        "DELTA",
        float,
        0.0,
        "drops smaller than this never fail the regression gate (default: 0).",
    ),
    (
        "regression-metrics",
        "A,B",
        str,
        None,
        "metrics whose regression against the baseline fails the run, for suites without "
        "regression_metrics (default: every metric in both runs but latency and cost).",
    ),
    ("no-report", None, bool, False, "write no results, report or summary files."),
    (
        "max-prompt-chars",
        "N",
        int,
        1_000_000,
        "a rendered prompt, system message or var longer than N characters is an error of "
        "its case (default: 1000000).",
    ),
    (
        "render-timeout",
        "SECONDS",
        float,
        5.0,
        "a template render taking longer than this is an error of its case (default: 5).",
    ),
    (
        "max-output-chars",
        "N",
        int,
        100_000,
        "outputs longer than N characters are stored truncated in the results and reports, "
        "with their full length and SHA-256 (default: 100000).",
    ),
    (
        "litellm-inline",
        None,
        bool,
        False,
        "run litellm in the pytest process, not in a worker process (for a conftest that "
        "customises litellm: callbacks, custom providers).",
    ),
    (
        "litellm-server",
        "auto|on|off",
        str,
        "auto",
        "keep litellm imported between runs in a background server that exits after 15 "
        "idle minutes, so model calls start without waiting for litellm's import "
        "(default: auto, which is on except when the CI variable is set).",
    ),
]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("mleval", "LLM evaluation (pytest-mleval)")
    for name, metavar, typ, default, help_text in OPTIONS:
        dest = "mleval_" + name.replace("-", "_")
        flag = f"--mleval-{name}"
        if typ is bool:
            group.addoption(flag, action="store_true", default=None, dest=dest, help=help_text)
            parser.addini(dest, help_text, type="bool", default=default)
        else:
            group.addoption(
                flag,
                action="store",
                metavar=metavar,
                type=typ,
                default=None,
                dest=dest,
                help=help_text,
            )
            parser.addini(
                dest, help_text, type="string", default=None if default is None else str(default)
            )
    parser.addini(
        "mleval_files",
        "glob patterns of eval files (default: *.eval.yaml *.eval.yml eval_*.yaml eval_*.yml).",
        type="args",
        default=list(DEFAULT_PATTERNS),
    )
    parser.addini(
        "mleval_api_base", "default api_base for model: targets.", type="string", default=None
    )
    parser.addini(
        "mleval_embedder",
        "embedder of the embedder fixture and embedding metrics: local (default), litellm:MODEL.",
        type="string",
        default=None,
    )
    parser.addini(
        "mleval_rag_config",
        "RAG config YAML of the rag_pipeline fixture.",
        type="string",
        default=None,
    )
    parser.addini(
        "mleval_rate_limits",
        "per-model rate limits, one per line: MODEL rpm=N tpm=N.",
        type="linelist",
        default=[],
    )
    # The plugin loads early in pytest's start-up: litellm's worker can start importing now
    # when the run's paths hold model suites (see prestart.py).
    from .prestart import prestart_litellm

    prestart_litellm(pluginmanager.get_plugin("pytestconfig"))


def get_option(config: pytest.Config, name: str) -> Any:
    """The value of ``--mleval-NAME``, else its ini twin, else the default (typed)."""
    spec = {o[0]: o for o in OPTIONS}.get(name)
    if spec is None:  # pragma: no cover - programming error
        raise KeyError(name)
    _, _, typ, default, _ = spec
    dest = "mleval_" + name.replace("-", "_")
    value = config.getoption(dest, None)
    if value is not None:
        return value
    ini = config.getini(dest)
    if typ is bool:
        return bool(ini)
    if ini in (None, ""):
        return default
    try:
        return typ(ini)
    except ValueError:
        raise pytest.UsageError(
            f"ini option {dest} = {ini!r} is not a valid {typ.__name__}"
        ) from None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from .session import SESSION_KEY, MlevalSession

    config.addinivalue_line(
        "markers", "mleval(suite=None): mark a plain test as an eval case of a suite (Python API)."
    )
    session = MlevalSession(config)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "mleval-session")
    _STATE["config"] = config


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STATE.get("config") is config:
        _STATE.pop("config", None)


# The running config and item, for the Python API (`check()` outside the fixture).
_STATE: dict[str, Any] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> EvalFile | None:
    if file_path.suffix in (".yaml", ".yml") and is_eval_file(
        file_path, parent.config.getini("mleval_files")
    ):
        from .session import SESSION_KEY

        session = parent.config.stash.get(SESSION_KEY, None)
        if session is not None:
            session.peek_eval_file(file_path)
        # Collection machinery (pydantic, jinja2) loads only once an eval file is seen.
        from .collect import EvalFile

        item: EvalFile = EvalFile.from_parent(parent, path=file_path)
        return item
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    _STATE["item"] = item
    try:
        return (yield)
    finally:
        _STATE.pop("item", None)


@pytest.fixture(scope="session")
def llm(pytestconfig: pytest.Config) -> Any:
    """Chat completions through the run's inference engine (cache, limits, retries, cost).

    Example::

        def test_summary(llm):
            reply = llm.complete("Summarise: ...", model="openai/gpt-4o-mini", temperature=0)
            assert "refund" in reply.text
    """
    from .inference.targets import LLMClient
    from .session import SESSION_KEY

    session = pytestconfig.stash[SESSION_KEY]
    return LLMClient(
        session.engine(), model=session.options["model"], api_base=session.services.get("api_base")
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

    return get_embedder(pytestconfig.getini("mleval_embedder") or None)


@pytest.fixture(scope="session")
def rag_pipeline(pytestconfig: pytest.Config) -> Any:
    """The ingested RAG pipeline of ini ``mleval_rag_config`` (override it in conftest.py)."""
    from .retrieval.targets import load_pipeline
    from .session import SESSION_KEY

    config = pytestconfig.getini("mleval_rag_config")
    if not config:
        raise pytest.UsageError(
            "the rag_pipeline fixture needs ini mleval_rag_config (a RAG YAML), "
            "or define your own rag_pipeline fixture in conftest.py"
        )
    path = Path(config)
    if not path.is_absolute():
        path = Path(str(pytestconfig.rootpath)) / path
    return load_pipeline(path, services=pytestconfig.stash[SESSION_KEY].services)


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
