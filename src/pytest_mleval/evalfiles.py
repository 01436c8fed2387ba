"""Which files are eval files, and a cheap glance at one before it is parsed.

Used at start-up (:mod:`.prestart`), by the plugin's collection hook and by the session:
nothing here parses YAML, so it stays cheap to import and to run on every file pytest sees.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_PATTERNS",
    "eval_file_models",
    "eval_file_names_a_model",
    "is_eval_file",
    "names_remote_model",
]

DEFAULT_PATTERNS = ("*.eval.yaml", "*.eval.yml", "eval_*.yaml", "eval_*.yml")
"""Glob patterns of eval files when ini ``mleval_files`` is not set."""

# The model id of a `target: model:...` or `judge_model:` line in an eval file's text (quoted
# or not); `hf:` ids, null and ~ are filtered after.
_MODEL_ID = re.compile(
    rb"^[ \t]*(?:target:[ \t]*[\"']?model:|judge_model:)[ \t]*[\"']?([^\s\"'#,}]+)",
    re.MULTILINE,
)


def is_eval_file(path: Path, patterns: Sequence[str]) -> bool:
    """Whether a path's name matches one of the eval-file patterns.

    Args:
        path: The file (only its name is looked at).
        patterns: Glob patterns, as in ini ``mleval_files``.

    Returns:
        True when the name matches a pattern.
    """
    return any(fnmatch.fnmatch(path.name, p) for p in patterns)


def names_remote_model(model: str | None) -> bool:
    """Whether a model id names a remote model (one litellm calls), not a local ``hf:`` one."""
    return bool(model) and not str(model).startswith("hf:")


def eval_file_models(path: Path) -> list[str]:
    """The remote model ids an eval file's raw text names (a glance, before parsing).

    Args:
        path: The eval file.

    Returns:
        The ids of its ``target: model:...`` and ``judge_model:`` lines, without local
        ``hf:`` ones; empty also when the file cannot be read (collection reports that).
    """
    try:
        text = path.read_bytes()
    except OSError:
        return []  # collection reports it
    ids = (m.group(1).decode("utf-8", "replace") for m in _MODEL_ID.finditer(text))
    return [i for i in ids if i not in ("null", "~") and names_remote_model(i)]


def eval_file_names_a_model(path: Path) -> bool:
    """Whether an eval file's raw text names a remote model (a glance, before parsing).

    Args:
        path: The eval file.

    Returns:
        True when :func:`eval_file_models` finds one; False also when the file cannot be read
        (collection reports that).
    """
    return bool(eval_file_models(path))
