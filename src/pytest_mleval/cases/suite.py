"""Eval-file schema and loading: YAML suites and JSONL/CSV/JSON/YAML datasets (no pytest here).

Errors name the file, the line, the case id and the field, so a broken file is one readable
collection error rather than a traceback.

Text is read as written: an unquoted ``yes``, ``on``, ``0123`` or ``1:30`` in a text field (input,
expected, context, vars, ids, tags, a metric's text options) is that text, not YAML 1.1's
boolean or number; other fields follow YAML 1.2. Metric options are checked at load time by each
metric's options model (see :mod:`pytest_mleval.metrics.registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ..errors import EvalFileError, MetricError
from ..metrics.base import CORPUS_METRICS, SourceScalar, typed_reading
from ..metrics.registry import (
    MetricOptionError,
    metric_can_fail,
    metric_is_bounded,
    metric_names,
    needs_options,
    validate_options,
)
from ._yaml import SUITE_SHAPE, located_error, node_line, read_yaml, validate_case
from .bounds import metric_bounds_problem
from .schema import PASS_RATE, Case, DatasetSpec, GateSpec, MetricSpec, SuiteSpec

if TYPE_CHECKING:
    from .labels import LabelSet
    from .variants import Variant

__all__ = ["Suite", "line_of", "load_suite"]


@dataclass
class Suite:
    """A loaded suite: its spec, its validated cases, and where they came from."""

    name: str
    spec: SuiteSpec
    path: Path
    cases: list[Case]
    lines: dict[str, int] = field(default_factory=dict)
    """Case id -> line where the case starts (1-based) in the file it came from."""
    variants: list[Variant] = field(default_factory=list)
    """The variants the file declares (``variants:`` / ``matrix:``); see :meth:`expand`."""
    variant: str | None = None
    """The variant this suite runs, for a suite expanded from one (``SUITE[VARIANT]``)."""
    variant_of: str | None = None
    """The suite this one is a variant of."""
    labels: list[LabelSet] = field(default_factory=list)
    """Human scores per metric (``labels:``; see :mod:`.labels`), each for the suite or one
    of its variants."""
    case_errors: dict[str, str] = field(default_factory=dict)
    """Case id -> why it cannot run (a broken ``probes:`` entry's stand-in): the case errors
    with that message while the others run."""

    def expand(self, only: Collection[str] | None = None) -> list[Suite]:
        """The suites that run: one per variant (those in ``only``, when given), else this."""
        from .variants import expand_variants

        return expand_variants(self, self.variants, only=only)

    def metrics_for(self, case: Case) -> list[MetricSpec]:
        """The suite's default metrics with the case's own added or overriding by name."""
        return _merged_metrics(self.spec, case)


def _merged_metrics(spec: SuiteSpec, case: Case) -> list[MetricSpec]:
    merged: dict[str, MetricSpec] = {m.name: m for m in spec.metrics}
    for m in case.metrics:
        merged[m.name] = m
    return list(merged.values())


def line_of(path: str | Path, loc: Sequence[Any]) -> int | None:
    """The line (1-based) of a node of an eval file, by its keys and indexes (``("gates", 0)``),
    read again from the file: for errors found after loading."""
    try:
        _, root = read_yaml(Path(path), SUITE_SHAPE)
    except EvalFileError:
        return None
    return node_line(root, loc)


def load_suite(path: str | Path, *, known_metric: Any = None) -> Suite:
    """Load and validate an eval file with its datasets.

    Args:
        path: The eval file.
        known_metric: Optional callable ``name -> str | None`` returning an error message for an
            unknown metric name (the metric registry passes its own check).

    Returns:
        The suite with every case validated.

    Raises:
        EvalFileError: naming the file, line, case id and field of the first problem.
    """
    path = Path(path)
    data, root = read_yaml(path, SUITE_SHAPE)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EvalFileError(
            "the top level must be a mapping (suite:, cases:, ...)", path=str(path), line=1
        )
    try:
        spec = SuiteSpec.model_validate(data)
    except ValidationError as exc:
        raise EvalFileError(
            **located_error(exc, data, lambda loc: node_line(root, loc)), path=str(path)
        ) from None
    name = spec.suite or _suite_stem(path)
    checked = _checked_metrics(
        spec.metrics,
        known_metric,
        path=path,
        line_of=lambda loc: node_line(root, ("metrics", *loc)),
    )
    if checked is not spec.metrics:
        spec = spec.model_copy(update={"metrics": checked})

    cases: list[Case] = []
    lines: dict[str, int] = {}
    files: dict[str, Path] = {}  # the file each case id came from (eval file or a dataset)
    for index, raw in enumerate(spec.cases):

        def line_of(loc: Sequence[Any], index: int = index) -> int | None:
            return node_line(root, ("cases", index, *loc))

        def metric_line(loc: Sequence[Any], index: int = index) -> int | None:
            # `()` is the case itself; `(j, ...)` the j-th metric entry and its options.
            return node_line(root, ("cases", index, *(("metrics", *loc) if loc else ())))

        case = validate_case(raw, default_id=f"case-{index + 1}", path=path, line_of=line_of)
        case = _check_case_metrics(case, known_metric, path=path, line_of=metric_line)
        _add_case(cases, lines, files, case, path=path, line=line_of(()))

    case_errors: dict[str, str] = {}
    if spec.probes:
        from .probes import probe_cases

        generated, case_errors = probe_cases(
            spec, path=path, line_of=lambda loc: node_line(root, ("probes", *loc))
        )
        for case, line in generated:
            if case.id not in case_errors:
                case = _check_case_metrics(
                    case, known_metric, path=path, line_of=_constant_line(line)
                )
            _add_case(cases, lines, files, case, path=path, line=line)

    datasets = spec.dataset if isinstance(spec.dataset, list) else [spec.dataset]
    for ds in datasets:
        if ds is None:
            continue
        ds_spec = DatasetSpec(path=ds) if isinstance(ds, str) else ds
        from .datasets import load_dataset

        for case, ds_path, line in load_dataset(
            path.parent / ds_spec.path, ds_spec, eval_file=path
        ):
            case = _check_case_metrics(
                case, known_metric, path=ds_path, line_of=_constant_line(line)
            )
            _add_case(cases, lines, files, case, path=ds_path, line=line)

    if spec.gates and not cases:
        # Its gates would check nothing: the suite would leave no result, and with it no gate,
        # so the run read green on an emptied dataset.
        raise EvalFileError(
            f"suite {name!r} has gates but no cases (its `cases:`, probes and datasets are "
            "empty): nothing could pass its gates",
            path=str(path),
            line=node_line(root, ("gates",)),
            field="gates",
        )
    if spec.pass_score is not None:
        _check_weighted_rule(spec, cases, lines, path=path, root=root)
    if known_metric is not None:
        _check_gate_metrics(spec, cases, known_metric, path=path, root=root)
    suite = Suite(
        name=name, spec=spec, path=path, cases=cases, lines=lines, case_errors=case_errors
    )
    if spec.variants or spec.matrix is not None or spec.reference is not None:
        from .variants import suite_variants

        suite.variants = suite_variants(suite, root)
    if spec.labels or any(g.stat == "ppi_mean" for g in spec.gates):
        from .labels import load_labels

        suite.labels = load_labels(suite, root)
    return suite


def _constant_line(line: int | None) -> Callable[[Sequence[Any]], int | None]:
    # A dataset row's errors all point at the row.
    return lambda loc: line


def _check_case_metrics(
    case: Case, known_metric: Any, *, path: Path, line_of: Callable[[Sequence[Any]], int | None]
) -> Case:
    if not case.metrics:
        return case
    checked = _checked_metrics(
        case.metrics, known_metric, path=path, line_of=line_of, case_id=case.id
    )
    return case if checked is case.metrics else case.model_copy(update={"metrics": checked})


def _reserved_label_problem(m: MetricSpec) -> str | None:
    """Why a ``name:`` label cannot be used, or None.

    Gates and tables look aggregates up by name: a label ``pass_rate`` replaced the suite's
    pass rate in its gate, and a label naming another built-in metric (``latency_ms``) took
    that metric's unit, direction and floor.
    """
    if m.name == m.kind:
        return None
    if m.name == PASS_RATE:
        what = "the suite's pass rate"
    elif m.name in metric_names():
        what = f"the built-in metric {m.name!r}"
    else:
        return None
    return (
        f"metric {m.kind!r} has the label {m.name!r}, which names {what}: gates and tables "
        f"would read one for the other; choose another `name:`, e.g. `{m.kind}_{m.name}`"
    )


def _checked_metrics(
    metrics: list[MetricSpec],
    known_metric: Any,
    *,
    path: Path,
    line_of: Callable[[Sequence[Any]], int | None],
    case_id: str | None = None,
) -> list[MetricSpec]:
    """One metric list, checked at collection: names, options by each metric's model, labels.

    Returns the list with options validated (text or number as each option takes), or the
    very same list when nothing changed (the common case of option-less metrics).
    """
    out: list[MetricSpec] = []
    changed = False
    seen: dict[str, int] = {}
    for j, m in enumerate(metrics):
        if m.name in seen:
            first = seen[m.name]
            raise EvalFileError(
                f"metric {m.name!r} is listed twice (first at line {first}): give each entry a "
                f"distinct `name:` label, e.g. `- {m.kind}: {{name: {m.kind}-2, ...}}`",
                path=str(path),
                line=line_of((j,)),
                case_id=case_id,
                field="metrics",
            )
        seen[m.name] = line_of((j,)) or 0
        reserved = _reserved_label_problem(m)
        if reserved:
            raise EvalFileError(
                reserved, path=str(path), line=line_of((j,)), case_id=case_id, field="metrics"
            )
        if known_metric is not None:
            problem = known_metric(m.kind)
            if problem:
                # The entry at fault, as an unknown option points at its own line (the error
                # names the case; a dataset row's entries all sit on the row's line).
                raise EvalFileError(
                    problem, path=str(path), line=line_of((j,)), case_id=case_id, field="metrics"
                )
        elif m.kind.startswith("python:"):
            # Without the registry's check, user modules are not imported just to load a file.
            params = _resolve_sources(m.params)
            out.append(m if params is m.params else m.model_copy(update={"params": params}))
            changed = changed or params is not m.params
            continue
        try:
            check = bool(m.params) or needs_options(m.kind)
            params = validate_options(m.kind, m.params) if check else m.params
        except MetricOptionError as exc:
            option = exc.option or ""
            # The option's own line: `- contains: {valu: x}` or `- {name: contains, valu: x}`.
            line = max(
                (n for n in (line_of((j, m.kind, option)), line_of((j, option))) if n),
                default=line_of((j,)),
            )
            raise EvalFileError(
                exc.problem,
                path=str(path),
                line=line,
                case_id=case_id,
                field=f"metrics.{m.name}.{option}" if option else f"metrics.{m.name}",
            ) from None
        except MetricError:
            params = _resolve_sources(m.params)  # unknown here: the caller did not ask to check
        except Exception as exc:
            # A custom options model may raise anything; it is still this file's one error.
            raise EvalFileError(
                f"options of metric {m.kind!r} cannot be checked: {type(exc).__name__}: {exc}",
                path=str(path),
                line=line_of((j,)),
                case_id=case_id,
                field=f"metrics.{m.name}",
            ) from None
        if known_metric is not None:
            _check_bounds(m, path=path, line_of=line_of, index=j, case_id=case_id)
        if params != m.params or _has_sources(m.params):
            m = m.model_copy(update={"params": params})
            changed = True
        out.append(m)
    return out if changed else metrics


def _check_bounds(
    m: MetricSpec,
    *,
    path: Path,
    line_of: Callable[[Sequence[Any]], int | None],
    index: int,
    case_id: str | None,
) -> None:
    found = metric_bounds_problem(m)
    if found is None:
        return
    option, problem = found
    line = max(
        (n for n in (line_of((index, m.kind, option)), line_of((index, option))) if n),
        default=line_of((index,)),
    )
    raise EvalFileError(
        problem, path=str(path), line=line, case_id=case_id, field=f"metrics.{m.name}.{option}"
    )


def _resolve_sources(params: dict[str, Any]) -> dict[str, Any]:
    """Options of a metric without a model: every scalar by its typed (YAML 1.2) reading."""
    resolved: dict[str, Any] = typed_reading(params)
    return resolved if resolved != params or _has_sources(params) else params


def _has_sources(value: Any) -> bool:
    if isinstance(value, SourceScalar):
        return True
    if isinstance(value, dict):
        return any(_has_sources(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_sources(v) for v in value)
    return False


def _suite_stem(path: Path) -> str:
    name = path.name
    for suffix in (".eval.yaml", ".eval.yml", ".yaml", ".yml"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name.startswith("eval_"):
        name = name[len("eval_") :]
    return name


def _add_case(
    cases: list[Case],
    lines: dict[str, int],
    files: dict[str, Path],
    case: Case,
    *,
    path: Path,
    line: int | None,
) -> None:
    if case.id in lines:
        first, at = files[case.id], lines[case.id]
        # The first one may sit in another file (the eval file, or another dataset): a bare
        # "line 4" then pointed into the wrong one.
        where = str(first) if first != path else "this file"
        where += f", line {at}" if at else ""
        raise EvalFileError(
            f"duplicate case id (first defined in {where})",
            path=str(path),
            line=line,
            case_id=case.id,
            field="id",
        )
    cases.append(case)
    lines[case.id] = line or 0
    files[case.id] = path


def _check_gate_metrics(
    spec: SuiteSpec,
    cases: list[Case],
    known_metric: Any,
    *,
    path: Path,
    root: yaml.Node | None,
) -> None:
    metric_names = {m.name for m in spec.metrics} | {m.name for c in cases for m in c.metrics}
    _check_regression_metrics(spec, cases, metric_names, path=path, root=root)
    for gate_index, gate in enumerate(spec.gates):
        problem, where = None, "gates.metric"
        if gate.metric != PASS_RATE and gate.metric not in metric_names:
            problem = known_metric(gate.metric)
        problem = problem or _vacuous_gate(gate, spec, cases)
        if not problem and gate.stat == "corpus":
            problem, where = _corpus_problem(gate, spec, cases), "gates.stat"
        if not problem:
            problem, where = _bounds_problem(gate, spec, cases)
        if problem:
            raise EvalFileError(
                problem,
                path=str(path),
                line=node_line(root, ("gates", gate_index)),
                field=where,
            )


def _check_regression_metrics(
    spec: SuiteSpec,
    cases: list[Case],
    metric_names: set[str],
    *,
    path: Path,
    root: yaml.Node | None,
) -> None:
    """Each ``regression_metrics`` entry must name a score of the suite: a misspelt one gated
    nothing, so the comparison of the others read PASS while the meant metric regressed."""
    if not spec.regression_metrics or not cases:
        return
    scored = metric_names | {PASS_RATE}
    if _scores_tool_errors(spec, cases):
        scored.add("tool_error")
    for index, name in enumerate(spec.regression_metrics):
        if name in scored:
            continue
        import difflib

        close = difflib.get_close_matches(name, sorted(scored), n=1)
        raise EvalFileError(
            f"regression_metrics: {name!r} is not a metric of suite "
            f"{spec.suite or _suite_stem(path)}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; its metrics: {', '.join(sorted(scored))}. Its regression could never be "
            "checked; a metric with a `name:` label is compared under the label",
            path=str(path),
            line=node_line(root, ("regression_metrics", index)),
            field="regression_metrics",
        )


def _corpus_problem(gate: GateSpec, spec: SuiteSpec, cases: list[Case]) -> str | None:
    """Why ``stat: corpus`` cannot be computed for the gated metric, else ``None``."""
    kinds = {m.kind for c in cases for m in _merged_metrics(spec, c) if m.name == gate.metric}
    if gate.metric != PASS_RATE and kinds and kinds <= CORPUS_METRICS:
        return None
    return (
        f"gate {gate.metric}: stat corpus is the corpus statistic of "
        f"{', '.join(sorted(CORPUS_METRICS))} (corpus BLEU, as sacrebleu.corpus_bleu); "
        f"{gate.metric!r} has none, gate its mean"
    )


def _bounds_problem(gate: GateSpec, spec: SuiteSpec, cases: list[Case]) -> tuple[str | None, str]:
    """Why the gate's ``min``/``max`` decide every value the same way (with the field), else
    ``(None, "")``: a gate that every value meets is a green that checked nothing, one that
    none meets a red that says nothing about the outputs."""
    low, high = gate.min, gate.max
    if low is not None and high is not None and low > high:
        return f"gate {gate.metric}: min {low:g} is above max {high:g}, no value can pass", (
            "gates.min"
        )
    if not _gated_value_in_unit_range(gate, spec, cases):
        return None, ""
    name = f"gate {gate.metric}" + ("" if gate.stat == "mean" else f" (stat: {gate.stat})")
    if low is not None and low > 1:
        return f"{name}: no value in [0, 1] reaches min {low:g}, it can never pass", "gates.min"
    if high is not None and high < 0:
        return f"{name}: no value in [0, 1] is within max {high:g}, it can never pass", (
            "gates.max"
        )
    if (low is None or low <= 0) and (high is None or high >= 1):
        bounds = " and ".join(
            f"{key} {value:g}" for key, value in (("min", low), ("max", high)) if value is not None
        )
        return (
            f"{name} can never fail: every value in [0, 1] meets {bounds}; "
            "give a bound that some value misses (e.g. `min: 0.8`)",
            "gates.min" if low is not None else "gates.max",
        )
    return None, ""


def _gated_value_in_unit_range(gate: GateSpec, spec: SuiteSpec, cases: list[Case]) -> bool:
    """Whether the gated value (estimate or bound) lies in [0, 1] whatever the outputs: a pass
    rate, or a statistic of a metric known to score in [0, 1] (``ppi_mean`` is an estimate on
    the human scale that can leave it)."""
    if gate.metric == PASS_RATE or gate.stat == PASS_RATE:
        return True
    if gate.stat == "ppi_mean":
        return False
    kinds = {m.kind for c in cases for m in _merged_metrics(spec, c) if m.name == gate.metric}
    return bool(kinds) and all(metric_is_bounded(kind) for kind in kinds)


def _vacuous_gate(gate: GateSpec, spec: SuiteSpec, cases: list[Case]) -> str | None:
    """Why a pass-rate gate can never fail on the outputs, else ``None``.

    A case passes when every metric with a threshold passes: with none anywhere, each case
    passes whatever its output, and a ``pass_rate`` gate over them is a green that checked
    nothing. Only errors could fail it.
    """
    if gate.stat != PASS_RATE and gate.metric != PASS_RATE:
        return None
    if gate.min is None or not cases:
        return None
    per_case = [_merged_metrics(spec, c) for c in cases]
    if gate.metric != PASS_RATE:
        entries = [m for c in per_case for m in c if m.name == gate.metric]
        if not entries or any(_can_fail(m) for m in entries):
            return None
        return (
            f"gate {gate.metric} (stat: pass_rate) can never be met: metric {gate.metric!r} "
            "has no threshold, so it neither passes nor fails a case; give it `threshold:` "
            "or `max:`, or gate its mean"
        )
    if spec.pass_score is not None or _scores_tool_errors(spec, cases):
        return None
    if any(_can_fail(m) for c in per_case for m in c):
        return None
    listed = sorted({m.name for c in per_case for m in c})
    what = (
        f"its metrics ({', '.join(listed)}) have no threshold"
        if listed
        else "its cases list no metric"
    )
    return (
        f"gate pass_rate can never fail on the outputs: {what}, so every case passes "
        "whatever it returns; give a metric `threshold:` or `max:`, or set `pass_score:`"
    )


def _check_weighted_rule(
    spec: SuiteSpec, cases: list[Case], lines: dict[str, int], *, path: Path, root: yaml.Node | None
) -> None:
    """Under ``pass_score:`` every case needs a metric its weighted mean can average: one
    with a weight above 0 that is not a raw measure. Without one the mean is empty and the
    case fails whatever it returns (every weight 0, or only latency)."""
    known = set(metric_names())
    for case in cases:
        merged = _merged_metrics(spec, case)
        if not merged:
            continue
        if any(m.weight > 0 and (m.kind not in known or metric_is_bounded(m.kind)) for m in merged):
            continue
        raise EvalFileError(
            "pass_score averages the scores in [0, 1] with a weight above 0, and this case "
            f"has none ({', '.join(f'{m.name} weight {m.weight:g}' for m in merged)}): it "
            "would fail whatever it returns",
            path=str(path),
            line=lines.get(case.id) or node_line(root, ("pass_score",)),
            case_id=case.id,
            field="pass_score",
        )


def _can_fail(m: MetricSpec) -> bool:
    if m.threshold is not None or m.max is not None:
        return True
    if "threshold" in m.model_fields_set:  # `threshold: null` turns the default off
        return False
    return metric_can_fail(m.kind)


def _scores_tool_errors(spec: SuiteSpec, cases: list[Case]) -> bool:
    # A suite with tools scores `tool_error` on every case (see targets.render).
    if spec.allow_tool_errors:
        return False
    return bool(
        spec.tools
        or any(c.tools for c in cases)
        or any(v.tools for v in spec.variants)
        or (spec.matrix is not None and "tools" in spec.matrix)
    )
