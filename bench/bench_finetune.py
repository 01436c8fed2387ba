"""Fine-tuning throughput: a job through the manager vs a plain TRL script, same model and data.

Run: .venv/bin/python bench/bench_finetune.py [--runs N] [--epochs E] [--method full|lora]

Both sides fully fine-tune (or LoRA-tune) the embedded tiny GPT-2 on the 200 pairs of
fixtures/tiny_lm/qa.jsonl with the same hyperparameters, in one process, interleaved so machine
load hits both alike. Tokens are the non-padding input tokens the trainer saw. Two figures:
the training loop (tokens / trainer runtime) and end to end (tokens / wall time of the whole
call: the job's checks, store writes, model load, training and saving; the script's load,
training and saving). Goal: the manager at >= 0.95x the plain script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fixtures" / "tiny_lm"))

LORA = {"r": 16, "alpha": 32, "dropout": 0.0, "modules_to_save": ["wte", "ln_f"]}


def plain_trl(
    model_dir: Path, data: Path, out: Path, epochs: float, method: str
) -> dict[str, float]:
    """What a user would write with TRL directly (no pytest-mleval code)."""
    import datasets
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model_dir)
    ds = datasets.load_dataset("json", data_files=str(data), split="train")
    ds = ds.map(
        lambda r: {
            "prompt": [{"role": "user", "content": r["question"]}],
            "completion": [{"role": "assistant", "content": r["answer"]}],
        },
        remove_columns=ds.column_names,
    )
    args = SFTConfig(
        output_dir=str(out / "checkpoints"),
        num_train_epochs=epochs,
        per_device_train_batch_size=16,
        learning_rate=5e-3,
        max_length=64,
        seed=0,
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=10,
        save_strategy="no",
        completion_only_loss=True,
        include_num_input_tokens_seen="non_padding",
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
    )
    peft = None
    if method == "lora":
        peft = LoraConfig(
            r=LORA["r"],
            lora_alpha=LORA["alpha"],
            lora_dropout=LORA["dropout"],
            modules_to_save=LORA["modules_to_save"],
            task_type="CAUSAL_LM",
        )
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        args=args,
        train_dataset=ds,
        processing_class=tok,
        peft_config=peft,
    )
    trainer.remove_callback(PrinterCallback)  # quiet, as the job is
    result = trainer.train()
    model = trainer.model.merge_and_unload() if method == "lora" else trainer.model
    model.save_pretrained(out / "model")
    tok.save_pretrained(out / "model")
    wall = time.perf_counter() - start
    tokens = float(result.metrics["num_input_tokens_seen"])
    return {"tokens": tokens, "train_s": float(result.metrics["train_runtime"]), "wall_s": wall}


def manager(model_dir: Path, data: Path, out: Path, epochs: float, method: str) -> dict[str, float]:
    """The same training as a pytest-mleval job (checks, store, callbacks, saving)."""
    from pytest_mleval.finetune.jobs import JobStore, run_job

    start = time.perf_counter()
    cfg: dict[str, Any] = {
        "base_model": str(model_dir),
        "method": method,
        "dataset": {"train": str(data), "columns": {"input": "question", "output": "answer"}},
        "hyperparameters": {
            "epochs": epochs,
            "batch_size": 16,
            "learning_rate": 5e-3,
            "max_seq_length": 64,
            "seed": 0,
            "logging_steps": 10,
            # No checkpoint before the end, as the plain script saves none.
            "save_steps": 1_000_000,
        },
        "lora": LORA,
        "output_dir": str(out),
    }
    job = run_job(cfg, store=JobStore(out / "jobs.sqlite"))
    wall = time.perf_counter() - start
    assert job.status == "completed" and job.result is not None
    metrics = job.result["metrics"]
    tokens = float(metrics["num_input_tokens_seen"])
    return {"tokens": tokens, "train_s": float(metrics["train_runtime"]), "wall_s": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=10)
    parser.add_argument("--method", choices=["full", "lora"], default="full")
    args = parser.parse_args()

    import build_tiny_lm
    import torch
    import transformers
    import trl

    transformers.utils.logging.set_verbosity_error()
    tmp = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    model_dir = build_tiny_lm.build(tmp / "tiny")
    data = ROOT / "fixtures" / "tiny_lm" / "qa.jsonl"
    sides = {"manager": manager, "plain TRL": plain_trl}
    figures: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
    # Warm-up of both (imports, allocator), then interleaved measured runs.
    for name, fn in sides.items():
        fn(model_dir, data, tmp / f"warm-{name}".replace(" ", "-"), 1, args.method)
    for i in range(args.runs):
        order = list(sides) if i % 2 == 0 else list(reversed(sides))
        for name in order:
            out = tmp / f"{name}-{i}".replace(" ", "-")
            figures[name].append(sides[name](model_dir, data, out, args.epochs, args.method))

    def best(name: str, key: str) -> float:
        # Best of the interleaved runs: other work on a shared machine only ever slows a run.
        return max(r["tokens"] / r[key] for r in figures[name])

    def pair_ratio(key: str) -> float:
        pairs = zip(figures["manager"], figures["plain TRL"], strict=True)
        return statistics.median((p[key] / p["tokens"]) / (m[key] / m["tokens"]) for m, p in pairs)

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}, "
        f"threads {torch.get_num_threads()}, method {args.method}, epochs {args.epochs}, "
        f"runs {args.runs}"
    )
    tokens = figures["manager"][0]["tokens"]
    print(f"tokens per run: manager {tokens:.0f}, plain {figures['plain TRL'][0]['tokens']:.0f}")
    report = {}
    for key, label in (("train_s", "training loop"), ("wall_s", "end to end")):
        m, p = best("manager", key), best("plain TRL", key)
        report[label] = {
            "manager_tok_s": m,
            "plain_tok_s": p,
            "ratio_best": m / p,
            "ratio_median_of_pairs": pair_ratio(key),
        }
        print(
            f"{label:>14}: best manager {m:8.0f} tok/s   plain TRL {p:8.0f} tok/s   "
            f"ratio {m / p:.3f}   (median of paired ratios {pair_ratio(key):.3f})"
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
