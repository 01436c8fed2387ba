"""Glue between the inference engine and the plugin: ``model:`` targets, the engine of a run,
the ``llm`` fixture's client, and the judges' backend."""

from __future__ import annotations

import concurrent.futures
import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TargetError
from ..targets.registry import (
    COST_UNKNOWN,
    STREAM_TIMINGS,
    EvalCase,
    TargetContext,
    TargetOutput,
    register_target_kind,
)
from .cache_backend import open_cache
from .engine import InferenceEngine
from .limits import RetryPolicy, SharedLimiter
from .toolloop import one_turn_trajectory, run_tool_loop
from .tools import ToolBox, ToolLoader
from .types import ChatRequest, ChatResponse, unknown_cost

__all__ = ["LLMClient", "ModelTarget", "build_engine", "parse_rate_limits", "to_output"]

_LIMIT_LINE = re.compile(r"^\s*(\S+)((?:\s+(?:rpm|tpm)=[0-9.]+)+)\s*$")


def parse_rate_limits(lines: Sequence[str]) -> dict[str, tuple[float | None, float | None]]:
    """Parse ini lines ``MODEL rpm=N tpm=N`` into the engine's rate-limit table.

    Raises:
        ConfigError: a line that does not read that way.
    """
    limits: dict[str, tuple[float | None, float | None]] = {}
    for line in lines:
        if not line.strip():
            continue
        m = _LIMIT_LINE.match(line)
        if not m:
            raise ConfigError(
                f"mleval_rate_limits: cannot read {line!r}; write `MODEL rpm=N tpm=N`"
            )
        values = dict(part.split("=") for part in m.group(2).split())
        limits[m.group(1)] = (
            float(values["rpm"]) if "rpm" in values else None,
            float(values["tpm"]) if "tpm" in values else None,
        )
    return limits


def build_engine(
    *,
    cache_mode: str,
    cache_path: str,
    concurrency: int,
    max_cost_usd: float | None,
    rate_limits: Mapping[str, tuple[float | None, float | None]],
    max_retries: int = 4,
    retry_delay: float = 0.5,
    timeout: float | None = 120.0,
    litellm_worker: bool = True,
    limits_address: str | None = None,
    client: str = "auto",
    cache_url: str | None = None,
) -> InferenceEngine:
    """The run's engine: one per process (each xdist worker has its own, sharing the cache file).

    ``limits_address`` (an xdist worker's ``workerinput["mleval_limits"]``) is the
    controller's :class:`~.limits.LimitServer`: the worker's calls then take their slots and
    rate tokens from it, so concurrency and rate limits hold for the whole run.

    With ``litellm_worker`` (the default) litellm runs in a worker process
    (:mod:`~.worker`): its import and per-call CPU stay off pytest's interpreter lock.
    ``False`` runs it in this process, where a conftest's litellm settings (callbacks,
    custom providers) apply. ``client`` (``auto``, ``native``, ``litellm``) says which calls
    the native OpenAI-compatible client makes instead (:mod:`~.clients`). ``cache_url``
    (``redis://...``, ``postgresql://...``) puts the cache on that server instead of the
    SQLite file at ``cache_path`` (:mod:`~.cache_backend`).
    """
    if cache_mode not in ("rw", "ro", "off", "replay"):
        raise ConfigError(f"--mleval-cache must be rw, ro, off or replay, got {cache_mode!r}")
    cache = None if cache_mode == "off" else open_cache(cache_url, cache_path, mode=cache_mode)
    from .providers.auto import AutoProvider

    litellm_provider = None
    if litellm_worker:
        from .providers.litellm_worker import LiteLLMWorkerProvider

        litellm_provider = LiteLLMWorkerProvider()
    provider = AutoProvider(litellm_provider, client=client)
    return InferenceEngine(
        provider,
        cache=cache,
        concurrency=concurrency,
        rate_limits=rate_limits,
        max_cost_usd=max_cost_usd,
        retry=RetryPolicy(max_retries=max_retries, base_delay=retry_delay),
        timeout=timeout,
        limiter=SharedLimiter(limits_address, rate_limits) if limits_address else None,
    )


