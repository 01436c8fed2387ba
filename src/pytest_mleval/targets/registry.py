"""Targets: what produces the output of a case.

A target spec is ``KIND:REF``. Kinds register a factory; ``python:`` and ``fixture:`` are
built in, ``model:`` and ``rag:`` are registered by the inference and retrieval layers.
A target is any callable taking an :class:`~pytest_mleval.cases.case.EvalCase` (defined with
the other case records, re-exported here); it may also offer ``prefetch(cases)`` so the session
can start all generations up front.

Rendering a case's templates is :mod:`.render` (sandbox: :mod:`.templates`).
"""

from __future__ import annotations

import importlib
import time
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..cases.case import EvalCase
from ..cases.suite import Suite
from ..conversation.messages import check_messages, message_text
from ..conversation.trajectory import Trajectory
from ..errors import TargetError
from .services import RunServices

__all__ = [
    "CALL_FIELDS",
    "COST_UNKNOWN",
    "ENTRY_POINT_GROUP",
    "STREAM_TIMINGS",
    "EvalCase",
    "Target",
    "TargetContext",
    "TargetFactory",
    "TargetOutput",
    "call_target",
    "import_ref",
    "is_per_item",
    "normalize_output",
    "register_target_kind",
    "resolve_target",
    "target_kinds",
]

CALL_FIELDS = (
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "cached",
    "retries",
    "latencies_ms",
    "unpriced",
)
"""What a target's ``calls`` say of one model: the calls answered, their tokens and cost, how
many came from the cache, the retries spent, each answered call's wall time (ms) and how many
of the calls had no price (counted as $0 in ``cost_usd``)."""

STREAM_TIMINGS = ("ttft_ms", "itl_ms", "output_tokens_per_s")
"""A streamed call's timings: keys of a target output's metadata (where the metric ``ttft_ms``
reads them) and fields of a case's result record (where the results keep them)."""

COST_UNKNOWN = "cost_unknown"
"""Key of a target output's metadata saying why its cost is unknown (a model without a price,
counted as 0 in the totals): the metric ``cost_usd`` is then not scored rather than 0."""


