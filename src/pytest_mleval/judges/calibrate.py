"""Judge calibration: agreement between a judge's scores and human labels.

Before gating on a judge, a team labels a sample by hand and checks that the judge agrees:
Cohen's kappa (unweighted and quadratic-weighted, for ordinal scales), Spearman's rank
correlation, exact agreement and the confusion matrix.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

__all__ = ["Calibration", "calibrate", "cohen_kappa", "load_pairs"]


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
    """Human and judge labels from the columns of a JSONL or CSV file."""
    p = Path(path)
    rows: list[dict[str, Any]]
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
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
