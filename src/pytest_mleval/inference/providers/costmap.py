"""Prices from litellm's bundled cost map, read as a file: no litellm import.

litellm ships its offline cost map as ``model_prices_and_context_window_backup.json`` in its
package folder (the file ``LITELLM_LOCAL_MODEL_COST_MAP`` makes it use). The native client
prices its calls from that same file, so a call costs the same through either client, and
never pays litellm's multi-second import to learn a price.

Without litellm (``pytest-mleval[native]``), the native client prices OpenAI's models from
``openai_prices.json`` beside this module: those entries of a litellm cost map, with the
fields pricing reads (:func:`openai_price_table`; ``scripts/gen_openai_prices.py`` writes it).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..types import UNPRICED_TAIL

__all__ = [
    "SHIPPED_TABLE",
    "CostMap",
    "cost_map",
    "litellm_map_file",
    "openai_price_table",
    "shipped_cost_map",
    "unpriced_note",
]

_FILE = "model_prices_and_context_window_backup.json"
SHIPPED_TABLE = Path(__file__).with_name("openai_prices.json")
"""OpenAI's prices, for a process without litellm (a snapshot of litellm's cost map)."""

# What of litellm's map the shipped table keeps: the entries the native client can be asked to
# price without litellm (OpenAI's chat, completion and embedding models), and the fields that
# pricing and the JSON-schema check read.
_PROVIDERS = frozenset({"openai", "text-completion-openai"})
_MODES = frozenset({"chat", "responses", "completion", "embedding"})
_FIELDS = (
    "litellm_provider",
    "mode",
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "supports_response_schema",
)


def unpriced_note(model: str, shipped: bool = False) -> str:
    """The note a call to a model without a price carries (the litellm path's words).

    Args:
        model: the request's model id.
        shipped: whether prices came from the shipped OpenAI table (litellm not installed).
    """
    if shipped:
        return (
            f"model {model!r} is not in pytest-mleval's OpenAI price table (litellm, which has "
            "every provider's prices, is not installed)" + UNPRICED_TAIL
        )
    return f"model {model!r} is not in litellm's cost map" + UNPRICED_TAIL


def openai_price_table(entries: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The shipped table made from a litellm cost map: OpenAI's priced models, pricing fields.

    Args:
        entries: a litellm cost map (model key -> fields).
        source: where the map came from (litellm's version), recorded in the table.
    """
    kept: dict[str, dict[str, Any]] = {}
    for key in sorted(entries):
        entry = entries[key]
        if not isinstance(entry, Mapping) or entry.get("litellm_provider") not in _PROVIDERS:
            continue
        if entry.get("mode") not in _MODES or entry.get("input_cost_per_token") is None:
            continue
        kept[key] = {f: entry[f] for f in _FIELDS if entry.get(f) is not None}
    return {"source": source, "entries": kept}


class CostMap:
    """Model prices by litellm model id, as litellm would find them.

    Args:
        entries: the cost map's entries (model key -> price fields); ``None`` when there is
            no cost map, so every call is unpriced.
        shipped: whether the entries are the shipped OpenAI table's.
    """

    def __init__(
        self, entries: Mapping[str, Mapping[str, Any]] | None, shipped: bool = False
    ) -> None:
        self.available = entries is not None
        self.shipped = shipped
        """Whether the prices are the shipped OpenAI table's (litellm is not installed)."""
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
            return 0.0, unpriced_note(model, self.shipped)
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


def litellm_map_file() -> Path | None:
    """The installed litellm's bundled cost map file (``None`` without litellm)."""
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


def _read(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def shipped_cost_map() -> CostMap:
    """The shipped table of OpenAI's prices as a cost map (read from the file each call)."""
    entries = (_read(SHIPPED_TABLE) or {}).get("entries")
    return CostMap(entries if isinstance(entries, dict) else None, shipped=True)


def cost_map() -> CostMap:
    """The process's cost map, read once (tens of milliseconds: call it off the hot path).

    litellm's bundled map where litellm is installed (every provider, and the same prices as
    the litellm client's); otherwise the shipped table of OpenAI's prices.
    """
    global _MAP
    with _LOCK:
        if _MAP is None:
            path = litellm_map_file()
            _MAP = CostMap(_read(path)) if path is not None else shipped_cost_map()
        return _MAP