@dataclass
class TargetOutput:
    """A target's answer, normalised."""

    output: str
    context: list[str] | None = None
    retrieved: list[str] | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float | None = None
    latency_ms: float | None = None
    model: str | None = None
    cached: bool = False
    retries: int = 0
    fallback_used: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    trajectory: Trajectory | None = None
    """What the target did turn by turn: the tool loop's record, or one read from the
    ``messages`` a target returned."""
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Model -> the calls behind the output (keys of :data:`CALL_FIELDS`), for a target that
    used more than one model (a RAG pipeline's generator and query embedder): the run's usage
    gives each model its row from these, while ``usage`` and ``cost_usd`` are their sums."""


@runtime_checkable
class Target(Protocol):
    """Produces the output for one case."""

    def __call__(self, case: EvalCase) -> Any:
        """Return a string, or a dict/object with ``output`` and optional extras."""


@dataclass
class TargetContext:
    """What a target factory may need to build a target."""

    suite: Suite | None = None
    config: Any = None
    """The pytest config, when running under pytest."""
    getfixturevalue: Callable[[str], Any] | None = None
    """Fixture lookup of the current item (for ``fixture:`` targets)."""
    base_dir: Path | None = None
    services: RunServices = field(default_factory=RunServices)
    """What the run offers its targets (the inference engine, model overrides)."""


TargetFactory = Callable[[str, TargetContext], Callable[[EvalCase], Any]]
_KINDS: dict[str, TargetFactory] = {}
_PER_ITEM_KINDS: set[str] = set()


def register_target_kind(kind: str, factory: TargetFactory, *, per_item: bool = False) -> None:
    """Register a target kind (``model``, ``rag``...). ``per_item`` kinds resolve per test item."""
    _KINDS[kind] = factory
    if per_item:
        _PER_ITEM_KINDS.add(kind)


def target_kinds() -> list[str]:
    """Registered target kinds, and those entry points provide."""
    return sorted({*_KINDS, *_provided_kinds()})


def is_per_item(spec: str) -> bool:
    """Whether a target spec must be resolved for each item (it depends on fixtures)."""
    return spec.partition(":")[0] in _PER_ITEM_KINDS


def resolve_target(spec: str, ctx: TargetContext) -> Callable[[EvalCase], Any]:
    """Build the callable behind a target spec.

    Raises:
        TargetError: unknown kind, or the factory's own failure.
    """
    kind, sep, ref = spec.partition(":")
    if not sep or not ref:
        raise TargetError(
            f"target {spec!r} must look like KIND:REF; kinds: {', '.join(target_kinds())}"
        )
    _ensure_kind(kind)
    if kind not in _KINDS:
        raise TargetError(
            f"unknown target kind {kind!r} in {spec!r}; kinds: {', '.join(target_kinds())}"
        )
    return _KINDS[kind](ref, ctx)


ENTRY_POINT_GROUP = "pytest_mleval.targets"
"""Entry-point group of target kinds provided outside core (``model``, ``rag``, a plugin's).

Each entry is ``KIND = "module"`` (the module calls :func:`register_target_kind` on import) or
``KIND = "module:factory"`` (a :data:`TargetFactory`, registered under KIND).
"""
_PROVIDED: dict[str, EntryPoint] | None = None


def _provided_kinds() -> dict[str, EntryPoint]:
    """Kind -> entry point, read once: only a kind not registered yet needs it."""
    global _PROVIDED
    if _PROVIDED is None:
        from importlib.metadata import entry_points

        _PROVIDED = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _PROVIDED


def _ensure_kind(kind: str) -> None:
    # Service layers register their kinds on import; importing them only now keeps plugin
    # load cheap.
    if kind in _KINDS:
        return
    entry = _provided_kinds().get(kind)
    if entry is None:
        return
    try:
        obj = entry.load()
    except ImportError as exc:
        raise TargetError(f"target kind {kind!r} is not available: {exc}") from None
    if kind not in _KINDS and callable(obj) and not isinstance(obj, types.ModuleType):
        register_target_kind(kind, obj)


def _python_target(ref: str, ctx: TargetContext) -> Callable[[EvalCase], Any]:
    module, _, attr = ref.rpartition(":")
    if not module or not attr:
        raise TargetError(f"python target must be python:MODULE:CALLABLE, got python:{ref}")
    try:
        obj: Any = _import_near(module, ctx)
    except ImportError as exc:
        raise TargetError(
            f"cannot import module {module!r} for target python:{ref}: {exc}"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TargetError(f"python:{ref} is not callable")
    fn: Callable[[EvalCase], Any] = obj
    return fn


def _import_near(module: str, ctx: TargetContext) -> Any:
    """Import a module; if it is not on sys.path, also look beside the eval file and in rootdir."""
    import sys

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.split(".")[0]:
            raise
        roots = [ctx.base_dir]
        if ctx.config is not None:
            roots.append(Path(str(ctx.config.rootpath)))
        for root in roots:
            if root is None or str(root) in sys.path:
                continue
            if (root / (module.split(".")[0] + ".py")).exists() or (
                root / module.split(".")[0]
            ).is_dir():
                sys.path.insert(0, str(root))
                return importlib.import_module(module)
        raise


def import_ref(ref: str, base_dir: Path | None = None, rootpath: Path | None = None) -> Any:
    """The object ``MODULE:ATTR`` names, imported as ``python:`` targets import theirs.

    A module not on ``sys.path`` is also looked for beside the eval file (``base_dir``) and in
    pytest's rootdir (``rootpath``). ``ATTR`` may be dotted (``Class.method``).

    Raises:
        TargetError: ``ref`` is not ``MODULE:ATTR``, the module does not import, or it has no
            such attribute; the message names them.
    """
    module, _, attr = ref.rpartition(":")
    if not module or not attr:
        raise TargetError(f"{ref!r} must be MODULE:ATTR")
    config = None if rootpath is None else types.SimpleNamespace(rootpath=rootpath)
    try:
        obj: Any = _import_near(module, TargetContext(base_dir=base_dir, config=config))
    except ImportError as exc:
        raise TargetError(f"cannot import module {module!r} for {ref}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module!r} has no attribute {attr!r}") from None
    return obj


def _fixture_target(ref: str, ctx: TargetContext) -> Callable[[EvalCase], Any]:
    if ctx.getfixturevalue is None:
        raise TargetError(f"fixture:{ref} targets only work inside a pytest run")
    value = ctx.getfixturevalue(ref)
    if not callable(value):
        raise TargetError(
            f"fixture {ref!r} must return a callable taking the case, got {type(value).__name__}"
        )
    fn: Callable[[EvalCase], Any] = value
    return fn


register_target_kind("python", _python_target)
register_target_kind("fixture", _fixture_target, per_item=True)


# --------------------------------------------------------------------------- outputs


def normalize_output(
    value: Any,
    *,
    latency_ms: float | None = None,
    given: Sequence[Mapping[str, Any]] | None = None,
) -> TargetOutput:
    """Turn whatever a target returned into a :class:`TargetOutput`.

    A mapping (or object) may carry ``messages``: the conversation in OpenAI form, tool calls
    and results included (an agent built with any framework). It becomes the output's
    :class:`Trajectory`; ``output`` then defaults to the last assistant message's text.

    Args:
        value: What the target returned.
        latency_ms: The call's measured wall time (unless the value gives its own).
        given: The case's conversation: returned messages that begin with it are read as
            the case's own, not as the agent's turns.

    Raises:
        TargetError: the value has no usable ``output``, or its ``messages`` are malformed.
    """
    if isinstance(value, TargetOutput):
        out = value
    elif isinstance(value, str):
        out = TargetOutput(output=value)
    elif isinstance(value, Mapping) or hasattr(value, "output") or hasattr(value, "messages"):
        get = value.get if isinstance(value, Mapping) else (lambda k, d=None: getattr(value, k, d))
        trajectory = _trajectory(get("messages"), given)
        text = get("output")
        if text is None and trajectory is not None:
            text = trajectory.answer
        if text is None:
            raise TargetError(f"target returned {type(value).__name__} without `output`")
        usage = get("usage") or {}
        if not isinstance(usage, Mapping):
            usage = {
                k: getattr(usage, k, 0)
                for k in ("prompt_tokens", "completion_tokens", "total_tokens")
            }
        out = TargetOutput(
            output=text if isinstance(text, str) else str(text),
            context=_str_list(get("context")),
            retrieved=_str_list(get("retrieved")),
            usage={
                k: int(v or 0)
                for k, v in usage.items()
                if k in ("prompt_tokens", "completion_tokens", "total_tokens")
            },
            cost_usd=_opt_float(get("cost_usd")),
            latency_ms=_opt_float(get("latency_ms")),
            model=get("model"),
            cached=bool(get("cached", False)),
            retries=int(get("retries", 0) or 0),
            fallback_used=get("fallback_used"),
            metadata=dict(get("metadata") or {}),
            trajectory=trajectory,
            calls=_calls(get("calls")),
        )
    elif value is None:
        raise TargetError("target returned None; it must return a string or a dict with `output`")
    else:
        out = TargetOutput(output=str(value))
    if out.latency_ms is None:
        out.latency_ms = latency_ms
    unpriced = sorted(m for m, use in out.calls.items() if use.get("unpriced"))
    if unpriced and not out.metadata.get(COST_UNKNOWN):
        # Its calls to these models count as $0: `cost_usd` must not read that as the cost.
        out.metadata[COST_UNKNOWN] = "no price for " + ", ".join(map(repr, unpriced))
    return out


def _trajectory(messages: Any, given: Sequence[Mapping[str, Any]] | None) -> Trajectory | None:
    if messages is None:
        return None
    if isinstance(messages, Trajectory):
        return messages
    try:
        checked = check_messages(list(messages), where="the target's `messages`")
    except (TypeError, ValueError) as exc:
        raise TargetError(str(exc)) from None
    return Trajectory.from_messages(checked, given=_shared_start(checked, given or ()))


def _shared_start(messages: Sequence[Mapping[str, Any]], given: Sequence[Mapping[str, Any]]) -> int:
    """How many leading messages repeat the case's own conversation (role and text)."""
    n = 0
    for mine, theirs in zip(messages, given, strict=False):
        if mine.get("role") != theirs.get("role") or message_text(
            mine.get("content")
        ) != message_text(theirs.get("content")):
            break
        n += 1
    return n


def _calls(value: Any) -> dict[str, dict[str, Any]]:
    """A target's ``calls`` (model -> its use), checked: a count that is not a number is the
    target's error, not a crash where the run adds up its usage."""
    if not value:
        return {}
    if not isinstance(value, Mapping):
        raise TargetError(f"target `calls` must map model names to their use, got {value!r}")
    out: dict[str, dict[str, Any]] = {}
    for model, use in value.items():
        if not isinstance(use, Mapping) or set(use) - set(CALL_FIELDS):
            raise TargetError(
                f"target `calls` of model {model!r}: expected a mapping of "
                f"{', '.join(CALL_FIELDS)}, got {use!r}"
            )
        try:
            row: dict[str, Any] = {
                k: int(use.get(k) or 0)
                for k in CALL_FIELDS
                if k not in ("cost_usd", "latencies_ms")
            }
            row["cost_usd"] = float(use.get("cost_usd") or 0.0)
            row["latencies_ms"] = [float(x) for x in use.get("latencies_ms") or []]
        except (TypeError, ValueError) as exc:
            raise TargetError(f"target `calls` of model {model!r}: {exc}") from None
        out[str(model)] = row
    return out


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _str_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def call_target(fn: Callable[[EvalCase], Any], case: EvalCase) -> TargetOutput:
    """Call a target and time it."""
    start = time.perf_counter()
    value = fn(case)
    elapsed = (time.perf_counter() - start) * 1000.0
    # The case's conversation is built only for a value that returned one to compare with.
    returned = (
        value.get("messages") if isinstance(value, Mapping) else getattr(value, "messages", None)
    )
    given = case.chat_messages() if returned is not None else None
    return normalize_output(value, latency_ms=elapsed, given=given)
