"""Fine-tuning jobs: the job config, its checks before training, evals after it, export.

A job is described by a YAML file validated into :class:`JobConfig`. :func:`check_job` finds
every problem that would otherwise surface minutes into training (missing data, a misspelt
column, an unwritable output directory, a LoRA target the model does not have...). Training
itself lives in :mod:`finetune_train` (standalone, so ``--export-script`` can ship it) and the
job manager in :mod:`jobs`. Heavy libraries load inside functions only.
"""

from __future__ import annotations

import importlib.util
import os
import pprint
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError, FinetuneError

if TYPE_CHECKING:
    from ..results.compare import Comparison

__all__ = [
    "ColumnMap",
    "DatasetSpec",
    "EvalAfter",
    "EvalGate",
    "Hyperparameters",
    "JobConfig",
    "LoraSpec",
    "PrefixSpec",
    "check_job",
    "evaluate_after",
    "export_script",
    "gate_verdict",
    "load_job_config",
    "load_trained_model",
]

Method = Literal["full", "lora", "qlora", "prefix", "dpo"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ColumnMap(_Model):
    """Which dataset columns hold what."""

    input: str = "input"
    """The user's message (SFT)."""
    output: str = "output"
    """The answer to learn (SFT)."""
    system: str | None = None
    """An optional per-row system message."""
    prompt: str = "prompt"
    """The prompt (DPO)."""
    chosen: str = "chosen"
    """The preferred answer (DPO)."""
    rejected: str = "rejected"
    """The dispreferred answer (DPO)."""


class DatasetSpec(_Model):
    """Where the training data is and how to read it."""

    train: str
    """Training data: a .jsonl / .json / .csv / .parquet file or a saved HF dataset directory."""
    validation: str | None = None
    """Validation data in the same format (else ``validation_split`` of the training data)."""
    format: Literal["auto", "jsonl", "json", "csv", "parquet", "hf"] = "auto"
    """File format; ``auto`` goes by suffix (a directory is a saved HF dataset)."""
    split: str = "train"
    """Split to train on when ``train`` is a saved ``DatasetDict``."""
    columns: ColumnMap = Field(default_factory=ColumnMap)
    """Column mapping."""
    system_prompt: str | None = None
    """A system message for every example (a ``system`` column overrides it per row)."""


class Hyperparameters(_Model):
    """Training hyperparameters (each checked before training starts)."""

    epochs: float = Field(default=3.0, gt=0)
    """Passes over the training data."""
    max_steps: int = Field(default=-1, ge=-1)
    """Stop after this many optimizer steps (-1: run the epochs)."""
    batch_size: int = Field(default=8, ge=1)
    """Examples per device and step."""
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    """Steps whose gradients add up before one optimizer update."""
    learning_rate: float = Field(default=2e-5, gt=0, le=1)
    """Peak learning rate."""
    weight_decay: float = Field(default=0.0, ge=0, le=1)
    """AdamW weight decay."""
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    """Fraction of steps with a linear warmup (wins over ``warmup_steps`` when > 0)."""
    warmup_steps: int = Field(default=0, ge=0)
    """Warmup steps."""
    lr_scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "polynomial", "inverse_sqrt"
    ] = "linear"
    """Learning-rate schedule."""
    max_seq_length: int = Field(default=512, ge=8)
    """Longer sequences are truncated."""
    fp16: bool = False
    """fp16 mixed precision (needs a CUDA GPU)."""
    bf16: bool = False
    """bf16 mixed precision."""
    gradient_checkpointing: bool = False
    """Recompute activations to save memory (slower)."""
    seed: int = 42
    """Seed of initialisation, shuffling and the validation split."""
    logging_steps: int = Field(default=10, ge=1)
    """Optimizer steps between two metric records."""
    save_steps: int | None = Field(default=None, ge=1)
    """Save (and validate) every N steps; default: at the end of each epoch."""
    save_total_limit: int | None = Field(default=2, ge=1)
    """Checkpoints kept (the best one is always kept with early stopping)."""
    beta: float = Field(default=0.1, gt=0)
    """DPO temperature."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: ``auto`` takes CUDA when present."""

    @model_validator(mode="after")
    def _one_precision(self) -> Hyperparameters:
        if self.fp16 and self.bf16:
            raise ValueError("fp16 and bf16 are exclusive: choose one")
        return self