def to_output(resp: ChatResponse) -> TargetOutput:
    """A target output carrying the call's usage, cost, latency and provenance.

    A streamed call's timings (:data:`STREAM_TIMINGS`) go into the metadata, a cached
    answer's as recorded (``cached`` says they were not measured in this run).
    """
    metadata: dict[str, Any] = {}
    if resp.cost_note:
        metadata["cost_note"] = resp.cost_note
    unknown = unknown_cost(resp.cost_note)
    if unknown:
        metadata[COST_UNKNOWN] = unknown
    if resp.finish_reason:
        metadata["finish_reason"] = resp.finish_reason
    for name in STREAM_TIMINGS:
        value = getattr(resp, name)
        if value is not None:
            metadata[name] = value
    return TargetOutput(
        output=resp.text,
        usage=resp.usage.as_dict(),
        cost_usd=resp.cost_usd,
        latency_ms=resp.latency_ms,
        model=resp.model,
        cached=resp.cached,
        retries=resp.retries,
        fallback_used=resp.fallback_used,
        metadata=metadata,
    )


class ModelTarget:
    """A chat completion per case: the case's conversation (or its rendered prompt and system
    message), with its images; a case with tools runs the tool loop (:mod:`.toolloop`).

    With ``stream`` (the suite's ``stream: true``) every request streams: ``stream: true``
    joins the case's params (a ``stream`` already there wins), so it is part of the cache key.
    ``base_dir`` and ``rootpath`` are where Python tools are imported from (beside the eval
    file, then pytest's rootdir), as ``python:`` targets are.
    """

    def __init__(
        self,
        model: str,
        engine: InferenceEngine,
        *,
        api_base: str | None = None,
        fallbacks: Sequence[str] = (),
        timeout: float | None = None,
        stream: bool = False,
        base_dir: Path | None = None,
        rootpath: Path | None = None,
    ) -> None:
        self.model = model
        self.engine = engine
        self.api_base = api_base
        self.fallbacks = tuple(fallbacks)
        self.timeout = timeout
        self.stream = stream
        self.tool_loader = ToolLoader(base_dir, rootpath)
        self._loops: dict[tuple[Any, ...], concurrent.futures.Future[TargetOutput]] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def request(
        self, case: EvalCase, tools: Sequence[Mapping[str, Any]] | None = None
    ) -> ChatRequest:
        """The (first) request for one case; repeats are distinct samples, not one answer
        reused. An ``input:`` case without images sends the system message and the prompt,
        exactly as before conversations existed (so its cache key is unchanged)."""
        params = case.params
        if self.stream and "stream" not in params:
            params = {**params, "stream": True}
        return ChatRequest(
            model=self.model,
            messages=case.chat_messages(),
            params=params,
            api_base=self.api_base,
            tools=tools,
            fallbacks=self.fallbacks,
            timeout=self.timeout,
            sample=case.repeat,
        )

    def prefetch(self, cases: Sequence[EvalCase]) -> None:
        """Start these cases' calls now; each item later waits only for its own.

        The session calls it for a look-ahead window of cases ahead of the running item
        (twice the concurrency), not for every case at once, so a stopped run stops paying.
        A case with tools runs its whole loop ahead, in a thread pool as large as the
        engine's concurrency (a loop waits on one model call or its tools at a time).

        No warm-up of the provider here: answers replayed from the cache never need litellm,
        and the first real call loads it on the engine's thread anyway.
        """
        plain = []
        for case in cases:
            if not case.tools:
                plain.append(self.request(case))
                continue
            key = _case_key(case)
            with self._lock:
                if key in self._loops:
                    continue
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=self.engine.concurrency, thread_name_prefix="mleval-toolloop"
                    )
                # The tools load here, in the calling thread, not in the pool: importing a
                # tool module and building its pydantic model parse source (ast), and
                # CPython 3.11's AST construction keeps its recursion depth in state shared
                # by all threads, so two threads parsing at once can fail with "AST
                # constructor recursion depth mismatch" (python/cpython#106905).
                try:
                    toolbox = self.tool_loader.toolbox(case)
                except Exception as exc:
                    failed: concurrent.futures.Future[TargetOutput] = concurrent.futures.Future()
                    failed.set_exception(exc)
                    self._loops[key] = failed
                    continue
                self._loops[key] = self._pool.submit(self._loop, case, toolbox)
        if plain:
            self.engine.prefetch(plain)

    def __call__(self, case: EvalCase) -> TargetOutput:
        if case.tools:
            with self._lock:
                ahead = self._loops.pop(_case_key(case), None)
            return ahead.result() if ahead is not None else self._loop(case)
        req = self.request(case)
        resp = self.engine.complete(req)
        out = to_output(resp)
        if case.messages is not None:
            # Reports show the conversation and its answer, as they show a tool loop's.
            out.trajectory = one_turn_trajectory(req.messages, resp)
        return out

    def _loop(self, case: EvalCase, toolbox: ToolBox | None = None) -> TargetOutput:
        if toolbox is None:
            toolbox = self.tool_loader.toolbox(case)  # a tool that cannot load: before any call
        return run_tool_loop(
            self.engine,
            self.request(case, toolbox.definitions()),
            toolbox,
            max_turns=case.max_turns,
        )


