"""``hf:PATH`` models: a local Hugging Face causal LM run in-process, fully offline."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...errors import InferenceError, MissingDependencyError
from ..types import ChatRequest, ChatResponse, Usage

__all__ = ["HFLocalProvider", "format_messages"]


def format_messages(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> str:
    """The prompt text: the tokenizer's chat template, else ``role: content`` lines."""
    if getattr(tokenizer, "chat_template", None):
        text: str = tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return text
    lines = [f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages]
    return "\n".join([*lines, "assistant:"])


class HFLocalProvider:
    """Generates with ``transformers`` from a local model directory (no hub access).

    Generation runs in a worker thread, one call at a time per model (a CPU or single-GPU
    model gains nothing from overlapping calls). ``temperature`` 0 or absent is greedy;
    ``max_tokens`` (default 128), ``top_p`` and ``seed`` are honoured.

    Args:
        path: directory holding ``config.json``, the weights and the tokenizer.
        device: torch device; default ``cuda`` when available, else ``cpu``.
    """

    def __init__(self, path: str | Path, *, device: str | None = None) -> None:
        self.path = Path(path)
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        if self._model is not None:
            return self._model, self._tokenizer
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise MissingDependencyError(
                getattr(exc, "name", None) or "transformers", "finetune", "hf: local models"
            ) from exc
        adapter = (self.path / "adapter_config.json").is_file()
        if not adapter and not (self.path / "config.json").is_file():
            raise InferenceError(
                f"model 'hf:{self.path}': no Hugging Face model directory there "
                "(expected config.json, weights and a tokenizer, or a PEFT adapter)"
            )
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        tokenizer = transformers.AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        model: Any
        if adapter:
            # A PEFT adapter that cannot be merged (prefix tuning) loads over its base model.
            try:
                import peft
            except ImportError as exc:
                raise MissingDependencyError("peft", "finetune", "hf: adapter models") from exc
            model = peft.AutoPeftModelForCausalLM.from_pretrained(self.path, local_files_only=True)
        else:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                self.path, local_files_only=True
            )
        model = model.to(device)
        model.eval()
        self._model, self._tokenizer, self.device = model, tokenizer, device
        return model, tokenizer

    def prepare(self, model: str) -> None:
        """Load the model and tokenizer (the engine runs this once, in a worker thread)."""
        with self._lock:
            self._load()

    def _generate(self, req: ChatRequest) -> tuple[str, int, int, str]:
        import torch

        with self._lock:
            model, tokenizer = self._load()
            prompt = format_messages(tokenizer, req.messages)
            inputs = tokenizer(prompt, return_tensors="pt").to(self.device)
            params = req.params
            temperature = float(params.get("temperature") or 0.0)
            max_new = int(params.get("max_tokens") or params.get("max_completion_tokens") or 128)
            kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
            if temperature > 0:
                kwargs["temperature"] = temperature
                if params.get("top_p") is not None:
                    kwargs["top_p"] = float(params["top_p"])
                if params.get("seed") is not None:
                    torch.manual_seed(int(params["seed"]))
            pad = tokenizer.pad_token_id
            kwargs["pad_token_id"] = pad if pad is not None else tokenizer.eos_token_id
            with torch.no_grad():
                out = model.generate(**inputs, **kwargs)
            prompt_len = int(inputs["input_ids"].shape[1])
            new_tokens = out[0][prompt_len:]
            text = tokenizer.decode(new_tokens, skip_special_tokens=True)
            eos = tokenizer.eos_token_id
            stopped = len(new_tokens) > 0 and eos is not None and int(new_tokens[-1]) == eos
            reason = "stop" if stopped or len(new_tokens) < max_new else "length"
            return text, prompt_len, len(new_tokens), reason

    async def acomplete(self, req: ChatRequest) -> ChatResponse:
        """Generate an answer in a worker thread."""
        start = time.perf_counter()
        text, prompt_tokens, completion_tokens, reason = await asyncio.to_thread(
            self._generate, req
        )
        return ChatResponse(
            text=text,
            model=req.model,
            usage=Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens),
            cost_usd=0.0,
            cost_note="local model: no cost",
            latency_ms=(time.perf_counter() - start) * 1000.0,
            finish_reason=reason,
        )

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        with self._lock:
            model, tokenizer = self._load()
            vectors = []
            for text in texts:
                inputs = tokenizer(text, return_tensors="pt").to(self.device)
                with torch.no_grad():
                    hidden = model(**inputs, output_hidden_states=True).hidden_states[-1][0]
                vec = hidden.mean(dim=0)
                vec = vec / (vec.norm() + 1e-12)
                vectors.append([float(v) for v in vec.cpu()])
            return vectors

    async def aembed(
        self,
        model: str,
        texts: Sequence[str],
        *,
        api_base: str | None = None,
        api_key: str | None = None,
    ) -> list[list[float]]:
        """Mean-pooled, L2-normalised last hidden states (a crude embedding, for offline use)."""
        return await asyncio.to_thread(self._embed, texts)
