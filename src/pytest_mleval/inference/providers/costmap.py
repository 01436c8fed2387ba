"""Prices from litellm's bundled cost map, read as a file: no litellm import.

litellm ships its offline cost map as ``model_prices_and_context_window_backup.json`` in its
package folder (the file ``LITELLM_LOCAL_MODEL_COST_MAP`` makes it use). The native client
prices its calls from that same file, so a call costs the same through either client, and
never pays litellm's multi-second import to learn a price.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["CostMap", "cost_map", "unpriced_note"]

_FILE = "model_prices_and_context_window_backup.json"


def unpriced_note(model: str) -> str:
    """The note a call to a model without a price carries (the litellm path's words)."""
    return f"model {model!r} is not in litellm's cost map: cost counted as 0"


class CostMap:
    """Model prices by litellm model id, as litellm would find them.

    Args:
        entries: the cost map's entries (model key -> price fields); ``None`` when there is
            no cost map (litellm not installed), so every call is unpriced.
    """

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None) -> None:
        self.available = entries is not None
        self._entries: Mapping[str, Mapping[str, Any]] = entries or {}

    def entry(self, model: str) -> Mapping[str, Any] | None:
        """The price entry of a model id (``openai/gpt-4o-mini`` or ``gpt-4o-mini``).

        litellm looks a provider-prefixed id up by its full key first and then by the name
        after the provider, checking the entry belongs to that provider.
        """
        found = self._entries.get(model)
        if found is not None:
            return found
        provider, _, name = model.partition("/")
        if not name:
            return None
        found = self._entries.get(name)
        if found is None:
            return None
        owner = str(found.get("litellm_provider", ""))
        # An `openai/` id also finds the entries litellm files as `text-completion-openai`.
        return found if owner == provider or owner.endswith("-" + provider) else None

    def chat_cost(self, model: str, usage: Mapping[str, Any]) -> tuple[float, str | None]:
        """What one chat call cost, and a note when it is counted as 0.

        Args:
            model: the request's model id.
            usage: the reply's ``usage`` object as JSON (cached prompt tokens, when the
                provider reports them in ``prompt_tokens_details``, get the cache-read price).
        """
        entry = self.entry(model)
        if entry is None or entry.get("input_cost_per_token") is None:
            return 0.0, unpriced_note(model)
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or 0) if isinstance(details, Mapping) else 0
        read_price = entry.get("cache_read_input_token_cost")
        input_price = float(entry.get("input_cost_per_token") or 0.0)
        if read_price is None:
            cached = 0
        cost = (prompt - cached) * input_price + cached * float(read_price or 0.0)
        cost += completion * float(entry.get("output_cost_per_token") or 0.0)
        return cost, None

    def embedding_cost(self, model: str, prompt_tokens: int) -> float:
        """What one embedding call of ``prompt_tokens`` tokens cost (0 when unpriced)."""
        entry = self.entry(model)
        if entry is None:
            return 0.0
        return prompt_tokens * float(entry.get("input_cost_per_token") or 0.0)

    def supports_response_schema(self, model: str) -> bool:
        """Whether the map says ``model`` takes a JSON schema as ``response_format``."""
        entry = self.entry(model)
        return bool(entry and entry.get("supports_response_schema"))


_MAP: CostMap | None = None
_LOCK = threading.Lock()


def _map_file() -> Path | None:
    try:
        # find_spec of a top-level package reads no module: litellm stays unimported.
        spec = importlib.util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _FILE
        if path.is_file():
            return path
    return None


def cost_map() -> CostMap:
    """The process's cost map, read once (tens of milliseconds: call it off the hot path)."""
    global _MAP
    with _LOCK:
        if _MAP is None:
            path = _map_file()
            entries = None
            if path is not None:
                try:
                    loaded = json.loads(path.read_bytes())
                    entries = loaded if isinstance(loaded, dict) else None
                except (OSError, ValueError):
                    entries = None
            _MAP = CostMap(entries)
        return _MAP
