"""Judge calibration: agreement between a judge's scores and human labels.

Before gating on a judge, a team labels a sample by hand and checks that the judge agrees:
Cohen's kappa (unweighted and quadratic-weighted, for ordinal scales), Spearman's rank
correlation, exact agreement and the confusion matrix. With a run's results and a target
interval width, :func:`label_advice` also says how many labels the judge metric's
prediction-powered (human-scale) interval needs to be that narrow.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = [
    "Calibration",
    "LabelAdvice",
    "calibrate",
    "cohen_kappa",
    "label_advice",
    "labels_from_file",
    "labels_from_suites",
    "load_pairs",
]


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], *, weights: str | None = None) -> float:
    """Cohen's kappa of two raters; ``weights`` None, "linear" or "quadratic" (ordinal labels).

    Returns 1.0 when both raters use one identical label throughout (perfect, if trivial).
    """
    if len(a) != len(b) or not a:
        raise ConfigError("kappa needs two equally long, non-empty lists of labels")
    labels = sorted(set(a) | set(b))
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    table = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    n = table.sum()
    observed = table / n
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    if weights is None:
        w = 1.0 - np.eye(k)
    else:
        # Ordinal distances between label positions (labels sorted, as numbers when they are).
        pos = (
            np.array([float(lab) for lab in labels])
            if _numeric(labels)
            else np.arange(k, dtype=float)
        )
        span = pos.max() - pos.min() or 1.0
        dist = np.abs(pos[:, None] - pos[None, :]) / span
        if weights == "linear":
            w = dist
        elif weights == "quadratic":
            w = dist**2
        else:
            raise ConfigError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    denom = float((w * expected).sum())
    if denom == 0.0:
        return 1.0
    return float(1.0 - (w * observed).sum() / denom)


def _numeric(labels: Sequence[Any]) -> bool:
    try:
        [float(x) for x in labels]
    except (TypeError, ValueError):
        return False
    return True


@dataclass
class Calibration:
    """Agreement figures of one judge against human labels."""

    n: int
    exact_agreement: float
    kappa: float
    weighted_kappa: float
    spearman: float | None
    labels: list[Any]
    confusion: list[list[int]] = field(default_factory=list)
    """Rows: human label; columns: judge label."""

    def render(self) -> str:
        """A terminal rendering with the confusion matrix."""
        lines = [
            f"n = {self.n}",
            f"exact agreement      {self.exact_agreement:.3f}",
            f"Cohen's kappa        {self.kappa:.3f}",
            f"quadratic kappa      {self.weighted_kappa:.3f}",
            f"Spearman rho         {'-' if self.spearman is None else f'{self.spearman:.3f}'}",
            "confusion (rows: human, columns: judge):",
            "        " + " ".join(f"{lab!s:>6}" for lab in self.labels),
        ]
        for lab, row in zip(self.labels, self.confusion, strict=True):
            lines.append(f"{lab!s:>6}  " + " ".join(f"{v:>6}" for v in row))
        return "\n".join(lines)


def calibrate(human: Sequence[Any], judge: Sequence[Any]) -> Calibration:
    """Agreement of judge scores with human labels (paired by position)."""
    if len(human) != len(judge) or not human:
        raise ConfigError("need the same number (> 0) of human and judge labels")
    labels = sorted(set(human) | set(judge))
    index = {lab: i for i, lab in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for h, j in zip(human, judge, strict=True):
        confusion[index[h]][index[j]] += 1
    spearman: float | None = None
    if _numeric(labels) and len(set(human)) > 1 and len(set(judge)) > 1:
        from scipy import stats as st

        spearman = float(
            st.spearmanr([float(x) for x in human], [float(x) for x in judge]).statistic
        )
    return Calibration(
        n=len(human),
        exact_agreement=sum(h == j for h, j in zip(human, judge, strict=True)) / len(human),
        kappa=cohen_kappa(human, judge),
        weighted_kappa=cohen_kappa(human, judge, weights="quadratic"),
        spearman=spearman,
        labels=labels,
        confusion=confusion,
    )


def _label(value: Any) -> Any:
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return value.strip()
        return int(f) if f.is_integer() else f
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def load_pairs(path: str | Path, *, human: str, judge: str) -> tuple[list[Any], list[Any]]:
    """Human and judge labels from the columns of a JSONL or CSV file.

    Raises:
        EvalFileError: the file cannot be read, or is not UTF-8 (naming the line).
    """
    from ..errors import EvalFileError

    p = Path(path)
    rows: list[dict[str, Any]]
    try:
        text = p.read_text(encoding="utf-8-sig")  # a spreadsheet's byte order mark, if any
    except UnicodeDecodeError as exc:
        raise EvalFileError.not_utf8(exc, str(p)) from None
    except OSError as exc:
        raise EvalFileError(f"cannot read labels: {exc.strerror}", path=str(p)) from None
    # Rows end at line ends only: str.splitlines also splits at U+2028, U+0085 and form
    # feeds inside a note column, which made two broken rows of one.
    if p.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    else:
        rows = [json.loads(line) for line in text.split("\n") if line.strip()]
    h, j = [], []
    for i, row in enumerate(rows, start=1):
        if human not in row or judge not in row:
            raise ConfigError(f"{p}: row {i} lacks {human!r} or {judge!r}; it has {sorted(row)}")
        h.append(_label(row[human]))
        j.append(_label(row[judge]))
    return h, j


def judge_labels_from_results(results: str | Path, metric: str = "judge") -> dict[str, Any]:
    """Case id -> the judge's raw score (on its own scale) from a results file."""
    from ..results.records import load_results

    out: dict[str, Any] = {}
    for c in load_results(results).cases:
        ms = c.scores.get(metric)
        if ms is None or ms.data is None or not ms.data.get("raw_scores"):
            continue
        raw = ms.data["raw_scores"]
        out[f"{c.suite}::{c.case_id}"] = _label(round(sum(raw) / len(raw)))
    return out


