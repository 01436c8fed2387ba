"""The look-ahead window: generations issued ahead of the item pytest runs (glue).

Model calls run concurrently while pytest runs items one at a time, so the generations of the
next items start before they run; not all up front, so a run that stops early (``-x``,
``--maxfail``, Ctrl-C) stops paying where it stopped.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .targets import eval_item

if TYPE_CHECKING:
    from ..collect import EvalItem
    from .targets import Targets

__all__ = ["Lookahead"]


class Lookahead:
    """Issues the generations of the items inside the window ahead of the running item.

    Args:
        config: The run's config.
        targets: Where items' targets come from.
        window: How many generations may run ahead (in this process).
        on_prefetch: Called after a target was given cases to prefetch.
        skip: Whether an item is no longer to be issued (its sequential suite is decided).
    """

    def __init__(
        self,
        config: pytest.Config,
        targets: Targets,
        window: Callable[[], int],
        on_prefetch: Callable[[], None],
        skip: Callable[[EvalItem], bool] | None = None,
    ) -> None:
        self.config = config
        self.targets = targets
        self.window = window
        self.on_prefetch = on_prefetch
        self.skip = skip
        self._prefetched: set[str] = set()
        self._in_flight: set[str] = set()
        """Items whose generation a target really started ahead (it has ``prefetch``)."""
        # Positions (in session.items) of the items whose generations can be issued ahead.
        self._ahead_at: list[int] = []
        self._positions: dict[int, int] = {}
        self._issued_upto = 0  # how many of _ahead_at have been issued

    def start(self, items: list[pytest.Item]) -> None:
        """Before the first item (one process, or the controller): issue the first window."""
        self._ahead_at = [i for i, it in enumerate(items) if self.issuable(it)]
        self._positions = {id(it): i for i, it in enumerate(items)}
        self._prefetch_from(items, 0)

    def advance(self, item: pytest.Item) -> None:
        """Before ``item`` runs (one process): the window moves up to it."""
        position = self._positions.get(id(item))
        if position is not None and self._ahead_at:
            index = bisect.bisect_left(self._ahead_at, position)
            self._prefetch_from(item.session.items, index)

    def advance_worker(self, item: pytest.Item) -> None:
        """Before ``item`` runs in an xdist worker: the window covers this worker's queue.

        A worker learns its items as the controller sends them, so no worker generates
        another worker's cases.
        """
        window = self.window()
        queued = [item] if self.issuable(item) else []
        if len(queued) < window:
            items = item.session.items
            with _worker_queue(self.config) as pending:
                for i in pending:
                    if isinstance(i, int) and self.issuable(items[i]):
                        queued.append(items[i])
                        if len(queued) >= window:
                            break
        self._prefetch(queued)

    def _prefetch_from(self, items: list[pytest.Item], index: int) -> None:
        """Issue the window of issuable items from the ``index``-th of them on."""
        end = index + self.window()
        # Only the part not issued yet: usually the one item that entered the window.
        start = max(index, self._issued_upto)
        if start < end:
            self._issued_upto = end
            self._prefetch([items[p] for p in self._ahead_at[start:end]])

    def issued(self, item: pytest.Item) -> bool:
        """Whether an item's generation was started ahead (it is in flight, or done)."""
        return item.nodeid in self._in_flight

    def issuable(self, item: pytest.Item) -> bool:
        """Whether an item's generation can be issued before the item runs."""
        found = eval_item(item)
        if found is None:
            return False
        if self.skip is not None and self.skip(found):
            return False
        from ..targets.registry import is_per_item

        target = found.suite.spec.target
        if not target:
            return False
        return not is_per_item(target) and not found.eval_case.render_error

    def _prefetch(self, items: list[pytest.Item]) -> None:
        groups: dict[str, list[EvalItem]] = {}
        for item in items:
            found = eval_item(item)
            if found is not None and found.nodeid not in self._prefetched and self.issuable(found):
                self._prefetched.add(found.nodeid)
                # Per suite: a file's variants share a target spec but not their targets.
                key = f"{found.suite.path}::{found.suite.name}::{found.suite.spec.target}"
                groups.setdefault(key, []).append(found)
        for group in groups.values():
            try:
                target = self.targets.target_for(group[0])
            except Exception:
                continue  # the item reports it when it runs
            prefetch = getattr(target, "prefetch", None)
            if callable(prefetch):
                prefetch([i.eval_case for i in group])
                self._in_flight.update(i.nodeid for i in group)
                self.on_prefetch()


@contextlib.contextmanager
def _worker_queue(config: pytest.Config) -> Iterator[Iterable[Any]]:
    """The item indexes queued for this xdist worker, next first (none when unknown).

    xdist has no public API for a worker's queue: its hooks (``pytest_xdist_*``,
    ``pytest_configure_node``) run on the controller, and ``workerinput`` holds only what
    the controller sent at start. The worker's interactor plugin keeps the queue in
    ``torun`` (xdist 3.x); it is read under its lock, and seen as empty when absent.
    """
    interactor = next((p for p in config.pluginmanager.get_plugins() if hasattr(p, "torun")), None)
    queue = getattr(interactor, "torun", None)
    if queue is None or not hasattr(queue, "lock"):
        yield ()
        return
    with queue.lock() as pending:
        yield pending
