"""The training core of fine-tuning jobs: datasets, TRL trainers, PEFT, saving.

This module is deliberately standalone: it imports nothing from pytest-mleval and works on the
plain JSON form of a job config (``JobConfig.model_dump(mode="json")``). ``mleval finetune
--export-script`` writes this very source into the exported script, so the script and the job
train the same way by construction. Heavy libraries are imported inside functions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PEFT_METHODS = ("lora", "qlora", "prefix")
FORMATS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def dataset_format(path: str, declared: str = "auto") -> str:
    """The format of a dataset path: the declared one, else by suffix (a directory is ``hf``)."""
    if declared != "auto":
        return declared
    p = Path(path)
    if p.is_dir():
        return "hf"
    return FORMATS.get(p.suffix.lower(), "jsonl")


def load_table(path: str, fmt: str = "auto", split: str = "train") -> Any:
    """Load one dataset file (jsonl, json, csv, parquet) or a saved HF dataset as a ``Dataset``."""
    import datasets

    kind = dataset_format(path, fmt)
    if kind == "hf":
        loaded = datasets.load_from_disk(path)
        if isinstance(loaded, datasets.DatasetDict):
            return loaded[split]
        return loaded
    builder = {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet"}[kind]
    return datasets.load_dataset(builder, data_files=path, split="train")


def has_chat_template(tokenizer: Any) -> bool:
    """Whether the tokenizer carries a chat template (examples are then conversational)."""
    return bool(getattr(tokenizer, "chat_template", None))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def to_examples(ds: Any, cfg: dict[str, Any], tokenizer: Any) -> Any:
    """Map user columns to TRL's prompt/completion (SFT) or prompt/chosen/rejected (DPO) form.

    With a chat template, examples are conversational (system + user, then assistant), so TRL
    applies the template; without one, the prompt is the (system and) input text on its own line.
    """
    cols = cfg["dataset"]["columns"]
    system_col = cols.get("system")
    fixed_system = cfg["dataset"].get("system_prompt")
    chat = has_chat_template(tokenizer)
    dpo = cfg["method"] == "dpo"
    prompt_col = cols["prompt"] if dpo else cols["input"]

    def system_of(row: dict[str, Any]) -> str | None:
        if system_col and row.get(system_col):
            return _text(row[system_col])
        return fixed_system or None

    def prompt_of(row: dict[str, Any]) -> Any:
        system, user = system_of(row), _text(row[prompt_col])
        if chat:
            msgs = [{"role": "system", "content": system}] if system else []
            return [*msgs, {"role": "user", "content": user}]
        return (f"{system}\n\n" if system else "") + user + "\n"

    def answer(text: Any) -> Any:
        return [{"role": "assistant", "content": _text(text)}] if chat else _text(text)

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        if dpo:
            return {
                "prompt": prompt_of(row),
                "chosen": answer(row[cols["chosen"]]),
                "rejected": answer(row[cols["rejected"]]),
            }
        return {"prompt": prompt_of(row), "completion": answer(row[cols["output"]])}

    return ds.map(convert, remove_columns=list(ds.column_names))


def build_datasets(cfg: dict[str, Any], tokenizer: Any) -> tuple[Any, Any]:
    """The train and (optional) validation datasets in TRL form."""
    spec = cfg["dataset"]
    train = load_table(spec["train"], spec.get("format", "auto"), spec.get("split", "train"))
    valid = None
    if spec.get("validation"):
        valid = load_table(spec["validation"], spec.get("format", "auto"), "validation")
    elif cfg.get("validation_split", 0.0) > 0:
        parts = train.train_test_split(
            test_size=cfg["validation_split"], seed=cfg["hyperparameters"]["seed"]
        )
        train, valid = parts["train"], parts["test"]
    train = to_examples(train, cfg, tokenizer)
    if valid is not None:
        valid = to_examples(valid, cfg, tokenizer)
    return train, valid


def build_peft_config(cfg: dict[str, Any]) -> Any:
    """The PEFT config of the job's method (``None`` for full fine-tuning and DPO)."""
    method = cfg["method"]
    if method in ("lora", "qlora"):
        from peft import LoraConfig

        lora = cfg["lora"]
        return LoraConfig(
            r=lora["r"],
            lora_alpha=lora["alpha"],
            lora_dropout=lora["dropout"],
            target_modules=lora["target_modules"],
            modules_to_save=lora["modules_to_save"],
            task_type="CAUSAL_LM",
        )
    if method == "prefix":
        from peft import PrefixTuningConfig

        return PrefixTuningConfig(
            num_virtual_tokens=cfg["prefix"]["num_virtual_tokens"], task_type="CAUSAL_LM"
        )
    return None


