"""Fine-tuning jobs that really train the embedded tiny model: methods, store, cancel, export, evals."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pytest_mleval.cli.finetune import add_finetune_commands
from pytest_mleval.errors import FinetuneError
from pytest_mleval.finetune import export_script, gate_verdict, load_job_config
from pytest_mleval.finetune.jobs import (
    JobRecord,
    JobStore,
    cancel_job,
    finetune_fixture_factory,
    resume_job,
    run_job,
)

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "tiny_lm"
N_QA = 20

# A python: target that loads whichever model the eval run is pointed at and answers greedily.
TARGET_MODULE = """
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _load() -> Any:
    from pytest_mleval.finetune import load_trained_model

    return load_trained_model(os.environ["MLEVAL_MODEL_DIR"])


def answer(case: Any) -> str:
    import torch

    model, tok = _load()
    enc = tok.apply_chat_template(
        [{"role": "user", "content": case.input}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    return tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()
"""


def _qa(n: int = N_QA) -> list[dict[str, str]]:
    lines = (TINY / "qa.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines][:n]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """One torch thread here and in the subprocesses the tests start.

    The tiny model gains little from a second thread, and on a shared 2-core machine two
    spinning OpenMP threads per process slow every step down several times over.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.getbasetemp() / "tiny-lm-model"
    if not (out / "config.json").exists():
        spec = importlib.util.spec_from_file_location("build_tiny_lm", TINY / "build_tiny_lm.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.build(out)
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("finetune-jobs")
    (work / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _qa()))
    (work / "tiny_target.py").write_text(TARGET_MODULE)
    suite = {
        "suite": "tiny-qa",
        "target": "python:tiny_target:answer",
        "metrics": [{"exact": {"threshold": 1.0}}],
        "cases": [
            {"id": f"q{i}", "input": r["question"], "expected": r["answer"]}
            for i, r in enumerate(_qa())
        ],
    }
    (work / "qa.eval.yaml").write_text(json.dumps(suite))
    return work


def _job(tiny_model: Path, workdir: Path, name: str, **over: Any) -> dict[str, Any]:
    hp = {
        "epochs": 40,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "logging_steps": 20,
        "max_seq_length": 64,
        "seed": 0,
        "save_steps": 100,
    }
    hp.update(over.pop("hyperparameters", {}))
    cfg: dict[str, Any] = {
        "name": name,
        "base_model": str(tiny_model),
        "method": "lora",
        "dataset": {
            "train": str(workdir / "qa.jsonl"),
            "columns": {"input": "question", "output": "answer"},
        },
        "hyperparameters": hp,
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "modules_to_save": ["wte", "ln_f"]},
        "output_dir": str(workdir / name),
    }
    cfg.update(over)
    return cfg


def _greedy(model: Any, tok: Any, question: str) -> str:
    import torch

    enc = tok.apply_chat_template(
        [{"role": "user", "content": question}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    return str(tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)).strip()


@pytest.fixture(scope="module")
def store(workdir: Path) -> JobStore:
    return JobStore(workdir / "jobs.sqlite")


@pytest.fixture(scope="module")
def lora_job(tiny_model: Path, workdir: Path, store: JobStore) -> JobRecord:
    """LoRA on 20 pairs, judged by an eval suite against the base model (a real gate)."""
    cfg = _job(tiny_model, workdir, "lora", eval_after={"suites": [str(workdir / "qa.eval.yaml")]})
    return run_job(cfg, store=store)


# --------------------------------------------------------------------------- LoRA + eval gate


def test_lora_job_completes_with_metrics(lora_job: JobRecord) -> None:
    job = lora_job
    assert job.status == "completed" and job.error is None
    assert job.started_at and job.finished_at and job.created_at
    assert job.started_at <= job.finished_at
    train = [m for m in job.metrics if m.kind == "train"]
    assert [m.step for m in train] == [1, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200]
    assert all(m.learning_rate and m.tokens_per_s and m.tokens_per_s > 0 for m in train)
    assert train[-1].loss is not None and train[0].loss is not None
    assert train[-1].loss < train[0].loss
    assert train[-1].epoch == pytest.approx(40.0)
    assert [c.step for c in job.checkpoints] == [100, 200]
    assert job.last_checkpoint and job.last_checkpoint.endswith("checkpoint-200")
    assert job.result and job.result["merged"] is True and job.result["global_step"] == 200


def test_lora_model_loads_directly_and_learned(lora_job: JobRecord) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert lora_job.model_dir and lora_job.adapter_dir
    model = AutoModelForCausalLM.from_pretrained(lora_job.model_dir)
    tok = AutoTokenizer.from_pretrained(lora_job.model_dir)
    answers = [_greedy(model, tok, r["question"]) for r in _qa()]
    correct = sum(a == r["answer"] for a, r in zip(answers, _qa(), strict=True))
    assert correct >= 18, answers


def test_merged_model_equals_adapter_on_base(lora_job: JobRecord, tiny_model: Path) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert lora_job.model_dir and lora_job.adapter_dir
    merged = AutoModelForCausalLM.from_pretrained(lora_job.model_dir).eval()
    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), lora_job.adapter_dir
    ).eval()
    ids = torch.tensor([[3, 264, 265, 277, 284, 278, 528, 403, 484, 35, 1, 4]])
    with torch.no_grad():
        a = merged(ids).logits
        b = peft_model(ids).logits
    assert torch.allclose(a, b, atol=1e-4)