class LoraSpec(_Model):
    """LoRA settings (``lora`` and ``qlora``)."""

    r: int = Field(default=8, ge=1)
    """Rank of the update matrices."""
    alpha: float = Field(default=16, gt=0)
    """Scaling numerator (the update is scaled by alpha / r)."""
    dropout: float = Field(default=0.05, ge=0, lt=1)
    """Dropout on the LoRA input."""
    target_modules: list[str] | str | None = None
    """Module names to adapt (``all-linear`` for every linear layer; default: PEFT's per model)."""
    modules_to_save: list[str] | None = None
    """Modules trained in full beside the adapter (e.g. the embeddings of a fresh model)."""


class PrefixSpec(_Model):
    """Prefix-tuning settings."""

    num_virtual_tokens: int = Field(default=8, ge=1)
    """Trainable virtual tokens prepended to every layer."""


class EvalAfter(_Model):
    """Eval suites run against the base and the trained model after training."""

    suites: list[str] = Field(min_length=1)
    """Eval files or directories (paths relative to the job file)."""
    metric: str = "pass_rate"
    """The metric that must improve significantly for the gate to pass."""
    margin: float = Field(default=0.0, ge=0)
    """Non-inferiority margin: smaller drops on other metrics never fail the gate."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """Significance level."""
    seed: int = 0
    """Seed of the paired permutation tests."""
    pytest_args: list[str] = Field(default_factory=list)
    """Extra pytest arguments (e.g. ``-k smoke``)."""


class JobConfig(_Model):
    """A fine-tuning job (the YAML file of ``mleval finetune``)."""

    name: str | None = None
    """A label for ``mleval jobs list``."""
    base_model: str
    """A local model directory (a hub id only when already in the local cache)."""
    method: Method = "lora"
    """full, lora, qlora, prefix or dpo."""
    dataset: DatasetSpec
    """Training data."""
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    """Training hyperparameters."""
    lora: LoraSpec = Field(default_factory=LoraSpec)
    """LoRA settings."""
    prefix: PrefixSpec = Field(default_factory=PrefixSpec)
    """Prefix-tuning settings."""
    validation_split: float = Field(default=0.0, ge=0, le=0.5)
    """Fraction of the training data held out for validation (when no validation file)."""
    early_stopping_patience: int | None = Field(default=None, ge=1)
    """Stop after this many evaluations without a lower validation loss."""
    output_dir: str
    """Checkpoints, the adapter and the trained model go here."""
    eval_after: EvalAfter | None = None
    """Suites that judge the trained model against the base."""


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _resolve(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def load_job_config(
    source: str | Path | dict[str, Any], *, base_dir: Path | None = None
) -> JobConfig:
    """Read and validate a job config (a YAML file or a mapping).

    Relative paths (base model, data, output, suites) are resolved against the YAML file's
    directory (``base_dir`` or the working directory for a mapping); a base model that is not a
    path there is kept as is (a hub id).

    Raises:
        ConfigError: the file is missing or not YAML, or a field is invalid (named with its path).
    """
    if isinstance(source, dict):
        data: Any = source
        where = "job config"
        base = base_dir or Path.cwd()
    else:
        path = Path(source)
        where = str(path)
        base = base_dir or path.resolve().parent
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"job config not found: {path}") from None
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the job config: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the job config must be a mapping (base_model:, dataset:, ...)")
    try:
        cfg = JobConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"{where}: field {_field(tuple(err['loc']))!r}: {msg}") from None
    base_path = Path(cfg.base_model).expanduser()
    if base_path.is_absolute() or (base / base_path).exists() or not _HUB_ID.match(cfg.base_model):
        cfg.base_model = _resolve(cfg.base_model, base)
    cfg.dataset.train = _resolve(cfg.dataset.train, base)
    if cfg.dataset.validation:
        cfg.dataset.validation = _resolve(cfg.dataset.validation, base)
    cfg.output_dir = _resolve(cfg.output_dir, base)
    if cfg.eval_after:
        cfg.eval_after.suites = [_resolve(s, base) for s in cfg.eval_after.suites]
    return cfg


# --------------------------------------------------------------------------- checks


def _check_base_model(cfg: JobConfig) -> Any:
    """The model's config, or a ConfigError saying why the base model cannot be used."""
    from transformers import AutoConfig

    path = Path(cfg.base_model)
    if path.is_absolute():
        if not path.is_dir():
            raise ConfigError(f"base_model: directory not found: {path}")
        if not (path / "config.json").is_file():
            raise ConfigError(f"base_model: {path} has no config.json (not a transformers model)")
    try:
        return AutoConfig.from_pretrained(cfg.base_model, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"base_model: {cfg.base_model!r} is neither a model directory nor a hub id in the "
            f"local cache (nothing is downloaded): {exc}"
        ) from None


