"""Fine-tuning job configs: every bad input is an error before training starts."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pytest_mleval.cli.finetune import add_finetune_commands
from pytest_mleval.errors import ConfigError, FinetuneError
from pytest_mleval.finetune import JobConfig, check_job, export_script, load_job_config
from pytest_mleval.finetune.jobs import JobStore, cancel_job, run_job

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "fixtures" / "tiny_lm"


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("build_tiny_lm", TINY / "build_tiny_lm.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Shared with the other finetune test module through the session's base temp dir.
    out = tmp_path_factory.getbasetemp() / "tiny-lm-model"
    if not (out / "config.json").exists():
        _builder().build(out)
    return out


@pytest.fixture
def qa_file(tmp_path: Path) -> Path:
    rows = [json.loads(line) for line in (TINY / "qa.jsonl").read_text().splitlines()][:12]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _config(tiny_model: Path, qa_file: Path, tmp_path: Path, **over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "base_model": str(tiny_model),
        "method": "full",
        "dataset": {"train": str(qa_file), "columns": {"input": "question", "output": "answer"}},
        "hyperparameters": {"max_seq_length": 64},
        "output_dir": str(tmp_path / "out"),
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def _check(cfg: dict[str, Any]) -> list[str]:
    return check_job(load_job_config(cfg))


# --------------------------------------------------------------------------- the generated data


def test_recipe_data_is_deterministic_and_shipped() -> None:
    builder = _builder()
    qa = builder.generate_qa()
    assert len(qa) == 200
    assert len({r["question"] for r in qa}) == 200  # every question distinct
    shipped = [json.loads(line) for line in (TINY / "qa.jsonl").read_text().splitlines()]
    assert shipped == qa
    prefs = [json.loads(line) for line in (TINY / "prefs.jsonl").read_text().splitlines()]
    assert prefs == builder.generate_prefs()
    assert all(p["chosen"] != p["rejected"] for p in prefs)
    assert {"question": "What is 7 plus 8?", "answer": "15"} in qa


def test_tiny_model_loads_with_chat_template(tiny_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    text = tok.apply_chat_template(
        [{"role": "user", "content": "What is 2 plus 2?"}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert text == "<|user|>What is 2 plus 2?<|end|><|assistant|>"
    assert tok.eos_token == "<|end|>" and tok.pad_token == "<|pad|>"
    assert model.config.n_layer == 2 and model.config.vocab_size == len(tok)
    # Byte-level BPE: any text round-trips.
    assert tok.decode(tok("Zürich ok? 123")["input_ids"]) == "Zürich ok? 123"


# --------------------------------------------------------------------------- config schema


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"hyperparameters": {"epochs": 0}}, "hyperparameters.epochs"),
        ({"hyperparameters": {"batch_size": 0}}, "hyperparameters.batch_size"),
        ({"hyperparameters": {"learning_rate": -1e-4}}, "hyperparameters.learning_rate"),
        ({"hyperparameters": {"learning_rate": 3}}, "hyperparameters.learning_rate"),
        ({"hyperparameters": {"weight_decay": -0.1}}, "hyperparameters.weight_decay"),
        ({"hyperparameters": {"warmup_ratio": 1.0}}, "hyperparameters.warmup_ratio"),
        ({"hyperparameters": {"warmup_steps": -2}}, "hyperparameters.warmup_steps"),
        (
            {"hyperparameters": {"gradient_accumulation_steps": 0}},
            "hyperparameters.gradient_accumulation_steps",
        ),
        ({"hyperparameters": {"max_seq_length": 4}}, "hyperparameters.max_seq_length"),
        ({"hyperparameters": {"logging_steps": 0}}, "hyperparameters.logging_steps"),
        ({"hyperparameters": {"lr_scheduler": "zigzag"}}, "hyperparameters.lr_scheduler"),
        ({"hyperparameters": {"fp16": True, "bf16": True}}, "hyperparameters"),
        ({"hyperparameters": {"epochs": "many"}}, "hyperparameters.epochs"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"lora": {"alpha": 0}}, "lora.alpha"),
        ({"lora": {"dropout": 1.0}}, "lora.dropout"),
        ({"prefix": {"num_virtual_tokens": 0}}, "prefix.num_virtual_tokens"),
        ({"validation_split": 0.6}, "validation_split"),
        ({"validation_split": -0.1}, "validation_split"),
        ({"early_stopping_patience": 0}, "early_stopping_patience"),
        ({"method": "rlhf"}, "method"),
        ({"learning_rate": 0.1}, "learning_rate"),  # misplaced: unknown at the top level
        ({"eval_after": {"suites": []}}, "eval_after.suites"),
    ],
)
def test_invalid_field_is_named(
    over: dict[str, Any], field: str, tiny_model: Path, qa_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        load_job_config(_config(tiny_model, qa_file, tmp_path, **over))


def test_yaml_file_paths_resolve_beside_it(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text('{"input": "a", "output": "b"}\n')
    job = tmp_path / "job.yaml"
    job.write_text(
        f"base_model: {tiny_model}\nmethod: lora\ndataset: {{train: data/train.jsonl}}\n"
        "output_dir: out\n"
    )
    cfg = load_job_config(job)
    assert cfg.dataset.train == str(tmp_path / "data" / "train.jsonl")
    assert cfg.output_dir == str(tmp_path / "out")
    assert cfg.hyperparameters.epochs == 3.0 and cfg.lora.r == 8


def test_unreadable_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_job_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("base_model: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read the job config"):
        load_job_config(bad)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_job_config(bad)


# --------------------------------------------------------------------------- checks before training


def test_valid_config_passes_and_clamps_sequence_length(
    tiny_model: Path, qa_file: Path, tmp_path: Path
) -> None:
    cfg = load_job_config(
        _config(tiny_model, qa_file, tmp_path, hyperparameters={"max_seq_length": 4096})
    )
    warnings = check_job(cfg)
    assert any("128 positions" in w for w in warnings)
    assert cfg.hyperparameters.max_seq_length == 128


def test_missing_dataset(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    cfg = _config(tiny_model, qa_file, tmp_path, dataset={"train": str(tmp_path / "nope.jsonl")})
    with pytest.raises(ConfigError, match=r"dataset.train: file not found: .*nope.jsonl"):
        _check(cfg)


def test_empty_dataset(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        _check(_config(tiny_model, qa_file, tmp_path, dataset={"train": str(empty)}))
    header_only = tmp_path / "header.csv"
    header_only.write_text("question,answer\n")
    with pytest.raises(ConfigError, match="has no rows"):
        _check(_config(tiny_model, qa_file, tmp_path, dataset={"train": str(header_only)}))


def test_missing_column_lists_available(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    cfg = _config(
        tiny_model,
        qa_file,
        tmp_path,
        dataset={"train": str(qa_file), "columns": {"input": "prompt_text", "output": "answer"}},
    )
    with pytest.raises(
        ConfigError, match=r"column 'prompt_text' not found .* available columns: question, answer"
    ):
        _check(cfg)


def test_dpo_needs_preference_columns(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="column 'prompt' not found"):
        _check(_config(tiny_model, qa_file, tmp_path, method="dpo"))
    ok = _config(
        tiny_model, qa_file, tmp_path, method="dpo", dataset={"train": str(TINY / "prefs.jsonl")}
    )
    assert _check(ok) == []


def test_unreadable_dataset(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": \n')
    with pytest.raises(ConfigError, match="cannot read"):
        _check(_config(tiny_model, qa_file, tmp_path, dataset={"train": str(bad)}))


def test_missing_base_model(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="base_model: directory not found"):
        _check(_config(tiny_model, qa_file, tmp_path, base_model=str(tmp_path / "no-model")))
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(ConfigError, match=r"has no config.json"):
        _check(_config(tiny_model, qa_file, tmp_path, base_model=str(tmp_path / "empty-model")))


def test_hub_id_not_in_cache_is_not_downloaded(
    tiny_model: Path, qa_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.chdir(tmp_path)
    cfg = load_job_config(_config(tiny_model, qa_file, tmp_path, base_model="acme/never-cached"))
    assert cfg.base_model == "acme/never-cached"  # kept as a hub id, not made a path
    with pytest.raises(ConfigError, match="local cache"):
        check_job(cfg)


def test_unwritable_output_dir(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=r"output_dir: .* not a directory"):
        _check(_config(tiny_model, qa_file, tmp_path, output_dir=str(a_file)))
    with pytest.raises(ConfigError, match=r"output_dir: .* is not writable"):
        _check(_config(tiny_model, qa_file, tmp_path, output_dir=str(a_file / "sub")))


def test_lora_modules_must_exist(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    bad = _config(tiny_model, qa_file, tmp_path, method="lora", lora={"target_modules": ["q_proj"]})
    with pytest.raises(ConfigError, match=r"lora.target_modules: module 'q_proj' .*c_attn"):
        _check(bad)
    bad_save = _config(
        tiny_model, qa_file, tmp_path, method="lora", lora={"modules_to_save": ["embed_tokens"]}
    )
    with pytest.raises(ConfigError, match=r"lora.modules_to_save: module 'embed_tokens'.*wte"):
        _check(bad_save)
    good = _config(
        tiny_model,
        qa_file,
        tmp_path,
        method="lora",
        lora={"target_modules": ["c_attn", "mlp.c_fc"], "modules_to_save": ["wte", "ln_f"]},
    )
    assert _check(good) == []
    assert _check({**good, "lora": {"target_modules": "all-linear"}}) == []


def test_validation_rules(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="early_stopping_patience needs validation data"):
        _check(_config(tiny_model, qa_file, tmp_path, early_stopping_patience=2))
    both = _config(
        tiny_model,
        qa_file,
        tmp_path,
        validation_split=0.2,
        dataset={"train": str(qa_file), "validation": str(qa_file)},
    )
    with pytest.raises(ConfigError, match=r"either dataset.validation or validation_split"):
        _check(both)
    one_row = tmp_path / "one.jsonl"
    one_row.write_text('{"question": "q", "answer": "a"}\n')
    tiny_split = _config(
        tiny_model, qa_file, tmp_path, validation_split=0.5, dataset={"train": str(one_row)}
    )
    with pytest.raises(ConfigError, match="leaves an empty training or validation set"):
        _check(tiny_split)
    assert (
        _check(
            _config(tiny_model, qa_file, tmp_path, validation_split=0.25, early_stopping_patience=2)
        )
        == []
    )


def test_eval_after_suites_must_exist(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    cfg = _config(tiny_model, qa_file, tmp_path, eval_after={"suites": ["missing.eval.yaml"]})
    with pytest.raises(ConfigError, match=r"eval_after.suites: not found"):
        _check(cfg)


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is not None and __import__("torch").cuda.is_available(),
    reason="checks the CPU-only errors",
)
def test_gpu_only_settings_fail_on_cpu(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="qlora needs a CUDA GPU"):
        _check(_config(tiny_model, qa_file, tmp_path, method="qlora"))
    with pytest.raises(ConfigError, match="fp16 needs a CUDA GPU"):
        _check(_config(tiny_model, qa_file, tmp_path, hyperparameters={"fp16": True}))
    with pytest.raises(ConfigError, match="cuda requested"):
        _check(_config(tiny_model, qa_file, tmp_path, hyperparameters={"device": "cuda"}))
    # bf16 autocast exists on the CPU: accepted.
    assert _check(_config(tiny_model, qa_file, tmp_path, hyperparameters={"bf16": True})) == []


def test_bad_job_records_nothing_and_trains_nothing(
    tiny_model: Path, qa_file: Path, tmp_path: Path
) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    cfg = _config(tiny_model, qa_file, tmp_path, dataset={"train": str(tmp_path / "nope.jsonl")})
    with pytest.raises(ConfigError):
        run_job(cfg, store=store)
    assert store.list() == []
    assert not (tmp_path / "out" / "checkpoints").exists()


# --------------------------------------------------------------------------- data mapping


def test_examples_are_conversational_with_a_chat_template(
    tiny_model: Path, qa_file: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    from pytest_mleval.finetune import train as core

    cfg = load_job_config(
        _config(tiny_model, qa_file, tmp_path, dataset={"system_prompt": "Be brief."})
    ).model_dump(mode="json")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    train, valid = core.build_datasets(cfg, tok)
    assert valid is None and len(train) == 12
    assert train[0] == {
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "completion": [{"role": "assistant", "content": "Paris"}],
    }
    tok.chat_template = None  # a base model without a template gets plain text
    train, _ = core.build_datasets(cfg, tok)
    assert train[0] == {
        "prompt": "Be brief.\n\nWhat is the capital of France?\n",
        "completion": "Paris",
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hf"])
def test_other_formats_load_the_same_rows(
    fmt: str, tiny_model: Path, qa_file: Path, tmp_path: Path
) -> None:
    import datasets

    from pytest_mleval.finetune import train as core

    ds = datasets.load_dataset("json", data_files=str(qa_file), split="train")
    path = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        ds.to_csv(str(path), index=False)
    elif fmt == "parquet":
        ds.to_parquet(str(path))
    else:
        datasets.DatasetDict({"train": ds}).save_to_disk(str(path))
    cfg = _config(
        tiny_model,
        qa_file,
        tmp_path,
        validation_split=0.25,
        dataset={"train": str(path), "columns": {"input": "question", "output": "answer"}},
    )
    assert _check(cfg) == []
    loaded = core.load_table(str(path))
    assert loaded.to_list() == ds.to_list()


# --------------------------------------------------------------------------- export and CLI


def test_export_script_is_standalone(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    cfg = load_job_config(_config(tiny_model, qa_file, tmp_path, method="lora"))
    script = export_script(cfg, tmp_path / "train.py")
    source = script.read_text()
    tree = ast.parse(source)
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name.startswith(("pytest_mleval", ".")) for name in imported)
    assert {"trl", "peft", "transformers", "datasets"} <= imported
    assert source.startswith("#!/usr/bin/env python")
    config = next(
        n for n in tree.body if isinstance(n, ast.AnnAssign) and ast.unparse(n.target) == "CONFIG"
    )
    expected = {k: v for k, v in cfg.model_dump(mode="json").items() if k != "eval_after"}
    assert ast.literal_eval(config.value) == expected


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mleval")
    add_finetune_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_export_and_jobs_on_empty_store(
    tiny_model: Path, qa_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(json.dumps(_config(tiny_model, qa_file, tmp_path)))  # JSON is YAML
    store = str(tmp_path / "jobs.sqlite")
    assert _cli(["finetune", str(job), "--export-script", str(tmp_path / "t.py")]) == 0
    assert (tmp_path / "t.py").is_file()
    assert not (tmp_path / "out" / "checkpoints").exists()  # exporting trains nothing
    assert _cli(["jobs", "list", "--store", store]) == 0
    assert "status" in capsys.readouterr().out
    with pytest.raises(FinetuneError, match="no job 7"):
        _cli(["jobs", "show", "7", "--store", store])
    with pytest.raises(FinetuneError, match="needs a job id"):
        _cli(["jobs", "cancel", "--store", store])


def test_cancel_pending_and_ended_jobs(tiny_model: Path, qa_file: Path, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job_id = store.create(JobConfig.model_validate(_config(tiny_model, qa_file, tmp_path)))
    assert store.get(job_id).status == "pending"
    assert cancel_job(job_id, store=store).status == "cancelled"
    with pytest.raises(FinetuneError, match="already cancelled"):
        cancel_job(job_id, store=store)


def test_dead_process_leaves_no_running_job(
    tiny_model: Path, qa_file: Path, tmp_path: Path
) -> None:
    import socket
    import subprocess
    import sys

    store = JobStore(tmp_path / "jobs.sqlite")
    job_id = store.create(JobConfig.model_validate(_config(tiny_model, qa_file, tmp_path)))
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(proc.stdout)
    store.update(job_id, status="running", pid=dead_pid, host=socket.gethostname())
    live = store.create(JobConfig.model_validate(_config(tiny_model, qa_file, tmp_path)))
    store.update(live, status="running", pid=os.getpid(), host=socket.gethostname())
    jobs = {j.id: j for j in store.list()}
    assert jobs[job_id].status == "failed"
    assert f"pid {dead_pid}" in (jobs[job_id].error or "")
    assert jobs[live].status == "running"  # this process is alive
