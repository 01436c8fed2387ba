"""The targets a run's items call: resolved once per suite (per item for ``fixture:``), with the
services the run offers them (glue: the targets need the running item's fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pytest

from ..targets.services import RunServices

if TYPE_CHECKING:
    from ..collect import EvalItem
    from ..targets.registry import TargetContext, TargetOutput

__all__ = ["RunServices", "Targets", "eval_item"]


def eval_item(item: pytest.Item) -> EvalItem | None:
    """``item`` as an eval item (one case of an eval file), else ``None``.

    By shape, not ``isinstance(item, collect.EvalItem)``: collection imports the session, so the
    session importing collection would close an import cycle.
    """
    if isinstance(item, pytest.Function) and hasattr(item, "eval_case") and hasattr(item, "suite"):
        return cast("EvalItem", item)
    return None


class Targets:
    """The run's targets, resolved on first use and cached per suite (variant) and spec."""

    def __init__(self, config: pytest.Config, services: RunServices) -> None:
        self.config = config
        self.services = services
        self._targets: dict[str, Callable[..., Any]] = {}
        self._errors: dict[str, BaseException] = {}

    def target_for(self, item: EvalItem) -> Callable[..., Any]:
        """Resolve (and cache per suite) the target of an item's suite."""
        from ..errors import MlevalError
        from ..targets.registry import is_per_item

        spec = item.suite.spec.target
        if not spec:
            raise MlevalError(
                f"suite {item.suite.name!r} has no `target:`; nothing produces outputs"
            )
        # Per suite, not per spec alone: the variants of one file share a target spec but
        # not what else builds it (their api_base, fallbacks, stream).
        key = f"{item.suite.path}::{item.suite.name}::{spec}"
        if is_per_item(spec):
            return self._make(spec, self._context(item))
        if key in self._errors:
            raise self._errors[key]
        if key not in self._targets:
            try:
                self._targets[key] = self._make(spec, self._context(item))
            except Exception as exc:
                self._errors[key] = exc
                raise
        return self._targets[key]

    def generate(self, item: EvalItem) -> TargetOutput:
        """Produce the output of one item (a prefetched result when the target has one)."""
        from ..targets.registry import call_target

        return call_target(self.target_for(item), item.eval_case)

    def _context(self, item: EvalItem) -> TargetContext:
        from ..targets.registry import TargetContext

        return TargetContext(
            suite=item.suite,
            config=self.config,
            getfixturevalue=_fixture_lookup(item),
            base_dir=item.suite.path.parent,
            services=self.services,
        )

    def _make(self, spec: str, ctx: TargetContext) -> Callable[..., Any]:
        from ..targets.registry import resolve_target

        custom = self.config.hook.pytest_mleval_make_target(spec=spec, context=ctx)
        if custom is not None:
            fn: Callable[..., Any] = custom
            return fn
        return resolve_target(spec, ctx)


def _fixture_lookup(item: pytest.Function) -> Callable[[str], Any]:
    """``getfixturevalue`` of an item, looked up when a ``fixture:`` target asks for one.

    Public first: once the item is set up, its ``request`` fixture (``item.funcargs``) is a
    ``pytest.FixtureRequest``. Before setup (a target built for the look-ahead window), or for
    an item whose function does not ask for ``request``, pytest has no public way to reach an
    item's request: ``Function._request`` is the only one.
    """

    def get(name: str) -> Any:
        request = item.funcargs.get("request")
        if not isinstance(request, pytest.FixtureRequest):
            request = item._request  # no public API here (see above)
        return request.getfixturevalue(name)

    return get
