"""Human labels of a suite (``labels:``): human scores of some cases per metric, read and
checked when the eval file loads.

Each entry gives a metric's human scores inline (``values: {CASE: score}``) or in a JSONL or
CSV file of ``{id, METRIC: score}`` rows beside the eval file. Every problem is an error of
the file that names its line and field: a metric the suite does not score, a case id the
suite does not have (or one that does not score the metric), a score that is not a number or
lies off the score's [0, 1] (after ``scale:``), a label for a variant that does not exist,
and a ``stat: ppi_mean`` gate on a metric nobody labelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..errors import EvalFileError
from ._yaml import node_line

if TYPE_CHECKING:
    from .schema import LabelSpec
    from .suite import Suite

__all__ = ["HUMAN_SUFFIX", "LabelSet", "human_metric", "load_labels", "suite_labels"]

HUMAN_SUFFIX = ":human"
"""What the human-scale aggregate of a metric is named after: ``judge`` -> ``judge:human``."""


def human_metric(metric: str) -> str:
    """The name of a metric's human-scale (prediction-powered) aggregate: ``METRIC:human``."""
    return metric + HUMAN_SUFFIX


@dataclass(frozen=True)
class LabelSet:
    """One metric's human scores, on the metric's own [0, 1] scale."""

    metric: str
    values: dict[str, float] = field(default_factory=dict)
    """Case id -> human score."""
    variant: str | None = None
    """The variant whose outputs were labelled (``None``: the suite has no variants)."""
    source: str = ""
    """Where the labels come from (``FILE:LINE``), for messages."""


def suite_labels(suite: Suite) -> dict[str, LabelSet]:
    """The labels that apply to this suite, by metric: those of its variant (or of the suite,
    when it has none)."""
    return {ls.metric: ls for ls in suite.labels if ls.variant == suite.variant}