def _check_output_dir(path: str) -> None:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir: {out} exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".mleval-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(f"output_dir: {out} is not writable: {exc.strerror or exc}") from None


def _check_table(path: str, fmt: str, split: str, needed: list[str], what: str) -> int:
    from . import train as core

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"dataset.{what}: file not found: {p}")
    if p.is_file() and p.stat().st_size == 0:
        raise ConfigError(f"dataset.{what}: {p} is empty")
    try:
        table = core.load_table(path, fmt, split)
    except KeyError:
        raise ConfigError(f"dataset.{what}: {p} has no split {split!r}") from None
    except ValueError as exc:
        # datasets refuses a file with a header and no rows instead of returning an empty table.
        if "corresponds to no data" in str(exc):
            raise ConfigError(f"dataset.{what}: {p} has no rows") from None
        raise ConfigError(f"dataset.{what}: cannot read {p}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # the datasets library raises many kinds for unreadable files
        raise ConfigError(f"dataset.{what}: cannot read {p}: {type(exc).__name__}: {exc}") from None
    if len(table) == 0:
        raise ConfigError(f"dataset.{what}: {p} has no rows")
    available = list(table.column_names)
    for col in needed:
        if col not in available:
            raise ConfigError(
                f"dataset.{what}: column {col!r} not found in {p}; "
                f"available columns: {', '.join(available)} (map them under dataset.columns)"
            )
    return len(table)


def _module_names(model_config: Any) -> list[str]:
    """Qualified module names of the model, built on the meta device (no weights, no memory)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(model_config)  # type: ignore[no-untyped-call]
    return [name for name, _ in model.named_modules() if name]


def _check_modules(names: list[str], wanted: list[str], field: str) -> None:
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
    for w in wanted:
        if not any(n == w or n.endswith("." + w) for n in names):
            raise ConfigError(
                f"{field}: module {w!r} is not in the model; module names: {', '.join(leaves)}"
            )


def check_job(cfg: JobConfig) -> list[str]:
    """Check everything that can be checked before training; return warnings.

    A ``max_seq_length`` beyond the model's positions is lowered to them (with a warning).

    Raises:
        ConfigError: the first problem found (missing or empty data, a missing column with the
            available ones listed, a missing base model, an unwritable output directory, QLoRA
            without CUDA and bitsandbytes, fp16 without a GPU, unknown LoRA modules, ...).
    """
    import torch

    warnings: list[str] = []
    hp = cfg.hyperparameters
    cuda = torch.cuda.is_available()
    if cfg.method == "qlora":
        if not cuda:
            raise ConfigError("method qlora needs a CUDA GPU (4-bit quantisation); none is visible")
        if importlib.util.find_spec("bitsandbytes") is None:
            raise ConfigError(
                "method qlora needs the bitsandbytes package: pip install bitsandbytes"
            )
    if hp.device == "cuda" and not cuda:
        raise ConfigError("hyperparameters.device: cuda requested but no CUDA GPU is visible")
    on_gpu = cuda and hp.device != "cpu"
    if hp.fp16 and not on_gpu:
        raise ConfigError(
            "hyperparameters.fp16 needs a CUDA GPU; on the CPU use bf16: true or fp32 (the default)"
        )
    model_config = _check_base_model(cfg)
    max_pos = getattr(model_config, "max_position_embeddings", None) or getattr(
        model_config, "n_positions", None
    )
    if max_pos and hp.max_seq_length > max_pos:
        warnings.append(
            f"max_seq_length {hp.max_seq_length} exceeds the model's {max_pos} positions; "
            f"sequences are truncated to {max_pos}"
        )
        hp.max_seq_length = int(max_pos)
    try:
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(cfg.base_model, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"base_model: no usable tokenizer in {cfg.base_model}: {exc}") from None

    cols = cfg.dataset.columns
    needed = (
        [cols.prompt, cols.chosen, cols.rejected]
        if cfg.method == "dpo"
        else [cols.input, cols.output]
    )
    if cols.system:
        needed.append(cols.system)
    ds = cfg.dataset
    n_train = _check_table(ds.train, ds.format, ds.split, needed, "train")
    if ds.validation:
        if cfg.validation_split > 0:
            raise ConfigError("give either dataset.validation or validation_split, not both")
        _check_table(ds.validation, ds.format, "validation", needed, "validation")
    elif cfg.validation_split > 0:
        held_out = int(n_train * cfg.validation_split + 0.999999)
        if held_out < 1 or n_train - held_out < 1:
            raise ConfigError(
                f"validation_split {cfg.validation_split} of {n_train} rows leaves an empty "
                "training or validation set"
            )
    if cfg.early_stopping_patience is not None and not (ds.validation or cfg.validation_split > 0):
        raise ConfigError(
            "early_stopping_patience needs validation data: set dataset.validation or "
            "validation_split"
        )

    if cfg.method in ("lora", "qlora"):
        names = _module_names(model_config)
        targets = cfg.lora.target_modules
        if isinstance(targets, str) and targets != "all-linear":
            targets = [targets]
        if isinstance(targets, list):
            _check_modules(names, targets, "lora.target_modules")
        _check_modules(names, cfg.lora.modules_to_save or [], "lora.modules_to_save")
    if cfg.eval_after:
        for suite in cfg.eval_after.suites:
            if not Path(suite).exists():
                raise ConfigError(f"eval_after.suites: not found: {suite}")
    _check_output_dir(cfg.output_dir)
    return warnings


# --------------------------------------------------------------------------- after training


class EvalGate(BaseModel):
    """The verdict of ``eval_after``: does the trained model beat the base model?"""

    model_config = ConfigDict(extra="ignore", use_attribute_docstrings=True)

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
    results = report_dir / "mleval-results.json"
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


# --------------------------------------------------------------------------- export

_SCRIPT_HEAD = """#!/usr/bin/env python
# Standalone TRL training script exported by `mleval finetune {config} --export-script`.
# It trains exactly as the job does (the code below is pytest-mleval's own training core)
# without pytest-mleval installed: pip install torch transformers trl peft datasets accelerate
#     python {script}                       # one process (CPU or one GPU)
#     accelerate launch {script}            # several GPUs; add --config_file for DeepSpeed/FSDP
# The job's settings are the JSON at the end; edit them there.
"""


def export_script(cfg: JobConfig, path: str | Path, *, config_name: str = "CONFIG.yaml") -> Path:
    """Write a standalone TRL script equivalent to the job.

    Args:
        cfg: The validated job config (paths already resolved).
        path: Where to write the script.
        config_name: The job file's name, mentioned in the script's header.

    Returns:
        The script path.
    """
    from . import train as core

    source = Path(core.__file__).read_text(encoding="utf-8")
    data = cfg.model_dump(mode="json")
    data.pop("eval_after", None)
    out = Path(path)
    head = _SCRIPT_HEAD.format(config=config_name, script=out.name)
    tail = (
        f"\n\nCONFIG: dict[str, Any] = {pprint.pformat(data, width=96, sort_dicts=False)}\n\n"
        'if __name__ == "__main__":\n'
        "    import sys\n\n"
        '    CONFIG["resume"] = "--resume" in sys.argv[1:]\n'
        "    raise SystemExit(main(CONFIG))\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(head + source + tail, encoding="utf-8")
    out.chmod(0o755)
    return out
