"""Lazy package faces: a folder's public names load their module on first use.

pytest imports this package at start-up for every project that has it installed, so a folder's
``__init__`` must not import its modules; it maps each public name to the module defining it
and hands the map to :func:`lazy_face`. Imports nothing beyond the standard library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_face"]


def lazy_face(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of a lazy package face.

    Args:
        package: The package's ``__name__``.
        where: Public name -> the module that defines it, relative to ``package``
            (``"cache"`` or ``".cache"``; ``"..scrubbing"`` for a sibling of the package).

    Returns:
        ``(__getattr__, __dir__)`` to assign at the package's top level.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # Not cached in the package: the submodule stays the single source of truth.
        relative = module if module.startswith(".") else f".{module}"
        return getattr(importlib.import_module(relative, package), name)

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
