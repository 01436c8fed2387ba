"""The fine-tuning job config: the YAML file of ``mleval finetune``, read into :class:`JobConfig`.

:func:`load_job_config` reads it and resolves its relative paths against the file's directory;
:mod:`.checks` then finds what would otherwise fail minutes into training.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError
from ..results.records import PASS_RATE

__all__ = [
    "ColumnMap",
    "DatasetSpec",
    "EvalAfter",
    "Hyperparameters",
    "JobConfig",
    "LoraSpec",
    "Method",
    "PrefixSpec",
    "load_job_config",
]

Method = Literal["full", "lora", "qlora", "prefix", "dpo"]
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    metric: str = PASS_RATE
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
