"""Sharded runs: ``--mleval-shard I/N`` then ``mleval merge`` equal one unsharded run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_mleval.cli import main
from pytest_mleval.results.shards import case_shard, node_shard, shard_index

# Scores that vary between cases (rouge_l), so intervals and a median's bootstrap have
# something to resample; APP_MODE=old is the baseline's weaker system.
APP = """
import os

def answer(case):
    words = case.expected.split()
    keep = len(words) - (int(case.vars["drop"]) + (1 if os.environ.get("APP_MODE") == "old" else 0))
    return " ".join(words[: max(keep, 1)])

def shout(case):
    return case.prompt.upper()
"""

QA = """
suite: qa
target: python:app:answer
prompt: "{{ input }}"
repeats: 2
metrics:
  - rouge_l: {threshold: 0.6}
gates:
  - {metric: rouge_l, stat: mean, min: 0.5, on: ci_low}
  - {metric: rouge_l, stat: median, min: 0.7}
cases:
""" + "".join(
    f"  - {{id: q{i}, input: question {i}, expected: 'the answer number {i} has several "
    f"words in it', vars: {{drop: {i % 5}}}}}\n"
    for i in range(14)
)

VARIANTS = """
suite: tone
target: python:app:shout
prompt: "{{ input }}"
metrics: [{contains: {value: "HELLO"}}]
variants:
  - {name: plain}
  - {name: greet, prompt: "hello {{ input }}"}
reference: plain
gates:
  - {metric: pass_rate, min: 0.5}
cases:
""" + "".join(
    f"  - {{id: t{i}, input: '{'hello ' if i % 3 == 0 else ''}line {i}'}}\n" for i in range(10)
)

PLAIN_TESTS = """
def test_one():
    pass

def test_two():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(app=APP, test_plain=PLAIN_TESTS)
    pytester.makefile(".eval.yaml", qa=QA, tone=VARIANTS)
    pytester.syspathinsert()
    monkeypatch.delenv("APP_MODE", raising=False)
    return pytester


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _without_timings(value: Any) -> Any:
    """Latency and cost views measure each run's own clock: everything else must agree."""
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if not k.startswith("latency") and k not in ("usage",)
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _case_keys(run: dict[str, Any]) -> list[tuple[str, str, int, bool]]:
    return [(c["suite"], c["case_id"], c["repeat"], c["passed"]) for c in run["cases"]]


def _run_shards(project: pytest.Pytester, *args: str, count: int = 3) -> list[Path]:
    files = []
    for i in range(1, count + 1):
        result = project.runpytest(
            f"--mleval-shard={i}/{count}", f"--mleval-report-dir=s{i}", *args
        )
        assert result.ret in (0, 1), result.stdout.str()
        files.append(project.path / f"s{i}" / "mleval-results.json")
    return files


