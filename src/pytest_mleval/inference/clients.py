"""Which client serves a model call: the native OpenAI-compatible one, or litellm.

The rule, in one place (the router, the session's decision to start litellm's worker and the
start-up scan all ask it), and cheap: nothing here imports an HTTP library or litellm.

- ``litellm``: every remote call goes through litellm, as before the native client.
- ``auto`` (the default): OpenAI-compatible ids go native: ``openai/...``, ``hosted_vllm/...``,
  ``lm_studio/...``, ``llamafile/...``, and an id without a provider prefix that has an
  ``api_base``. Other providers (``anthropic/``, ``ollama/``, ``bedrock/``...) have their own
  APIs and stay with litellm.
- ``native``: as ``auto``, and also any ``PROVIDER/NAME`` with an ``api_base``, called as an
  OpenAI-compatible endpoint with model ``NAME`` (an Ollama, TGI or llama.cpp server's ``/v1``).

A request the native client does not support (litellm-only parameters, see
:data:`LITELLM_ONLY_PARAMS`) goes to litellm whatever the mode; :func:`native_unsupported` says
why, and the run reports it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLIENT_MODES",
    "LITELLM_ONLY_PARAMS",
    "NativeEndpoint",
    "native_endpoint",
    "native_unsupported",
    "needs_litellm",
]

CLIENT_MODES = ("auto", "native", "litellm")

# provider prefix -> (API key variable, base URL variables, default base URL), as litellm reads.
_OPENAI_COMPATIBLE: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "openai": (
        "OPENAI_API_KEY",
        ("OPENAI_BASE_URL", "OPENAI_API_BASE"),
        "https://api.openai.com/v1",
    ),
    "hosted_vllm": ("HOSTED_VLLM_API_KEY", ("HOSTED_VLLM_API_BASE",), None),
    "lm_studio": ("LM_STUDIO_API_KEY", ("LM_STUDIO_API_BASE",), None),
    "llamafile": ("LLAMAFILE_API_KEY", ("LLAMAFILE_API_BASE",), None),
}

LITELLM_ONLY_PARAMS = frozenset(
    {
        "mock_response",
        "custom_llm_provider",
        "api_version",
        "base_model",
        "input_cost_per_token",
        "output_cost_per_token",
        "caching",
        "cache",
        "fallbacks",
        "context_window_fallback_dict",
        "model_list",
        "acompletion",
        "litellm_logging_obj",
        "headers",
        "organization",
        "deployment_id",
    }
)
"""Parameters only litellm understands: a request carrying one is served by litellm."""


@dataclass(frozen=True)
class NativeEndpoint:
    """Where and as what the native client sends a model id.

    Attributes:
        wire_model: the ``model`` field of the request body (the id without its provider).
        base_url: the endpoint (``.../v1``), without a trailing slash.
        key_env: the environment variable holding the provider's key, if any.
    """

    wire_model: str
    base_url: str
    key_env: str | None


def native_endpoint(
    model: str, api_base: str | None, mode: str = "auto", env: Mapping[str, str] | None = None
) -> NativeEndpoint | None:
    """The native endpoint of a call, or ``None`` when litellm (or a local model) serves it.

    Args:
        model: the model id of the request.
        api_base: the request's endpoint override.
        mode: the client mode (``auto``, ``native`` or ``litellm``).
        env: where the provider's base URL variables are read (default ``os.environ``).
    """
    if mode == "litellm" or model.startswith("hf:"):
        return None
    environ = os.environ if env is None else env
    provider, sep, name = model.partition("/")
    if not sep:
        # No provider prefix: OpenAI-compatible only at an explicit endpoint.
        return NativeEndpoint(model, api_base.rstrip("/"), None) if api_base else None
    known = _OPENAI_COMPATIBLE.get(provider)
    if known is None:
        if mode == "native" and api_base:
            return NativeEndpoint(name, api_base.rstrip("/"), None)
        return None
    key_env, base_vars, default = known
    base = api_base or next((environ[v] for v in base_vars if environ.get(v)), None) or default
    if not base:
        return None  # litellm reports the missing endpoint in its own words
    return NativeEndpoint(name, base.rstrip("/"), key_env)


def native_unsupported(params: Mapping[str, Any]) -> str | None:
    """Why the native client cannot make a request with these parameters (``None``: it can)."""
    odd = sorted(k for k in params if k in LITELLM_ONLY_PARAMS)
    if odd:
        return "litellm-only parameter" + ("s " if len(odd) > 1 else " ") + ", ".join(odd)
    return None


def needs_litellm(model: str | None, mode: str = "auto", api_base: str | None = None) -> bool:
    """Whether calls to ``model`` need litellm (not local, not served natively)."""
    if not model or str(model).startswith("hf:"):
        return False
    return native_endpoint(str(model), api_base, mode) is None