def use_cpu(cfg: dict[str, Any]) -> bool:
    """Train on the CPU unless the job asks for a device and CUDA is there."""
    import torch

    device = cfg["hyperparameters"].get("device", "auto")
    return device == "cpu" or not torch.cuda.is_available()


def load_model(cfg: dict[str, Any]) -> Any:
    """The base model, 4-bit quantised for QLoRA."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {}
    if cfg["method"] == "qlora":
        import torch
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
    model = AutoModelForCausalLM.from_pretrained(cfg["base_model"], **kwargs)
    if cfg["method"] == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)  # type: ignore[no-untyped-call]
    return model


def load_tokenizer(path: str) -> Any:
    """The tokenizer, with a pad token (the EOS token when the model defines none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def training_args(
    cfg: dict[str, Any], has_eval: bool, overrides: dict[str, Any] | None = None
) -> Any:
    """``SFTConfig`` or ``DPOConfig`` for the job: checkpoints under ``OUTPUT_DIR/checkpoints``."""
    hp = cfg["hyperparameters"]
    early = cfg.get("early_stopping_patience") is not None and has_eval
    kwargs: dict[str, Any] = {
        "output_dir": str(Path(cfg["output_dir"]) / "checkpoints"),
        "num_train_epochs": hp["epochs"],
        "max_steps": hp["max_steps"],
        "per_device_train_batch_size": hp["batch_size"],
        "per_device_eval_batch_size": hp["batch_size"],
        "gradient_accumulation_steps": hp["gradient_accumulation_steps"],
        "learning_rate": hp["learning_rate"],
        "weight_decay": hp["weight_decay"],
        "warmup_steps": hp["warmup_ratio"] if hp["warmup_ratio"] > 0 else hp["warmup_steps"],
        "lr_scheduler_type": hp["lr_scheduler"],
        "max_length": hp["max_seq_length"],
        "seed": hp["seed"],
        "fp16": hp["fp16"],
        "bf16": hp["bf16"],
        "gradient_checkpointing": hp["gradient_checkpointing"],
        "logging_steps": hp["logging_steps"],
        "logging_first_step": True,
        "save_total_limit": hp["save_total_limit"],
        "load_best_model_at_end": early,
        "metric_for_best_model": "eval_loss" if early else None,
        "greater_is_better": False if early else None,
        "include_num_input_tokens_seen": "non_padding",
        "use_cpu": use_cpu(cfg),
        "report_to": "none",
        "dataloader_num_workers": 0,
    }
    # Evaluation and checkpoints go together: early stopping keeps the best checkpoint.
    if hp.get("save_steps"):
        kwargs.update(save_strategy="steps", save_steps=hp["save_steps"])
        kwargs.update(eval_strategy="steps" if has_eval else "no", eval_steps=hp["save_steps"])
    else:
        kwargs.update(save_strategy="epoch", eval_strategy="epoch" if has_eval else "no")
    if cfg["method"] == "dpo":
        from trl import DPOConfig  # type: ignore[attr-defined]

        kwargs["beta"] = hp["beta"]
        kwargs.update(overrides or {})
        return DPOConfig(**kwargs)
    from trl import SFTConfig  # type: ignore[attr-defined]

    # Loss on the answer only: the prompt is context, not something to learn to produce.
    kwargs["completion_only_loss"] = True
    kwargs.update(overrides or {})
    return SFTConfig(**kwargs)


def build_trainer(
    cfg: dict[str, Any],
    callbacks: Sequence[Any] = (),
    overrides: dict[str, Any] | None = None,
) -> Any:
    """The TRL trainer of the job (``SFTTrainer``, or ``DPOTrainer`` for preference data)."""
    tokenizer = load_tokenizer(cfg["base_model"])
    train, valid = build_datasets(cfg, tokenizer)
    args = training_args(cfg, valid is not None, overrides)
    cbs = list(callbacks)
    if valid is not None and cfg.get("early_stopping_patience") is not None:
        from transformers import EarlyStoppingCallback

        cbs.append(EarlyStoppingCallback(early_stopping_patience=cfg["early_stopping_patience"]))
    model = load_model(cfg)
    trainer: Any
    if cfg["method"] == "dpo":
        from trl import DPOTrainer  # type: ignore[attr-defined]

        trainer = DPOTrainer(
            model=model,
            args=args,
            train_dataset=train,
            eval_dataset=valid,
            processing_class=tokenizer,
            callbacks=cbs,
        )
    else:
        from trl import SFTTrainer  # type: ignore[attr-defined]

        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train,
            eval_dataset=valid,
            processing_class=tokenizer,
            peft_config=build_peft_config(cfg),
            callbacks=cbs,
        )
    if args.disable_tqdm:
        from transformers import PrinterCallback

        # Without a progress bar the trainer prints every log dict; the caller asked for quiet.
        trainer.remove_callback(PrinterCallback)
    return trainer