def test_eval_gate_passes_for_the_trained_model(lora_job: JobRecord) -> None:
    from pytest_mleval.results.records import load_results

    gate = lora_job.gate
    assert gate is not None and lora_job.gate_passed is True, gate
    suite = gate["comparison"]["suites"][0]
    row = next(m for m in suite["metrics"] if m["metric"] == "pass_rate")
    assert row["baseline"] == 0.0  # a random model answers nothing right
    assert row["candidate"] >= 0.9 and row["verdict"] == "improved"
    base, trained = load_results(gate["base_results"]), load_results(gate["trained_results"])
    assert len(base.cases) == len(trained.cases) == N_QA
    assert trained.comparison is not None
    assert trained.comparison["suites"][0]["metrics"] == suite["metrics"]
    outputs = {c.case_id: c.output for c in trained.cases}
    assert outputs["q0"] == "Paris"


def test_eval_gate_fails_without_improvement_or_on_regression(lora_job: JobRecord) -> None:
    from pytest_mleval.results.compare import compare_runs
    from pytest_mleval.results.records import load_results

    assert lora_job.gate
    base = load_results(lora_job.gate["base_results"])
    trained = load_results(lora_job.gate["trained_results"])
    # The base judged against itself: equal answers are never a significant gain.
    passed, reason = gate_verdict(compare_runs(base, base), "pass_rate")
    assert passed is False and "is not a significant improvement" in reason
    # Swapped: going from the trained model back to the base is a regression.
    passed, reason = gate_verdict(compare_runs(trained, base), "pass_rate")
    assert passed is False and "regressed beyond the margin on pass_rate" in reason
    # A metric no suite scored cannot pass.
    passed, reason = gate_verdict(compare_runs(base, trained), "rouge_l")
    assert passed is False and "'rouge_l' was not scored" in reason
    passed, reason = gate_verdict(compare_runs(base, trained), "pass_rate")
    assert passed is True and "pass_rate 0.000 -> " in reason


