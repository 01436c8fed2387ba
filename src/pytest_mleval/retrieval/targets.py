"""The ``rag:CONFIG.yaml`` target and the RAG fixtures' builders (glue to the plugin)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import TargetError
from ..targets.registry import EvalCase, TargetContext, register_target_kind
from ..targets.services import RunServices

__all__ = ["RagTarget", "load_pipeline", "model_completer", "spent", "take_build_calls"]

# One pipeline per config file and process: ingestion and embedding happen once per run.
_PIPELINES: dict[str, Any] = {}
# The model calls the building of pipelines made (document embeddings), not yet counted in a
# run's usage: no case made them, so the session takes them for the run's total.
_BUILD_CALLS: list[dict[str, dict[str, Any]]] = []
_BUILD_LOCK = threading.Lock()


def model_completer(engine: Any, model: str, api_base: str | None = None) -> Callable[[str], str]:
    """A ``complete(prompt) -> str`` over the run's inference engine."""
    from ..inference.types import ChatRequest

    def complete(prompt: str) -> str:
        req = ChatRequest.from_prompt(model, prompt, params={"temperature": 0}, api_base=api_base)
        return str(engine.complete(req).text)

    return complete


def load_pipeline(config: str | Path, *, services: RunServices | None = None) -> Any:
    """The ingested pipeline of a RAG config (cached per process)."""
    from .pipeline import RagConfig, RagPipeline

    path = Path(config).resolve()
    key = str(path)
    if key not in _PIPELINES:
        if not path.is_file():
            raise TargetError(f"RAG config not found: {path}")
        from ..inference.metering import metering

        cfg = RagConfig.from_yaml(path) if hasattr(RagConfig, "from_yaml") else None
        complete = None
        generator = getattr(cfg, "generator", None) if cfg is not None else None
        if generator and services is not None and services.engine is not None:
            complete = model_completer(services.engine(), str(generator), services.api_base)
        with metering() as meter:
            pipeline = RagPipeline.from_yaml(path, complete=complete)
            pipeline.ingest()
        if meter.models:
            with _BUILD_LOCK:
                _BUILD_CALLS.append(meter.as_dict())
        _PIPELINES[key] = pipeline
    return _PIPELINES[key]


def take_build_calls() -> list[dict[str, dict[str, Any]]]:
    """The calls building this process's pipelines made since the last take (document
    embeddings at ingestion), one model -> use mapping per pipeline; each is handed out once."""
    with _BUILD_LOCK:
        taken, _BUILD_CALLS[:] = list(_BUILD_CALLS), []
    return taken


class RagTarget:
    """Answers each case with the pipeline; records retrieved document ids and contexts."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def __call__(self, case: EvalCase) -> dict[str, Any]:
        probe = case.metadata.get("probe")
        planted: list[str] = []
        if isinstance(probe, dict) and probe.get("family") == "indirect_injection":
            # The probe's documents that hold the planted instruction reach the reader as
            # retrieved passages; the corpus itself is never written to.
            canary = str(probe.get("canary") or "")
            planted = [d for d in case.context if canary and _holds(d, canary)]
        from ..inference.metering import metering

        # The generator's and the query embedder's calls are this case's spend: the engine
        # counts each in the meter of the thread that asks, which is this one.
        with metering() as meter:
            answer = self.pipeline.answer(case.text, planted=planted)
        return {
            "output": answer.output,
            "context": list(answer.contexts),
            "retrieved": list(answer.retrieved_ids),
            "metadata": {"citations": [str(c) for c in getattr(answer, "citations", [])]},
            **spent(meter.as_dict(), getattr(self.pipeline.config, "generator", None)),
        }


def spent(calls: dict[str, dict[str, Any]], generator: str | None) -> dict[str, Any]:
    """The output fields that report the model ``calls`` behind one answer: each model's
    (``calls``), their sums (``usage``, ``cost_usd``, ``retries``), the model that answered
    (the ``generator``, or the one that wrote the most tokens when a fallback answered) and
    ``cached`` when every call came from the cache. Nothing when no model was called."""
    if not calls:
        return {}
    answered = sum(u["calls"] for u in calls.values())
    writer = max(
        (m for m, u in calls.items() if u["completion_tokens"]),
        key=lambda m: calls[m]["completion_tokens"],
        default=None,
    )
    model = generator if generator in calls else writer
    return {
        "calls": calls,
        "model": model,
        "usage": {
            k: sum(int(u[k]) for u in calls.values())
            for k in ("prompt_tokens", "completion_tokens", "total_tokens")
        },
        "cost_usd": sum(float(u["cost_usd"]) for u in calls.values()),
        "retries": sum(int(u["retries"]) for u in calls.values()),
        "cached": answered > 0 and sum(int(u["cached"]) for u in calls.values()) == answered,
    }


def _holds(document: str, canary: str) -> bool:
    from ..safety.canary import canary_found

    return canary_found(document, canary) is not None


def _rag_target(ref: str, ctx: TargetContext) -> RagTarget:
    path = Path(ref)
    if not path.is_absolute() and ctx.base_dir is not None:
        path = ctx.base_dir / path
    return RagTarget(load_pipeline(path, services=ctx.services))


register_target_kind("rag", _rag_target)
