"""Shared state of a run: the stash key of its session, and the running config and item.

The plugin's hooks push the config when a run is configured and the item while it runs;
the Python API (``check()`` outside the fixture) reads them. Stacks, not single values: a run
started from inside another in the same process (pytester's ``runpytest_inprocess``) pushes
its own and, when it ends, the outer run's come back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .session import MlevalSession

__all__ = [
    "CASE_PROPERTY",
    "SESSION_KEY",
    "current_config",
    "current_item",
    "pop_config",
    "pop_item",
    "push_config",
    "push_item",
]

CASE_PROPERTY = "mleval_case"
"""user_properties key under which each item's full result record travels (xdist-safe)."""

SESSION_KEY: pytest.StashKey[MlevalSession] = pytest.StashKey()
"""Where a run's session lives: ``config.stash[SESSION_KEY]``."""

_configs: list[pytest.Config] = []
_items: list[pytest.Item] = []


def push_config(config: pytest.Config) -> None:
    """Make ``config`` the current run's (called when the run is configured)."""
    _configs.append(config)


def pop_config(config: pytest.Config) -> None:
    """End ``config``'s turn as current (called at unconfigure); the outer run's returns."""
    # From the top: a run's config is the last pushed unless an inner run failed to pop.
    for i in range(len(_configs) - 1, -1, -1):
        if _configs[i] is config:
            del _configs[i:]
            return


def current_config() -> pytest.Config | None:
    """The config of the innermost run in progress in this process, if any."""
    return _configs[-1] if _configs else None


def push_item(item: pytest.Item) -> None:
    """Make ``item`` the running test (called around its call phase)."""
    _items.append(item)


def pop_item(item: pytest.Item) -> None:
    """End ``item``'s call phase; the item of an outer run (if any) is current again."""
    for i in range(len(_items) - 1, -1, -1):
        if _items[i] is item:
            del _items[i:]
            return


def current_item() -> pytest.Item | None:
    """The test whose call phase is running, if any."""
    return _items[-1] if _items else None
