"""Secrets: the one place that decides what an API key looks like and removes it from text.

Every message that leaves the inference layer (errors, the worker's log lines, litellm's own
log records) goes through :func:`scrub`; :func:`may_hold_secret` picks the environment
variables a long-lived process must not inherit. (Named for the act, not ``scrub``: a module
of that name would shadow the function in ``pytest_mleval.inference``'s face.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

__all__ = ["may_hold_secret", "scrub"]

_KEY_PATTERNS = (
    (re.compile(r"sk-[A-Za-z0-9_\-*]{4,}"), "sk-***"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-.=+/]{8,}"), r"\1***"),
    (
        re.compile(
            r"(?i)((?:api[_-]?key|x-api-key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
        ),
        r"\1***",
    ),
    # The password of a URL (redis://:PASSWORD@host, postgresql://user:PASSWORD@host).
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+@"), r"\1***@"),
)
# Names whose values are removed from messages: a suffix, so that e.g. a path in
# GOOGLE_APPLICATION_CREDENTIALS still shows in an error that names it.
_SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
# Names a process kept between runs never inherits: anywhere in the name, credentials too
# (dropping a harmless variable there costs nothing; each run hands over its own environment).
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")


def _env_secrets() -> list[str]:
    return [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 8]


def scrub(text: str, secrets: Sequence[str | None] = ()) -> str:
    """Remove API keys from a message: the given secrets, key-like env values, ``sk-...`` shapes.

    Args:
        text: the message.
        secrets: values to remove wherever they occur (``None`` and very short ones skipped).

    Returns:
        The message with each secret replaced by ``***``.
    """
    for secret in [*secrets, *_env_secrets()]:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern, repl in _KEY_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def may_hold_secret(name: str) -> bool:
    """Whether the environment variable ``name`` may hold a credential (key, token, password).

    Args:
        name: the variable's name.

    Returns:
        True when its name contains one of the secret words, in any case.
    """
    upper = name.upper()
    return any(word in upper for word in _SECRET_WORDS)
