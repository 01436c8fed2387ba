"""Which eval suites the run's selection left without a single case, and whose choice it was.

A suite some of whose cases run is covered by its ``not_run`` count. One none of whose cases
runs has no case result to carry it, so it vanished from every output: a failing gated suite
deselected with ``-k`` read "passed". pytest reports every deselection (``-k``, ``-m``,
``--deselect``, ``--lf``, other plugins) through ``pytest_deselected``; so does
``--mleval-shard``, whose cases in another shard are ``mleval merge``'s business, not the
user's choice, and are told apart here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

import pytest

from .targets import eval_item

if TYPE_CHECKING:
    from ..cases.suite import Suite
    from ..results.run import NotSelected

__all__ = ["Selection", "unselected_from_json", "unselected_json"]


class Selection:
    """The eval cases deselected in this process (where items are collected)."""

    def __init__(self) -> None:
        self._deselected: dict[str, set[str]] = {}
        """Suite -> its case ids the user's selection deselected."""
        self._shard_away: set[str] = set()
        """Suites with cases in another shard."""
        self._sharding = False

    @contextlib.contextmanager
    def sharding(self) -> Iterator[None]:
        """Deselections reported inside are a shard's, not the user's."""
        self._sharding = True
        try:
            yield
        finally:
            self._sharding = False

    def deselected(self, items: Iterable[pytest.Item]) -> None:
        """Record ``pytest_deselected``'s eval items."""
        for item in items:
            ev = eval_item(item)
            if ev is None:
                continue
            if self._sharding:
                self._shard_away.add(ev.suite.name)
            else:
                self._deselected.setdefault(ev.suite.name, set()).add(ev.eval_case.id)

    def unselected(
        self, kept: Iterable[pytest.Item], suites: Mapping[str, Suite]
    ) -> dict[str, NotSelected]:
        """Suites the user deselected whole: none of ``kept`` (the items that run) is theirs."""
        if not self._deselected:
            return {}  # the common case: nothing to import (results load only where needed)
        from ..results.run import NotSelected

        running = {ev.suite.name for i in kept if (ev := eval_item(i)) is not None}
        out: dict[str, NotSelected] = {}
        for name, ids in self._deselected.items():
            suite = suites.get(name)
            if name in running or name in self._shard_away or suite is None:
                continue
            cases = len({c.id for c in suite.cases} | ids)
            out[name] = NotSelected(str(suite.path), cases, len(suite.spec.gates))
        return out


def unselected_json(unselected: Mapping[str, NotSelected]) -> str:
    """What an xdist worker sends its controller (which collects nothing)."""
    return json.dumps({name: list(gone) for name, gone in unselected.items()})


def unselected_from_json(text: str) -> dict[str, NotSelected]:
    """The controller's reading of :func:`unselected_json`."""
    from ..results.run import NotSelected

    return {name: NotSelected(*gone) for name, gone in json.loads(text).items()}