def test_three_shards_merge_into_the_unsharded_run(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A baseline from the weaker system: the comparison and the regression gate have work.
    monkeypatch.setenv("APP_MODE", "old")
    assert project.runpytest("--mleval-report-dir=base").ret in (0, 1)
    monkeypatch.delenv("APP_MODE")
    base = "base/mleval-results.json"

    full_result = project.runpytest("--mleval-report-dir=full", f"--mleval-baseline={base}")
    full = _load(project.path / "full" / "mleval-results.json")
    shards = _run_shards(project, f"--mleval-baseline={base}")
    code = main(["merge", *map(str, shards), "-o", "merged/mleval-results.json"])
    out = capsys.readouterr()
    merged = _load(project.path / "merged" / "mleval-results.json")

    # Every shard ran a part, together all of it, none twice.
    parts = [_load(p) for p in shards]
    assert all(0 < len(p["cases"]) < len(full["cases"]) for p in parts)
    assert sum(len(p["cases"]) for p in parts) == len(full["cases"])
    # The same cases in the same order, and every statistic over the union.
    assert _case_keys(merged) == _case_keys(full)
    for key in ("suites", "aggregates", "gates", "variant_sets", "comparison", "variants"):
        assert _without_timings(merged[key]) == _without_timings(full[key]), key
    assert merged["variant_sets"] and merged["variant_sets"][0]["pairs"]
    # "t" or "t (Wilson form near the bound)": rouge_l is a bounded score.
    assert {a["method"].split(" ")[0] for a in merged["aggregates"]} >= {"wilson", "t"}
    assert any(g["suite"] == "qa" and "median" in json.dumps(g) for g in merged["gates"])
    assert merged["comparison"]["suites"], "the baseline comparison is over the union"
    assert merged["meta"]["exit_status"] == full["meta"]["exit_status"] == full_result.ret
    assert merged["meta"]["incomplete"] == []
    assert [s["index"] for s in merged["meta"]["merged_from"]] == [1, 2, 3]
    assert merged["meta"]["shard"] is None
    assert code == (0 if full_result.ret == 0 else 1), out.err
    # The outputs a run writes: summary and HTML beside the merged results.
    summary = (project.path / "merged" / "mleval-summary.md").read_text()
    assert summary.startswith("## pytest-mleval results") and "qa" in summary
    assert (project.path / "merged" / "mleval-report.html").is_file()

    # report and compare take the merged file.
    assert main(["report", "merged/mleval-results.json", "-o", "merged/again.html"]) == 0
    assert (project.path / "merged" / "again.html").stat().st_size > 1000
    capsys.readouterr()
    main(["compare", base, "merged/mleval-results.json", "--format", "json"])
    via_merged = json.loads(capsys.readouterr().out)
    main(["compare", base, "full/mleval-results.json", "--format", "json"])
    assert via_merged == json.loads(capsys.readouterr().out)


def test_a_case_lands_in_one_shard_with_its_repeats_and_variants(project: pytest.Pytester) -> None:
    shards = _run_shards(project)
    seen: dict[tuple[str, str, int], int] = {}
    for index, path in enumerate(shards, start=1):
        run = _load(path)
        info = run["meta"]["shard"]
        assert (info["index"], info["count"]) == (index, 3)
        assert info["selected"] + info["deselected"] == 14 * 2 + 10 * 2 + 2
        for c in run["cases"]:
            base = c["suite"].split("[")[0]
            assert case_shard(base, c["case_id"], 3) == index
            assert (c["suite"], c["case_id"], c["repeat"]) not in seen
            seen[(c["suite"], c["case_id"], c["repeat"])] = index
        # Both variants of a case and both repeats, in this shard.
        for c in run["cases"]:
            if c["suite"].startswith("tone["):
                other = "tone[greet]" if c["suite"] == "tone[plain]" else "tone[plain]"
                assert seen.get((other, c["case_id"], 0), index) == index
    assert len(seen) == 14 * 2 + 10 * 2
    # The same assignment when run again, and pytest reports the rest as deselected.
    again = project.runpytest("--mleval-shard=2/3", "--mleval-report-dir=again", "-v")
    again.stdout.fnmatch_lines(["*deselected*"])
    assert _case_keys(_load(project.path / "again" / "mleval-results.json")) == _case_keys(
        _load(shards[1])
    )
    ran = {line.split(" ")[0] for line in again.stdout.lines if "::" in line and "PASS" in line}
    plain = {n for n in ran if n.startswith("test_plain.py")}
    assert plain == {
        f"test_plain.py::{t}"
        for t in ("test_one", "test_two")
        if node_shard(f"test_plain.py::{t}", 3) == 2
    }


def test_the_assignment_is_a_fixed_hash() -> None:
    # sha256, not Python's per-process hash(): the same on every runner, in every version.
    assert [shard_index(f"case\x00qa\x00q{i}", 7) for i in range(6)] == [
        case_shard("qa", f"q{i}", 7) for i in range(6)
    ]
    assert [case_shard("qa", f"q{i}", 3) for i in range(8)] == PINNED
    assert {case_shard("s", "c", 1)} == {1}


PINNED = [1, 2, 3, 2, 3, 1, 3, 3]


@pytest.mark.parametrize("value", ["4/3", "0/3", "1", "a/b", "2/0"])
def test_a_bad_shard_is_a_usage_error(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest(f"--mleval-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mleval-shard takes I/N*"])


def test_a_shard_does_not_fail_on_a_gate_over_its_part(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every case passes, the suite's gate fails: each shard ends by its cases only (its gates
    # see a part); the merge decides the gate over every case and fails.
    project.makefile(
        ".eval.yaml",
        qa=QA.replace("threshold: 0.6", "threshold: 0.1").replace("min: 0.5", "min: 0.99"),
    )
    shards = _run_shards(project, "-k", "not tone and not plain")
    assert [_load(p)["meta"]["exit_status"] for p in shards] == [0, 0, 0]
    # Before, each shard's outputs read "Run failed: 1 gate(s) failed ... (exit status 0)":
    # a gate over a shard's part decides nothing, and the merge decides it.
    for p in shards:
        assert _load(p)["gates"] == []
        summary = (p.parent / "mleval-summary.md").read_text()
        assert "gate(s) failed" not in summary
        assert "shard 1/3: its gates are decided by" in summary or p.parent.name != "s1"
    assert main(["merge", *map(str, shards), "-o", "m/mleval-results.json"]) == 1
    merged = _load(project.path / "m" / "mleval-results.json")
    assert merged["meta"]["exit_status"] == 1
    assert [g["passed"] for g in merged["gates"] if "0.99" in json.dumps(g)] == [False]
    assert "gate(s) failed" in capsys.readouterr().out


def test_shards_run_under_xdist_merge_into_the_unsharded_run(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # CI fleets shard across machines and spread each shard over its cores: the shard's
    # selection happens once (the controller's collection) and each worker's records still
    # reach the one results file.
    assert project.runpytest("--mleval-report-dir=full").ret in (0, 1)
    full = _load(project.path / "full" / "mleval-results.json")
    shards = []
    for i in (1, 2):
        result = project.runpytest_subprocess(
            "-n", "2", "-p", "xdist", f"--mleval-shard={i}/2", f"--mleval-report-dir=x{i}"
        )
        assert result.ret in (0, 1), result.stdout.str()
        shards.append(project.path / f"x{i}" / "mleval-results.json")
    parts = [_load(p) for p in shards]
    for index, part in enumerate(parts, start=1):
        assert part["cases"], "each shard ran cases"
        assert {case_shard(c["suite"].split("[")[0], c["case_id"], 2) for c in part["cases"]} == {
            index
        }
    assert main(["merge", *map(str, shards), "-o", "merged/mleval-results.json"]) in (0, 1)
    capsys.readouterr()
    merged = _load(project.path / "merged" / "mleval-results.json")
    assert _case_keys(merged) == _case_keys(full)
    for key in ("suites", "aggregates", "gates", "variant_sets", "variants"):
        assert _without_timings(merged[key]) == _without_timings(full[key]), key


def test_a_shard_that_gets_no_case_still_writes_its_results(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # One case, three shards: two of them run no case. They wrote no results file, so the
    # merge of the three failed "results file not found" and CI could not decide the gate.
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makefile(
        ".eval.yaml",
        one="suite: one\ntarget: python:app:echo\nmetrics: [exact]\n"
        "gates: [{metric: pass_rate, min: 0.9}]\ncases:\n  - {id: c, input: x, expected: y}\n",
    )
    assert pytester.runpytest("--mleval-report-dir=full").ret == 1
    files = []
    for i in (1, 2, 3):
        result = pytester.runpytest(f"--mleval-shard={i}/3", f"--mleval-report-dir=s{i}")
        path = pytester.path / f"s{i}" / "mleval-results.json"
        assert path.is_file(), result.stdout.str()
        files.append(str(path))
        # An empty shard ran all it had to: not pytest's exit 5, which failed its CI job.
        assert result.ret == (1 if i == case_shard("one", "c", 3) else 0)
    assert [len(_load(Path(f))["cases"]) for f in files].count(0) == 2
    empty = next(i for i in (1, 2, 3) if i != case_shard("one", "c", 3))
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "xdist", f"--mleval-shard={empty}/3", "--mleval-report-dir=x"
    )
    assert result.ret == 0, result.stdout.str()
    assert _load(pytester.path / "x" / "mleval-results.json")["meta"]["shard"]["index"] == empty
    out = str(pytester.path / "m" / "mleval-results.json")
    assert main(["merge", *files, "-o", out]) == 1  # the gate fails over the one case
    capsys.readouterr()
    merged, full = _load(Path(out)), _load(pytester.path / "full" / "mleval-results.json")
    assert _case_keys(merged) == _case_keys(full)
    assert _without_timings(merged["gates"]) == _without_timings(full["gates"])
    assert merged["meta"]["incomplete"] == []


def test_a_shard_record_holds_no_password_of_the_api_base(
    pytester: pytest.Pytester,
) -> None:
    # The fingerprint's options carried the ini `mleval_api_base` as written, into every
    # shard's results file: a gateway URL's password or `api_key=` query went with it.
    pytester.makepyfile(app="def echo(case):\n    return case.input\n")
    pytester.syspathinsert()
    pytester.makeini(
        "[pytest]\nmleval_api_base = http://user:hunter2pass@127.0.0.1:9/v1?api_key=zzsecretzz\n"
    )
    pytester.makefile(
        ".eval.yaml",
        one="suite: one\ntarget: python:app:echo\nmetrics: [exact]\n"
        "cases:\n  - {id: x, input: a, expected: a}\n  - {id: y, input: b, expected: b}\n",
    )
    for i in (1, 2):
        pytester.runpytest(f"--mleval-shard={i}/2", f"--mleval-report-dir=s{i}")
        text = (pytester.path / f"s{i}" / "mleval-results.json").read_text()
        assert "hunter2pass" not in text and "zzsecretzz" not in text
        assert "127.0.0.1:9" in text  # the option is still part of what shards must share
