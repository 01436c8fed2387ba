"""Variants of a suite: the named overrides (``variants:``) or the product of axes
(``matrix:``), each expanded into a suite of its own that runs every case.

A variant's suite is named ``SUITE[VARIANT]``: its results, aggregates, gates and a baseline's
comparison are kept per variant by the machinery every suite has, and ``variant`` /
``variant_of`` say which suite it varies, so the variants can be compared with each other.
Problems (two variants of one name, an empty axis, a ``model:`` override of a suite whose
target is no model, a ``reference:`` that names no variant) are errors of the file, naming
the line and the variant.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Collection, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import EvalFileError
from ._yaml import first_error, node_line
from .schema import VARIANT_AXES, VariantSpec

__all__ = ["Variant", "expand_variants", "suite_variants", "variant_suite_name"]


@dataclasses.dataclass(frozen=True)
class Variant:
    """One variant of a suite: its name, what it overrides, and the line that defines it."""

    name: str
    overrides: dict[str, Any]
    """Suite fields set by the variant (``model`` rewrites a ``model:`` target; ``params``
    merge over the suite's)."""
    line: int | None = None


def variant_suite_name(suite: str, variant: str) -> str:
    """The name a variant's suite runs and is reported under: ``SUITE[VARIANT]``."""
    return f"{suite}[{variant}]"


def _value_names(axis: str, values: Sequence[Any]) -> list[str]:
    """How a list axis names its values: each by itself; a model id by its last part when
    that stays unique (``gpt-4o`` for ``openai/gpt-4o``)."""
    for value in values:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValueError(
                f"matrix axis {axis!r}: a {type(value).__name__} value needs a name; "
                f"write the axis as a mapping {{NAME: VALUE}}"
            )
    names = [str(v) for v in values]
    if axis in ("model", "target"):
        short = [n.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] for n in names]
        if len(set(short)) == len(short):
            names = short
    return names


def suite_variants(suite: Any, root: yaml.Node | None = None) -> list[Variant]:
    """The variants a suite spec declares (none without ``variants:`` or ``matrix:``).

    Args:
        suite: The suite (its ``spec`` and ``path``).
        root: The eval file's YAML node tree, for the lines of errors.

    Raises:
        EvalFileError: naming the line and the variant of the first problem.
    """
    spec, path = suite.spec, str(suite.path)

    def fail(message: str, loc: Sequence[Any], field: str) -> EvalFileError:
        return EvalFileError(message, path=path, line=node_line(root, loc), field=field)

    if spec.variants and spec.matrix is not None:
        raise fail("give `variants:` or `matrix:`, not both", ("matrix",), "matrix")
    out: list[Variant] = []
    if spec.matrix is not None:
        if not spec.matrix:
            raise fail("`matrix:` has no axes", ("matrix",), "matrix")
        axes: list[list[tuple[str, Any]]] = []
        for axis, values in spec.matrix.items():
            if axis not in VARIANT_AXES:
                raise fail(
                    f"matrix axis {axis!r} is not one of {', '.join(VARIANT_AXES)}",
                    ("matrix", axis),
                    f"matrix.{axis}",
                )
            if not values:
                raise fail(f"matrix axis {axis!r} is empty", ("matrix", axis), f"matrix.{axis}")
            if isinstance(values, dict):
                pairs = [(str(k), v) for k, v in values.items()]
            else:
                try:
                    pairs = list(zip(_value_names(axis, values), values, strict=True))
                except ValueError as exc:
                    raise fail(str(exc), ("matrix", axis), f"matrix.{axis}") from None
            axes.append([(name, (axis, value)) for name, value in pairs])
        line = node_line(root, ("matrix",))
        for combo in itertools.product(*axes):
            name = "+".join(part for part, _ in combo)
            overrides = {axis: value for _, (axis, value) in combo}
            try:
                checked = VariantSpec.model_validate({"name": name, **overrides})
            except ValidationError as exc:
                loc, msg = first_error(exc)
                axis = str(loc[0]) if loc else ""
                raise fail(
                    f"variant {name!r}: {axis + ': ' if axis else ''}{msg}",
                    ("matrix", *loc[:1]),
                    f"matrix.{axis}" if axis else "matrix",
                ) from None
            out.append(Variant(name, _overrides(checked), line))
    for i, v in enumerate(spec.variants):
        out.append(Variant(v.name, _overrides(v), node_line(root, ("variants", i))))
    seen: dict[str, int | None] = {}
    for i, v in enumerate(out):
        if v.name in seen:
            raise EvalFileError(
                f"two variants are named {v.name!r} (first at line {seen[v.name]})",
                path=path,
                line=v.line,
                field=f"variants[{i}].name",
            )
        seen[v.name] = v.line
        target = v.overrides.get("target", spec.target)
        if "model" in v.overrides and not str(target or "").startswith("model:"):
            raise EvalFileError(
                f"variant {v.name!r} sets `model:`, but its target is {target!r}, not a "
                "`model:` target (override `target:` instead)",
                path=path,
                line=v.line,
                field=f"variants[{i}].model",
            )
    if spec.reference is not None and spec.reference not in seen:
        known = ", ".join(seen) or "none"
        raise fail(
            f"`reference:` {spec.reference!r} is not a variant of this suite (variants: {known})",
            ("reference",),
            "reference",
        )
    if spec.variant_gates == "reference" and spec.reference is None:
        raise fail(
            "`variant_gates: reference` needs a `reference:` variant",
            ("variant_gates",),
            "variant_gates",
        )
    return out


def _overrides(v: VariantSpec) -> dict[str, Any]:
    out = v.overrides()
    if v.model is not None:
        out["model"] = v.model
    if v.params is not None:
        out["params"] = dict(v.params)
    return out


def expand_variants(
    suite: Any, variants: Sequence[Variant], *, only: Collection[str] | None = None
) -> list[Any]:
    """One suite per variant (only those named in ``only``, when given); the suite itself
    when it has no variants.

    Each runs every case with the variant's overrides applied to the spec; its gates are the
    suite's, or none for a variant other than the ``reference`` under ``variant_gates:
    reference``.
    """
    if not variants:
        return [suite]
    spec = suite.spec
    out = []
    for v in variants:
        if only is not None and v.name not in only:
            continue
        update: dict[str, Any] = {
            k: val for k, val in v.overrides.items() if k not in ("model", "params")
        }
        if "model" in v.overrides:
            update["target"] = f"model:{v.overrides['model']}"
        if "params" in v.overrides:
            update["params"] = {**spec.params, **v.overrides["params"]}
        if spec.variant_gates == "reference" and v.name != spec.reference:
            update["gates"] = []
        out.append(
            dataclasses.replace(
                suite,
                name=variant_suite_name(suite.name, v.name),
                spec=spec.model_copy(update=update),
                variant=v.name,
                variant_of=suite.name,
            )
        )
    return out
