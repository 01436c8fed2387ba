"""Checks of a fine-tuning job before training: everything that would otherwise surface minutes in.

Missing data, a misspelt column, an unwritable output directory, a LoRA target the model does not
have, QLoRA without CUDA... each is a :class:`~pytest_mleval.errors.ConfigError` naming the field.
torch and transformers load inside the functions.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .config import JobConfig

__all__ = ["check_job"]


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