def save_trained(trainer: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """Save the trained model and tokenizer where a local model target loads them.

    ``OUTPUT_DIR/model`` is a plain transformers model directory (full weights; LoRA merged into
    the base). PEFT methods also keep the adapter in ``OUTPUT_DIR/adapter``; prefix tuning cannot
    be merged, so its adapter directory is the model (``peft.AutoPeftModelForCausalLM`` loads it).
    """
    out = Path(cfg["output_dir"])
    tokenizer = trainer.processing_class
    paths: dict[str, Any] = {"adapter_dir": None, "merged": False, "model_dir": None}
    # Under `accelerate launch` every rank gets here; one writes.
    if not trainer.is_world_process_zero():
        return paths
    model = trainer.model
    if cfg["method"] in PEFT_METHODS:
        adapter = out / "adapter"
        model.save_pretrained(adapter)
        tokenizer.save_pretrained(adapter)
        paths["adapter_dir"] = str(adapter)
        if cfg["method"] == "prefix":
            paths["model_dir"] = str(adapter)
            return paths
        if cfg["method"] == "qlora":
            # A 4-bit base cannot hold merged weights: merge into a full-precision copy.
            from peft import PeftModel
            from transformers import AutoModelForCausalLM

            base = AutoModelForCausalLM.from_pretrained(cfg["base_model"])
            model = PeftModel.from_pretrained(base, str(adapter))
        # PEFT unties tied embeddings when modules_to_save retrained one side (parity-tested).
        model = model.merge_and_unload()
        paths["merged"] = True
    target = out / "model"
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    paths["model_dir"] = str(target)
    return paths


def last_checkpoint(cfg: dict[str, Any]) -> str | None:
    """The newest checkpoint directory of the job, if any."""
    ckpt_dir = Path(cfg["output_dir"]) / "checkpoints"
    if not ckpt_dir.is_dir():
        return None
    found = [
        p for p in ckpt_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()
    ]
    if not found:
        return None
    return str(max(found, key=lambda p: int(p.name.split("-")[-1])))


def run_training(
    cfg: dict[str, Any],
    callbacks: Sequence[Any] = (),
    resume_from: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the job and save its outputs.

    Args:
        cfg: The job config in its JSON form.
        callbacks: Extra ``TrainerCallback`` objects (the job manager's progress and cancel hooks).
        resume_from: A checkpoint directory to continue from.
        overrides: Extra training arguments (e.g. ``disable_tqdm``).

    Returns:
        ``model_dir``, ``adapter_dir``, ``merged``, ``best_checkpoint``, ``stopped_early``,
        ``global_step`` and the trainer's final ``metrics``; ``model_dir`` is ``None`` when a
        callback stopped training before its end (a cancelled job saves no model).
    """
    trainer = build_trainer(cfg, callbacks, overrides)
    result = trainer.train(resume_from_checkpoint=resume_from)
    state = trainer.state
    info: dict[str, Any] = {
        "metrics": dict(result.metrics),
        "global_step": state.global_step,
        "best_checkpoint": state.best_model_checkpoint,
        "stopped_early": False,
    }
    # A callback with a true ``cancelled`` attribute stopped the run: keep checkpoints, no model.
    if any(getattr(cb, "cancelled", False) for cb in callbacks):
        info.update(model_dir=None, adapter_dir=None, merged=False, cancelled=True)
        return info
    max_steps = state.max_steps
    info["stopped_early"] = bool(max_steps and state.global_step < max_steps)
    info.update(save_trained(trainer, cfg))
    return info


def main(cfg: dict[str, Any]) -> int:
    """Run the job in ``cfg`` on its own (the exported script's entry point)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = run_training(cfg, resume_from=last_checkpoint(cfg) if cfg.get("resume") else None)
    print(json.dumps({k: v for k, v in info.items() if k != "metrics"}, indent=2))
    print(json.dumps(info["metrics"], indent=2))
    return 0