def test_cli_shows_the_job(
    lora_job: JobRecord, store: JobStore, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="mleval")
    add_finetune_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["jobs", "show", str(lora_job.id), "--store", str(store.path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"job {lora_job.id}: completed (lora)" in out
    assert "eval gate   passed" in out and "checkpoint-200" in out
    args = parser.parse_args(["jobs", "list", "--json", "--store", str(store.path)])
    assert args.func(args) == 0
    listed = json.loads(capsys.readouterr().out)
    assert any(j["id"] == lora_job.id and j["status"] == "completed" for j in listed)


# --------------------------------------------------------------------------- other methods


def test_full_finetune_stops_early_on_validation_loss(tiny_model: Path, workdir: Path) -> None:
    run = finetune_fixture_factory(workdir / "fixture-jobs")
    cfg = _job(
        tiny_model,
        workdir,
        "full-early",
        method="full",
        validation_split=0.25,
        early_stopping_patience=2,
        hyperparameters={"epochs": 60, "learning_rate": 5e-3, "save_steps": None},
    )
    cfg.pop("output_dir")
    job = run(cfg)
    assert job.status == "completed"
    evals = [m for m in job.metrics if m.kind == "eval"]
    assert len(evals) >= 3 and all(m.eval_loss is not None for m in evals)
    # The held-out facts cannot be learned from the others: validation loss turns up and the
    # run stops long before 60 epochs, keeping the best checkpoint.
    assert job.result and job.result["stopped_early"] is True
    assert evals[-1].epoch is not None and evals[-1].epoch < 60
    best = min(evals, key=lambda m: m.eval_loss or 0.0)
    assert job.result["best_checkpoint"].endswith(f"checkpoint-{best.step}")
    assert job.result["merged"] is False and job.adapter_dir is None
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(job.model_dir).config.n_layer == 2


def test_prefix_tuning_trains_an_adapter(tiny_model: Path, workdir: Path, store: JobStore) -> None:
    from pytest_mleval.finetune import load_trained_model

    cfg = _job(
        tiny_model,
        workdir,
        "prefix",
        method="prefix",
        prefix={"num_virtual_tokens": 4},
        hyperparameters={"epochs": 10, "logging_steps": 10},
    )
    job = run_job(cfg, store=store)
    assert job.status == "completed" and job.model_dir == job.adapter_dir
    train = [m for m in job.metrics if m.kind == "train"]
    assert train[-1].loss is not None and train[0].loss is not None
    assert train[-1].loss < train[0].loss
    model, tok = load_trained_model(job.model_dir)
    assert isinstance(_greedy(model, tok, "What is 2 plus 2?"), str)


def test_dpo_raises_reward_accuracy(tiny_model: Path, workdir: Path, store: JobStore) -> None:
    cfg = _job(
        tiny_model,
        workdir,
        "dpo",
        method="dpo",
        dataset={"train": str(TINY / "prefs.jsonl")},
        hyperparameters={"epochs": 10, "batch_size": 8, "logging_steps": 5},
    )
    job = run_job(cfg, store=store)
    assert job.status == "completed"
    acc = [m.data["rewards/accuracies"] for m in job.metrics if m.kind == "train"]
    assert len(acc) >= 10
    early, late = sum(acc[1:4]) / 3, sum(acc[-3:]) / 3
    assert late >= 0.7 and late > early + 0.2, acc


# --------------------------------------------------------------------------- failures and resume


def test_crash_marks_failed_then_resume_completes(
    tiny_model: Path, workdir: Path, store: JobStore
) -> None:
    from transformers import TrainerCallback

    class Boom(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 13:
                raise RuntimeError("disk on fire")

    cfg = _job(
        tiny_model,
        workdir,
        "crash",
        method="full",
        hyperparameters={"epochs": 5, "save_steps": 5, "logging_steps": 5},
    )
    with pytest.raises(FinetuneError, match="disk on fire"):
        run_job(cfg, store=store, callbacks=[Boom()])
    job = store.list()[0]
    job = store.get(job.id)
    assert job.status == "failed" and job.error == "RuntimeError: disk on fire"
    assert job.finished_at and job.model_dir is None
    assert [c.step for c in job.checkpoints] == [5, 10]
    assert job.result and "disk on fire" in job.result["traceback"]

    resumed = resume_job(job.id, store=store)
    assert resumed.status == "completed" and resumed.error is None
    assert resumed.result and resumed.result["global_step"] == 25
    steps = [m.step for m in resumed.metrics if m.kind == "train"]
    assert steps[-1] == 25 and 10 in steps and 15 in steps
    with pytest.raises(FinetuneError, match="only cancelled or failed jobs resume"):
        resume_job(job.id, store=store)


def test_cancel_from_another_process_then_resume(tiny_model: Path, workdir: Path) -> None:
    store_path = workdir / "cancel.sqlite"
    cfg = _job(
        tiny_model,
        workdir,
        "cancel",
        method="full",
        hyperparameters={"epochs": 1, "max_steps": 200, "save_steps": 50, "logging_steps": 10},
    )
    job_file = workdir / "cancel.yaml"
    job_file.write_text(json.dumps(cfg))
    code = (
        "import argparse, sys\n"
        "from pytest_mleval.cli.finetune import add_finetune_commands\n"
        "p = argparse.ArgumentParser(); add_finetune_commands(p.add_subparsers())\n"
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "finetune", str(job_file), "--store", str(store_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        store = JobStore(store_path)
        deadline = time.monotonic() + 120
        job_id = None
        while time.monotonic() < deadline and proc.poll() is None:
            jobs = store.list()
            if jobs and jobs[0].status == "running" and store.get(jobs[0].id).metrics:
                job_id = jobs[0].id
                break
            time.sleep(0.05)
        assert job_id is not None, proc.communicate()[0] if proc.poll() is not None else "timeout"
        assert cancel_job(job_id, store=store).cancel_requested
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out
    job = store.get(job_id)
    assert job.status == "cancelled", out
    assert job.model_dir is None and job.last_checkpoint is not None
    stopped_at = int(job.last_checkpoint.rsplit("-", 1)[1])
    assert 0 < stopped_at < 200
    resumed = resume_job(job_id, store=store)
    assert resumed.status == "completed"
    assert resumed.result and resumed.result["global_step"] == 200


# --------------------------------------------------------------------------- export


def test_exported_script_trains_the_same_model(tiny_model: Path, workdir: Path) -> None:
    import torch
    from safetensors.torch import load_file

    over = {"method": "full", "hyperparameters": {"epochs": 3, "save_steps": None}}
    job = run_job(_job(tiny_model, workdir, "export-job", **over), store=JobStore(workdir / "e.db"))
    cfg = load_job_config(_job(tiny_model, workdir, "export-script", **over))
    script = export_script(cfg, workdir / "train.py")
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": ""},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = load_file(str(Path(job.model_dir or "") / "model.safetensors"))
    theirs = load_file(str(workdir / "export-script" / "model" / "model.safetensors"))
    assert ours.keys() == theirs.keys()
    base = load_file(str(tiny_model / "model.safetensors"))
    # Same code, seed and data on the CPU: the same weights, and they moved from the base.
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in ours)
    assert not torch.allclose(
        ours["transformer.h.0.attn.c_attn.weight"], base["transformer.h.0.attn.c_attn.weight"]
    )


# --------------------------------------------------------------------------- served like any model


@pytest.mark.slow
def test_trained_model_served_by_transformers_and_called_through_litellm(
    lora_job: JobRecord,
) -> None:
    import shutil
    import socket
    import urllib.request

    from transformers import AutoModelForCausalLM, AutoTokenizer

    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    litellm = pytest.importorskip("litellm")
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent))
    assert cli, "the transformers CLI is not installed beside this Python"
    assert lora_job.model_dir
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [cli, "serve", lora_job.model_dir, "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*cmd, "--device", "cpu"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, "transformers serve exited"
                assert time.monotonic() < deadline, "transformers serve did not start"
                time.sleep(0.5)
        model = AutoModelForCausalLM.from_pretrained(lora_job.model_dir)
        tok = AutoTokenizer.from_pretrained(lora_job.model_dir)
        served, local = [], []
        for row in _qa():
            reply = litellm.completion(
                model=f"openai/{lora_job.model_dir}",
                api_base=base,
                api_key="not-needed",
                messages=[{"role": "user", "content": row["question"]}],
                max_tokens=8,
                temperature=0,
            )
            served.append((reply.choices[0].message.content or "").strip())
            local.append(_greedy(model, tok, row["question"]))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert served == local  # the server decodes greedily like the in-process model
    assert sum(a == r["answer"] for a, r in zip(served, _qa(), strict=True)) >= 18
