"""After training: the ``eval_after`` suites on the base and the trained model, and the gate.

Each model's suites run in a fresh pytest process (:func:`run_suites`); the two runs are
compared, paired (:func:`evaluate_after`), and :func:`gate_verdict` says whether the trained
model beat the base. :func:`load_trained_model` loads what a job trained.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ..errors import FinetuneError
from ..results.records import RESULTS_FILE
from .config import JobConfig

if TYPE_CHECKING:
    from ..results.compare import Comparison

__all__ = ["EvalGate", "evaluate_after", "gate_verdict", "load_trained_model", "run_suites"]


class EvalGate(BaseModel):
    """The verdict of ``eval_after``: does the trained model beat the base model?"""

    model_config = ConfigDict(extra="ignore")

    passed: bool
    """True when the gating metric improved significantly and nothing regressed."""
    reason: str
    """Why the gate passed or failed, in one line."""
    metric: str
    """The metric that had to improve."""
    base_results: str
    """Results file of the base model's run."""
    trained_results: str
    """Results file of the trained model's run (its ``comparison`` holds the comparison)."""
    comparison: dict[str, Any]
    """The paired comparison (trained vs base), as :class:`compare.Comparison` data."""


def run_suites(
    suites: list[str], model_dir: str, report_dir: Path, pytest_args: list[str], seed: int
) -> Path:
    """Run eval suites against one model in a fresh pytest process; return its results file.

    The model is passed as ``--mleval-model hf:DIR`` (for ``model:`` targets) and in the
    environment variable ``MLEVAL_MODEL_DIR`` (for ``python:`` targets that load it themselves).

    Raises:
        FinetuneError: pytest did not run (usage or internal error) or wrote no results.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *suites,
        "-q",
        "-p",
        "no:cacheprovider",
        "--mleval-model",
        f"hf:{model_dir}",
        "--mleval-report-dir",
        str(report_dir),
        "--mleval-seed",
        str(seed),
        *pytest_args,
    ]
    env = {**os.environ, "MLEVAL_MODEL_DIR": model_dir, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    results = report_dir / RESULTS_FILE
    # 0: all passed, 1: some cases failed (expected for a base model); anything else is an error.
    if proc.returncode not in (0, 1) or not results.is_file():
        tail = (proc.stdout + proc.stderr)[-2000:]
        raise FinetuneError(
            f"eval suites failed to run against {model_dir} "
            f"(pytest exit {proc.returncode}):\n{tail}"
        )
    return results


def gate_verdict(comparison: Comparison, metric: str) -> tuple[bool, str]:
    """Whether a trained-vs-base comparison passes the gate, and why, in one line.

    It passes when ``metric`` improved significantly (Holm-adjusted) in every compared suite and
    no suite regressed beyond the margin; with no suite compared it fails.
    """
    passed, reasons = bool(comparison.suites), []
    if not comparison.suites:
        reasons.append("no suite was compared: " + "; ".join(comparison.warnings))
    for suite in comparison.suites:
        row = next((m for m in suite.metrics if m.metric == metric), None)
        if row is None:
            passed = False
            reasons.append(f"{suite.suite}: metric {metric!r} was not scored")
            continue
        change = f"{metric} {row.baseline:.3f} -> {row.candidate:.3f}"
        if suite.regressed:
            passed = False
            worst = [m.metric for m in suite.metrics if m.regression]
            reasons.append(f"{suite.suite}: regressed beyond the margin on {', '.join(worst)}")
        elif row.verdict != "improved":
            passed = False
            reasons.append(
                f"{suite.suite}: {change} is not a significant improvement (p={row.p_adjusted:.3g})"
            )
        else:
            reasons.append(f"{suite.suite}: {change} (p={row.p_adjusted:.3g})")
    return passed, "; ".join(reasons)


def evaluate_after(cfg: JobConfig, model_dir: str, out_dir: Path) -> EvalGate:
    """Run ``eval_after`` suites on the base and the trained model and compare them, paired.

    The verdict is :func:`gate_verdict`'s. The comparison is also stored in the trained run's
    results file.
    """
    from ..results.compare import compare_runs
    from ..results.records import load_results, write_results

    spec = cfg.eval_after
    if spec is None:
        raise FinetuneError("the job has no eval_after section")
    base_file = run_suites(
        spec.suites, cfg.base_model, out_dir / "base", spec.pytest_args, spec.seed
    )
    trained_file = run_suites(
        spec.suites, model_dir, out_dir / "trained", spec.pytest_args, spec.seed
    )
    base, trained = load_results(base_file), load_results(trained_file)
    comparison = compare_runs(base, trained, margin=spec.margin, alpha=spec.alpha, seed=spec.seed)
    data = comparison.model_dump(mode="json")
    trained.comparison = data
    write_results(trained_file, trained)
    passed, reason = gate_verdict(comparison, spec.metric)
    return EvalGate(
        passed=passed,
        reason=reason,
        metric=spec.metric,
        base_results=str(base_file),
        trained_results=str(trained_file),
        comparison=data,
    )


def load_trained_model(model_dir: str | Path) -> tuple[Any, Any]:
    """Load a job's trained model and tokenizer: a plain model dir, or a PEFT adapter dir.

    Returns:
        ``(model, tokenizer)`` in eval mode.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if (path / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(str(path))
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path))
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(path))
