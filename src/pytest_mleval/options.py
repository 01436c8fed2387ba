"""The run's options: each ``--mleval-NAME`` flag with its ini twin ``mleval_NAME``, typed.

:class:`MlevalOptions` is the one place each option's type, default and help live; the
plugin registers flags and ini keys from it, and :func:`get_options` reads a run's values
into it once (cached in ``config.stash``). Kept cheap to import: pytest loads it at start-up.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import pytest

from .evalfiles import DEFAULT_PATTERNS

__all__ = [
    "CACHE_MODES",
    "CLIENT_MODES",
    "LITELLM_SERVER_MODES",
    "IniSettings",
    "MlevalOptions",
    "OptionSpec",
    "get_options",
    "option_specs",
    "register_options",
]

CACHE_MODES = ("rw", "ro", "off", "replay")
LITELLM_SERVER_MODES = ("auto", "on", "off")
# As in pytest_mleval.inference.clients (not imported here: options load at pytest start-up).
CLIENT_MODES = ("auto", "native", "litellm")
# As in pytest_mleval.inference.cache_backend.SCHEMES.
CACHE_URL_SCHEMES = ("redis", "rediss", "postgresql", "postgres", "postgresql+psycopg")


def _opt(default: Any, metavar: str | None, help_text: str) -> Any:
    """A field of :class:`MlevalOptions`; ``{default}`` in the help shows the default."""
    return field(default=default, metadata={"metavar": metavar, "help": help_text})


def _ini(default: Any, kind: str, help_text: str) -> Any:
    """A field of :class:`IniSettings`: an ini key without a flag, of pytest ini type ``kind``."""
    return field(default=default, metadata={"kind": kind, "help": help_text})


@dataclass(frozen=True)
class IniSettings:
    """The ini-only keys (``mleval_NAME`` in pytest's ini file; no command-line flag)."""

    files: tuple[str, ...] = _ini(
        DEFAULT_PATTERNS,
        "args",
        f"glob patterns of eval files (default: {' '.join(DEFAULT_PATTERNS)}).",
    )
    api_base: str | None = _ini(None, "string", "default api_base for model: targets.")
    embedder: str | None = _ini(
        None,
        "string",
        "embedder of the embedder fixture and embedding metrics: local (default), litellm:MODEL.",
    )
    rag_config: str | None = _ini(None, "string", "RAG config YAML of the rag_pipeline fixture.")
    rate_limits: tuple[str, ...] = _ini(
        (), "linelist", "per-model rate limits, one per line: MODEL rpm=N tpm=N."
    )


@dataclass(frozen=True)
class MlevalOptions:
    """The ``--mleval-*`` options of a run (command line, else ini, else the default).

    Field ``report_dir`` is flag ``--mleval-report-dir`` and ini ``mleval_report_dir``;
    ``bool`` fields are flags without a value.
    """

    report_dir: str = _opt(
        "reports", "DIR", "directory for results, report and summary (default: {default})."
    )
    baseline: str | None = _opt(
        None, "PATH", "results JSON of an earlier run: paired comparison and regression gate."
    )
    save_baseline: str | None = _opt(
        None, "PATH", "also write this run's results to PATH, for use as a baseline."
    )
    model: str | None = _opt(None, "ID", "override the model of model: targets.")
    judge_model: str | None = _opt(None, "ID", "model used by judge metrics.")
    cache: str = _opt(
        "rw",
        "MODE",
        "model-call cache: {default} (default), ro, off, or replay (a miss is an error).",
    )
    cache_path: str = _opt(
        ".mleval/cache.sqlite", "PATH", "model-call cache file (default: {default})."
    )
    cache_url: str | None = _opt(
        None,
        "URL",
        "a shared model-call cache on a server instead of the cache file: redis://HOST:PORT/DB "
        "or postgresql://USER@HOST/DB (password in the URL or $MLEVAL_CACHE_PASSWORD; never "
        "written to any output).",
    )
    # The run's bound (README: "at most --mleval-concurrency N calls in flight"); the
    # InferenceEngine constructor's own default applies only to engines built by hand.
    concurrency: int = _opt(
        8,
        "N",
        "concurrent model calls across the whole run, every xdist worker together; "
        "generations are issued at most 2 x N cases ahead of the running item, so -x, "
        "--maxfail and Ctrl-C stop spending there (default: {default}).",
    )
    repeats: int | None = _opt(None, "N", "override the repeats of every suite.")
    seed: int = _opt(
        0, "N", "seed for sampling, bootstrap and permutation tests (default: {default})."
    )
    max_retries: int = _opt(
        4, "N", "retries of a failed model call (429, 5xx, timeouts; default: {default})."
    )
    retry_delay: float = _opt(
        0.5, "SECONDS", "base delay of exponential backoff (default: {default})."
    )
    timeout: float = _opt(120.0, "SECONDS", "per-call timeout of model calls (default: {default}).")
    max_cost: float | None = _opt(
        None, "USD", "stop issuing model calls once the run has spent this much."
    )
    history: str | None = _opt(
        None, "URL", "run-history database URL (default: SQLite in the report dir)."
    )
    confidence: float = _opt(0.95, "LEVEL", "confidence level of intervals (default: {default}).")
    regression_margin: float = _opt(
        0.0,
        "DELTA",
        "drops smaller than this never fail the regression gate (default: {default}).",
    )
    regression_metrics: str | None = _opt(
        None,
        "A,B",
        "metrics whose regression against the baseline fails the run, for suites without "
        "regression_metrics (default: every metric in both runs but latency and cost).",
    )
    no_report: bool = _opt(False, None, "write no results, report or summary files.")
    redact: bool = _opt(
        False,
        None,
        "replace detected personal data (e-mails, phone numbers, payment cards, IBANs, national "
        "ids, API keys) by [REDACTED:KIND] in everything the run writes: results, reports, "
        "history, hooks, terminal failure reports, captured output and the plugin's log "
        "records; metrics still score the raw output.",
    )
    max_prompt_chars: int = _opt(
        1_000_000,
        "N",
        "a rendered prompt, system message or var longer than N characters is an error of "
        "its case (default: {default}).",
    )
    render_timeout: float = _opt(
        5.0,
        "SECONDS",
        "a template render taking longer than this is an error of its case (default: {default}).",
    )
    max_output_chars: int = _opt(
        100_000,
        "N",
        "outputs longer than N characters are stored truncated in the results and reports, "
        "with their full length and SHA-256 (default: {default}).",
    )
    client: str = _opt(
        "auto",
        "auto|native|litellm",
        "which client makes model calls: auto (default) calls OpenAI-compatible endpoints "
        "(openai/..., hosted_vllm/..., lm_studio/..., any id without a provider at an api_base) "
        "with the native client and every other provider through litellm; native also calls "
        "any PROVIDER/NAME at an api_base natively; litellm sends every call through litellm.",
    )
    sequential: bool = _opt(
        False,
        None,
        "run every suite's cases in a seeded random order and stop once its gates and the "
        "regression verdict are decided by an anytime-valid test (a suite's `sequential: "
        "true` does it for that suite).",
    )
    variants: str | None = _opt(
        None,
        "A,B",
        "run only these variants of suites with `variants:` or `matrix:` (comma-separated "
        "names; default: every variant).",
    )
    shard: str | None = _opt(
        None,
        "I/N",
        "run only shard I of N (1 <= I <= N): a case (its repeats and variants with it) lands "
        "in the shard its suite and id hash to, every other test by its node id; combine the "
        "shards' results files with `mleval merge`.",
    )
    litellm_inline: bool = _opt(
        False,
        None,
        "run litellm in the pytest process, not in a worker process (for a conftest that "
        "customises litellm: callbacks, custom providers).",
    )
    litellm_server: str = _opt(
        "auto",
        "auto|on|off",
        "keep litellm imported between runs in a background server that exits after 15 "
        "idle minutes, so model calls start without waiting for litellm's import "
        "(default: {default}, which is on except when the CI variable is set).",
    )
    ini: IniSettings = field(default_factory=IniSettings)
    """The ini-only keys (no flag)."""

    def variant_filter(self) -> frozenset[str] | None:
        """The variants ``--mleval-variants`` selects (``None``: every variant)."""
        if not self.variants:
            return None
        return frozenset(v.strip() for v in self.variants.split(",") if v.strip())

    def regression_metric_names(self) -> tuple[str, ...] | None:
        """The metrics ``--mleval-regression-metrics`` names (``None``: not given, or none)."""
        names = tuple(m.strip() for m in (self.regression_metrics or "").split(",") if m.strip())
        return names or None

    def shard_spec(self) -> tuple[int, int] | None:
        """``--mleval-shard I/N`` as ``(I, N)`` (``None``: the whole run).

        Raises:
            pytest.UsageError: not two integers ``I/N`` with ``1 <= I <= N``.
        """
        if not self.shard:
            return None
        index, sep, count = str(self.shard).strip().partition("/")
        try:
            i, n = int(index), int(count)
        except ValueError:
            i = n = 0
        if not sep or not 1 <= i <= n:
            raise pytest.UsageError(
                f"--mleval-shard takes I/N with 1 <= I <= N (e.g. 2/3), got {self.shard!r}"
            )
        return i, n

    def flags(self) -> dict[str, Any]:
        """The options that have a value, by flag name (``report-dir``), for run metadata.

        A URL's password (``--mleval-cache-url``, ``--mleval-history``) shows as ``***``.
        """
        from .inference.scrubbing import scrub

        return {
            spec.name: scrub(value) if isinstance(value, str) and "://" in value else value
            for spec in option_specs()
            if (value := getattr(self, spec.field)) is not None
        }


@dataclass(frozen=True)
class OptionSpec:
    """One option as registered with pytest: flag ``--mleval-NAME``, ini ``mleval_NAME``."""

    field: str
    """Attribute of :class:`MlevalOptions` (``report_dir``)."""
    name: str
    """Flag name without ``--mleval-`` (``report-dir``)."""
    type: type
    """``str``, ``int``, ``float`` or ``bool``."""
    default: Any
    metavar: str | None
    help: str

    @property
    def dest(self) -> str:
        """The argparse dest and ini key (``mleval_report_dir``)."""
        return "mleval_" + self.field


def _show(value: Any) -> str:
    # 120.0 reads "120" in a help text, 0.95 stays "0.95".
    return f"{value:g}" if isinstance(value, float) else str(value)


def _base_type(hint: Any) -> type:
    if isinstance(hint, types.UnionType):  # `int | None`
        (hint,) = (a for a in typing.get_args(hint) if a is not type(None))
    assert isinstance(hint, type)
    return hint


_SPECS: list[OptionSpec] = []


def option_specs() -> list[OptionSpec]:
    """Every option of :class:`MlevalOptions`, in declaration order."""
    if not _SPECS:
        hints = typing.get_type_hints(MlevalOptions)
        for f in dataclasses.fields(MlevalOptions):
            if f.name == "ini":
                continue
            _SPECS.append(
                OptionSpec(
                    field=f.name,
                    name=f.name.replace("_", "-"),
                    type=_base_type(hints[f.name]),
                    default=f.default,
                    metavar=f.metadata["metavar"],
                    help=f.metadata["help"].format(default=_show(f.default)),
                )
            )
    return _SPECS


def register_options(parser: pytest.Parser) -> None:
    """Add each option's ``--mleval-NAME`` flag (group "mleval") and ``mleval_NAME`` ini key,
    and the ini-only keys (``mleval_files``, ``mleval_api_base``...)."""
    group = parser.getgroup("mleval", "LLM evaluation (pytest-mleval)")
    for spec in option_specs():
        flag = f"--mleval-{spec.name}"
        # The flag's default is None so that an unset flag falls back to the ini value.
        if spec.type is bool:
            group.addoption(flag, action="store_true", default=None, dest=spec.dest, help=spec.help)
            parser.addini(spec.dest, spec.help, type="bool", default=spec.default)
        else:
            group.addoption(
                flag,
                action="store",
                metavar=spec.metavar,
                type=spec.type,
                default=None,
                dest=spec.dest,
                help=spec.help,
            )
            default = None if spec.default is None else str(spec.default)
            parser.addini(spec.dest, spec.help, type="string", default=default)
    # Ini-only keys, from IniSettings (read by get_options into MlevalOptions.ini).
    for f in dataclasses.fields(IniSettings):
        ini_default: Any = list(f.default) if isinstance(f.default, tuple) else f.default
        parser.addini(
            f"mleval_{f.name}", f.metadata["help"], type=f.metadata["kind"], default=ini_default
        )


def _read(config: pytest.Config, spec: OptionSpec) -> Any:
    value = config.getoption(spec.dest, None)
    if value is not None:
        return value
    ini = config.getini(spec.dest)
    if spec.type is bool:
        return bool(ini)
    if ini in (None, ""):
        return spec.default
    try:
        return spec.type(ini)
    except ValueError:
        raise pytest.UsageError(
            f"ini option {spec.dest} = {ini!r} is not a valid {spec.type.__name__}"
        ) from None


def _read_ini(config: pytest.Config, f: dataclasses.Field[Any]) -> Any:
    value = config.getini(f"mleval_{f.name}")
    if isinstance(f.default, tuple):
        return tuple(str(v) for v in value or ())
    return value or None


_OPTIONS_KEY = pytest.StashKey[MlevalOptions]()


def get_options(config: pytest.Config) -> MlevalOptions:
    """The run's options (read once, then cached in ``config.stash``).

    Raises:
        pytest.UsageError: an ini value of the wrong type, or a ``cache`` or
            ``litellm-server`` or ``client`` value that is not one of the allowed modes, or a
            ``shard`` that is not ``I/N``.
    """
    cached = config.stash.get(_OPTIONS_KEY, None)
    if cached is not None:
        return cached
    ini = IniSettings(**{f.name: _read_ini(config, f) for f in dataclasses.fields(IniSettings)})
    options = MlevalOptions(**{spec.field: _read(config, spec) for spec in option_specs()}, ini=ini)
    if options.cache not in CACHE_MODES:
        raise pytest.UsageError(
            f"--mleval-cache must be rw, ro, off or replay, got {options.cache!r}"
        )
    if options.cache_url and options.cache_url.split("://", 1)[0].lower() not in CACHE_URL_SCHEMES:
        from .inference.scrubbing import scrub

        raise pytest.UsageError(
            f"--mleval-cache-url must start with redis://, rediss:// or postgresql://, got "
            f"{scrub(options.cache_url)!r}"
        )
    if str(options.litellm_server).strip().lower() not in LITELLM_SERVER_MODES:
        raise pytest.UsageError(
            f"--mleval-litellm-server must be auto, on or off, got {options.litellm_server!r}"
        )
    if options.client not in CLIENT_MODES:
        raise pytest.UsageError(
            f"--mleval-client must be auto, native or litellm, got {options.client!r}"
        )
    # A level or margin that means nothing would end the run without its reports (NaN) or
    # decide every comparison one way; it is the user's error, before anything runs.
    if not 0.0 < options.confidence < 1.0:
        raise pytest.UsageError(
            f"--mleval-confidence must be between 0 and 1 (exclusive), got {options.confidence!r}"
        )
    margin = options.regression_margin
    if not (math.isfinite(margin) and margin >= 0):
        raise pytest.UsageError(
            f"--mleval-regression-margin must be a finite number >= 0, got {margin!r}"
        )
    if options.regression_metrics is not None and options.regression_metric_names() is None:
        raise pytest.UsageError(
            f"--mleval-regression-metrics names no metric ({options.regression_metrics!r}): "
            "leave it out to gate every metric in both runs"
        )
    _check_numbers(options)
    options.shard_spec()  # a bad I/N stops the run before anything starts
    config.stash[_OPTIONS_KEY] = options
    return options


# (option, least value, whether the least value itself is allowed): a count or a duration
# outside these meant something nobody asked for. `--mleval-repeats 0` ran each suite's own
# repeats, `-1` collected nothing (exit 5, no reports); a NaN timeout or budget never fires.
_NUMBER_BOUNDS = (
    ("concurrency", 1, True),
    ("repeats", 1, True),
    ("max_retries", 0, True),
    ("retry_delay", 0, True),
    ("timeout", 0, False),
    ("max_cost", 0, True),
    ("max_prompt_chars", 1, True),
    ("render_timeout", 0, False),
    ("max_output_chars", 1, True),
)


def _check_numbers(options: MlevalOptions) -> None:
    for name, least, inclusive in _NUMBER_BOUNDS:
        value = getattr(options, name)
        if value is None:
            continue
        ok = math.isfinite(value) and (value >= least if inclusive else value > least)
        if not ok:
            need = f">= {least}" if inclusive else f"> {least}"
            raise pytest.UsageError(
                f"--mleval-{name.replace('_', '-')} must be a finite number {need}, got {value!r}"
            )