def _case_key(case: EvalCase) -> tuple[Any, ...]:
    return (case.file, case.suite, case.id, case.repeat)


def _model_target(ref: str, ctx: TargetContext) -> ModelTarget:
    engine = ctx.services.engine
    if engine is None:
        raise TargetError("model: targets need the run's inference engine (run under pytest)")
    override = ctx.services.model_override
    model = override or ref
    if model.startswith("hf:"):
        path = model[3:]
        if ctx.base_dir is not None and not os.path.isabs(path) and not os.path.exists(path):
            candidate = ctx.base_dir / path
            if candidate.exists():
                model = f"hf:{candidate}"
    spec = ctx.suite.spec if ctx.suite else None
    api_base = (spec.api_base if spec else None) or ctx.services.api_base
    return ModelTarget(
        model,
        engine(),
        api_base=api_base,
        fallbacks=spec.fallbacks if spec else (),
        timeout=spec.timeout_s if spec else None,
        stream=spec.stream if spec else False,
        base_dir=ctx.base_dir,
        rootpath=Path(str(ctx.config.rootpath)) if ctx.config is not None else None,
    )


register_target_kind("model", _model_target)


class LLMClient:
    """What the ``llm`` fixture returns: chat completions through the run's engine."""

    def __init__(
        self, engine: InferenceEngine, model: str | None = None, api_base: str | None = None
    ) -> None:
        self.engine = engine
        self.model = model
        self.api_base = api_base

    def complete(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        model: str | None = None,
        system: str | None = None,
        sample: int = 0,
        **params: Any,
    ) -> ChatResponse:
        """One completion: a prompt string or a list of messages; params pass through."""
        chosen = model or self.model
        if not chosen:
            raise ConfigError("no model: pass model= or set --mleval-model")
        if isinstance(prompt, str):
            req = ChatRequest.from_prompt(
                chosen, prompt, system=system, params=params, api_base=self.api_base, sample=sample
            )
        else:
            req = ChatRequest(
                model=chosen,
                messages=tuple(prompt),
                params=params,
                api_base=self.api_base,
                sample=sample,
            )
        return self.engine.complete(req)

    def __call__(self, prompt: str, **kwargs: Any) -> str:
        """The reply text (handy as a ``complete(prompt) -> str`` callable)."""
        return self.complete(prompt, **kwargs).text


class EngineJudge:
    """The judges' backend on the run's engine (cache, limits, retries, cost all apply)."""

    def __init__(self, engine: InferenceEngine, model: str, api_base: str | None = None) -> None:
        self.engine = engine
        self.model = model
        self.api_base = api_base

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_schema: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> str:
        """The judge's reply; distinct ``seed`` values are distinct samples.

        Where the provider supports structured output (per litellm's model map) the verdict's
        JSON schema is sent as ``response_format``; elsewhere the judges' robust extraction
        and bounded re-asks read the verdict out of free text.
        """
        # One verdict is asked deterministically; K samples need real sampling.
        params: dict[str, Any] = {"temperature": 0.0 if seed is None else 0.7}
        if json_schema is not None and _supports_schema(self.engine, self.model):
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": json_schema},
            }
        req = ChatRequest(
            model=self.model,
            messages=tuple(messages),
            params=params,
            api_base=self.api_base,
            sample=seed or 0,
        )
        return self.engine.complete(req).text


def _supports_schema(engine: InferenceEngine, model: str) -> bool:
    # Asked of the engine's provider: with litellm in a worker process, the pytest process
    # never imports litellm for this.
    check = getattr(engine.provider, "supports_response_schema", None)
    if check is None:
        return False
    try:
        return bool(check(model))
    except Exception:
        return False