# --------------------------------------------------------------------------- labels to add


@dataclass
class LabelAdvice:
    """One suite's judge metric on the human scale, and the labels a target width needs."""

    suite: str
    metric: str
    judge_mean: float
    """The judge's raw mean over every judged case."""
    estimate: Any
    """The prediction-powered estimate (:class:`pytest_mleval.stats.PPIResult`)."""
    labels_only: Any
    """The labels-only interval (:class:`pytest_mleval.stats.Estimate`)."""
    plan: Any
    """The plan (:class:`pytest_mleval.stats.LabelPlan`)."""

    def render(self) -> str:
        """A terminal rendering."""
        e, alone, plan = self.estimate, self.labels_only, self.plan
        level = round(plan.confidence * 100)
        lines = [
            f"suite {self.suite}, metric {self.metric}: {e.n} labelled of {plan.judged} judged",
            f"  judge's mean          {self.judge_mean:.4f}",
            f"  on the human scale    {e.estimate:.4f}  {level}% CI [{e.ci_low:.4f}, "
            f"{e.ci_high:.4f}], width {e.ci_high - e.ci_low:.4f}  ({e.method})",
            f"  labels alone          {alone.estimate:.4f}  {level}% CI [{alone.ci_low:.4f}, "
            f"{alone.ci_high:.4f}], width {alone.ci_high - alone.ci_low:.4f}",
        ]
        target = f"  target width {plan.target_width:g}: "
        if plan.labels_needed is None:
            lines.append(
                target + f"not reachable by labelling these {plan.judged} cases (the narrowest "
                f"is {plan.best_width:.4f}): add cases"
            )
        elif plan.more == 0:
            lines.append(target + f"met with the {plan.labels} labels there are")
        else:
            lines.append(
                target + f"about {plan.labels_needed} labels in all, {plan.more} more "
                "(a random sample of the unlabelled cases)"
            )
        return "\n".join(lines)


def _score_scale(cases: Sequence[Any], metric: str) -> tuple[float, float] | None:
    """The judge's own scale (``[low, high]`` in its score data), if it has one."""
    for c in cases:
        ms = c.scores.get(metric)
        if ms is not None and ms.data and isinstance(ms.data.get("scale"), list):
            low, high = ms.data["scale"]
            return float(low), float(high)
    return None