def _number(value: Any) -> float | None:
    """A score as written: a number, or text that reads as one (a CSV cell); else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _file_rows(
    path: Path, spec: LabelSpec, *, eval_file: Path, line: int | None
) -> list[tuple[str, Any, int | None, Path]]:
    """(case id, raw score, line, file) of each row of a labels file that has a score."""
    from .datasets import _guess_format, _rows

    if not path.is_file():
        raise EvalFileError(
            f"labels file not found: {path}", path=str(eval_file), line=line, field="labels.path"
        )
    fmt = _guess_format(path)
    if fmt not in ("jsonl", "csv", "json"):
        raise EvalFileError(
            f"labels file {path.name!r}: use JSONL or CSV (or JSON) rows of "
            f"{{{spec.id_column}, {spec.column or spec.metric}}}",
            path=str(eval_file),
            line=line,
            field="labels.path",
        )
    column = spec.column or spec.metric
    out: list[tuple[str, Any, int | None, Path]] = []
    for row_line, row in _rows(path, fmt, eval_file=eval_file):
        if not isinstance(row, dict):
            raise EvalFileError(
                f"a labels row must be an object, got {type(row).__name__}",
                path=str(path),
                line=row_line,
            )
        if spec.id_column not in row or row[spec.id_column] in (None, ""):
            raise EvalFileError(
                f"row has no case id ({spec.id_column!r}); it has {sorted(map(str, row))}",
                path=str(path),
                line=row_line,
                field=spec.id_column,
            )
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # this row labels other metrics, not this one
        out.append((str(row[spec.id_column]), value, row_line, path))
    return out


def _check_value(
    value: Any, spec: LabelSpec, *, where: Path, line: int | None, case_id: str, column: str
) -> float:
    number = _number(value)
    if number is None or not math.isfinite(number):
        raise EvalFileError(
            f"a human score must be a number, got {value!r}",
            path=str(where),
            line=line,
            case_id=case_id,
            field=column,
        )
    if spec.scale is not None:
        low, high = spec.scale
        if not low <= number <= high:
            raise EvalFileError(
                f"human score {number:g} is off the labels' scale [{low:g}, {high:g}]",
                path=str(where),
                line=line,
                case_id=case_id,
                field=column,
            )
        return (number - low) / (high - low)
    if not 0.0 <= number <= 1.0:
        raise EvalFileError(
            f"human score {number:g} is off the score's [0, 1]; labels on another scale need "
            "`scale: [low, high]` (e.g. [1, 5])",
            path=str(where),
            line=line,
            case_id=case_id,
            field=column,
        )
    return number


def load_labels(suite: Suite, root: yaml.Node | None) -> list[LabelSet]:
    """Read and check a suite's ``labels:``.

    Args:
        suite: The loaded suite (spec, cases, variants).
        root: The eval file's YAML node tree, for the lines of errors.

    Returns:
        One label set per entry.

    Raises:
        EvalFileError: naming the file, line and field of the first problem.
    """
    spec, path = suite.spec, suite.path
    single = isinstance(root, yaml.MappingNode) and isinstance(
        _child(root, "labels"), yaml.MappingNode
    )

    def line_of(i: int, *loc: Any) -> int | None:
        return node_line(root, ("labels", *(() if single else (i,)), *loc))

    scored: dict[str, set[str]] = {}
    for case in suite.cases:
        for m in suite.metrics_for(case):
            scored.setdefault(m.name, set()).add(case.id)
    variants = {v.name for v in suite.variants}
    out: list[LabelSet] = []
    seen: dict[tuple[str, str | None], int | None] = {}
    for i, entry in enumerate(spec.labels):
        here = line_of(i)
        if entry.metric not in scored:
            known = ", ".join(sorted(scored)) or "none"
            raise EvalFileError(
                f"labels for metric {entry.metric!r}, which this suite does not score "
                f"(its metrics: {known})",
                path=str(path),
                line=line_of(i, "metric"),
                field="labels.metric",
            )
        if variants and entry.variant is None:
            raise EvalFileError(
                "this suite has variants: say whose outputs were labelled with `variant:` "
                f"(one of {', '.join(sorted(variants))})",
                path=str(path),
                line=here,
                field="labels.variant",
            )
        if entry.variant is not None and entry.variant not in variants:
            raise EvalFileError(
                f"`variant:` {entry.variant!r} is not a variant of this suite "
                f"(variants: {', '.join(sorted(variants)) or 'none'})",
                path=str(path),
                line=line_of(i, "variant"),
                field="labels.variant",
            )
        key = (entry.metric, entry.variant)
        if key in seen:
            raise EvalFileError(
                f"metric {entry.metric!r} is labelled twice (first at line {seen[key]})",
                path=str(path),
                line=here,
                field="labels.metric",
            )
        seen[key] = here
        rows: list[tuple[str, Any, int | None, Path]]
        if entry.values is not None:
            rows = [(str(k), v, line_of(i, "values", k), path) for k, v in entry.values.items()]
        else:
            assert entry.path is not None  # LabelSpec takes one of the two
            rows = _file_rows(path.parent / entry.path, entry, eval_file=path, line=here)
        values: dict[str, float] = {}
        first: dict[str, int | None] = {}
        column = "labels.values" if entry.values is not None else (entry.column or entry.metric)
        for case_id, raw, line, where in rows:
            if case_id in first:
                raise EvalFileError(
                    f"case {case_id!r} is labelled twice for {entry.metric!r} "
                    f"(first at line {first[case_id]})",
                    path=str(where),
                    line=line,
                    case_id=case_id,
                    field=column,
                )
            first[case_id] = line
            if case_id not in suite.lines:
                raise EvalFileError(
                    "a label for a case this suite does not have",
                    path=str(where),
                    line=line,
                    case_id=case_id,
                    field=column,
                )
            if case_id not in scored[entry.metric]:
                raise EvalFileError(
                    f"a label for {entry.metric!r}, which this case does not score",
                    path=str(where),
                    line=line,
                    case_id=case_id,
                    field=column,
                )
            values[case_id] = _check_value(
                raw, entry, where=where, line=line, case_id=case_id, column=column
            )
        out.append(LabelSet(entry.metric, values, entry.variant, f"{path}:{here or 0}"))
    _check_ppi_gates(suite, out, root)
    return out


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v  # type: ignore[no-any-return]
    return None


def _check_ppi_gates(suite: Suite, labels: Sequence[LabelSet], root: yaml.Node | None) -> None:
    """A ``stat: ppi_mean`` gate needs labels of its metric: never a gate that cannot hold."""
    labelled = {ls.metric for ls in labels}
    for g, gate in enumerate(suite.spec.gates):
        if gate.stat == "ppi_mean" and gate.metric not in labelled:
            raise EvalFileError(
                f"gate `stat: ppi_mean` on {gate.metric!r} needs human labels of that metric "
                f"(`labels: {{metric: {gate.metric}, path: ...}}`)",
                path=str(suite.path),
                line=node_line(root, ("gates", g)),
                field="gates.stat",
            )