def labels_from_file(
    path: str | Path,
    run: Any,
    *,
    metric: str,
    human: str = "human",
    id_column: str = "id",
    suite: str | None = None,
) -> dict[str, dict[str, float]]:
    """Human scores by suite and case from a labels file, on the metric's [0, 1].

    Ids are ``SUITE::CASE``, or plain case ids of ``suite`` (or of the run's one suite). A
    judge's labels on its own scale (``data.scale`` of its scores, e.g. 1-5) are mapped onto
    [0, 1] as the judge maps its scores.
    """
    humans, ids = load_pairs(path, human=human, judge=id_column)
    suites = sorted({c.suite for c in run.cases})
    default = suite if suite is not None else (suites[0] if len(suites) == 1 else None)
    scales = {s: _score_scale([c for c in run.cases if c.suite == s], metric) for s in suites}
    out: dict[str, dict[str, float]] = {}
    for h, raw_id in zip(humans, ids, strict=True):
        sid, sep, cid = str(raw_id).rpartition("::")
        if not sep:
            if default is None:
                raise ConfigError(
                    f"{path}: id {raw_id!r} names no suite; write SUITE::CASE or give --suite"
                )
            sid = default
        try:
            value = float(h)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: human score {h!r} of {raw_id!r} is not a number") from None
        scale = scales.get(sid)
        if scale is not None:
            value = (value - scale[0]) / (scale[1] - scale[0])
        if not 0.0 <= value <= 1.0:
            raise ConfigError(
                f"{path}: human score {h!r} of {raw_id!r} is off the metric's scale"
                + (f" [{scale[0]:g}, {scale[1]:g}]" if scale else " [0, 1]")
            )
        out.setdefault(sid, {})[cid] = value
    return out


def labels_from_suites(run: Any, *, metric: str) -> dict[str, dict[str, float]]:
    """Human scores by suite and case from the ``labels:`` of the run's eval files."""
    from ..cases.labels import suite_labels
    from ..cases.suite import load_suite

    out: dict[str, dict[str, float]] = {}
    for info in run.suites:
        if not info.file or not Path(info.file).is_file():
            continue
        for s in load_suite(info.file).expand():
            if s.name == info.name and metric in suite_labels(s):
                out[info.name] = dict(suite_labels(s)[metric].values)
    return out


def label_advice(
    run: Any,
    labels: dict[str, dict[str, float]],
    *,
    metric: str,
    target_width: float,
    confidence: float = 0.95,
) -> list[LabelAdvice]:
    """Per suite with labels: the human-scale estimate and the labels a target width needs.

    The estimate is the run's (``METRIC:human``: PPI++ over the labelled cases and the judged
    only ones); the plan is :func:`pytest_mleval.stats.ppi_labels_needed`, which labels more
    of the judged cases and, by the plug-in variances of the labels now, finds the fewest m
    with

        2 z √( (σ²_Y − 2 λ c + λ² σ²_Ŷ) / m  +  λ² σ²_u / (T − m) ) ≤ W,
        λ = clip(c / ((1 + m / (T − m)) σ²_all), 0, 1),

    for T judged cases (σ²_Y, c, σ²_Ŷ: variance of the human scores, their covariance with
    the judge's and the judge's variance on the labelled cases; σ²_u, σ²_all: the judge's
    variance on the unlabelled and on all cases).

    Args:
        run: The results (:class:`pytest_mleval.results.records.RunResults`).
        labels: Suite -> case id -> human score on the metric's [0, 1].
        metric: The judged metric.
        target_width: The interval width wanted.
        confidence: Confidence level.

    Returns:
        One advice per suite with at least 2 labelled cases the judge scored.
    """
    from .. import stats
    from ..results.aggregate import per_case

    out = []
    for suite, values in labels.items():
        judged = per_case([c for c in run.cases if c.suite == suite], metric).as_dict()
        pairs = [(values[k], v) for k, v in judged.items() if k in values]
        if len(pairs) < 2:
            continue
        y, f = [p[0] for p in pairs], [p[1] for p in pairs]
        rest = [v for k, v in judged.items() if k not in values]
        out.append(
            LabelAdvice(
                suite=suite,
                metric=metric,
                judge_mean=sum(judged.values()) / len(judged),
                estimate=stats.ppi_mean_ci(y, f, rest, confidence=confidence, bounds=(0, 1)),
                labels_only=stats.classical_mean_ci(y, confidence=confidence, bounds=(0, 1)),
                plan=stats.ppi_labels_needed(y, f, rest, target_width, confidence=confidence),
            )
        )
    return out
