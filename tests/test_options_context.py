"""The typed options, the run context (config and item stacks) and the eval-file glance."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_mleval import context
from pytest_mleval.evalfiles import eval_file_names_a_model, is_eval_file, names_remote_model
from pytest_mleval.options import IniSettings, MlevalOptions, get_options, option_specs


def test_every_option_is_one_typed_field_with_its_default() -> None:
    specs = {s.name: s for s in option_specs()}
    fields = {f.name: f for f in dataclasses.fields(MlevalOptions) if f.name != "ini"}
    assert [s.field for s in option_specs()] == list(fields)
    assert specs["concurrency"].type is int and specs["concurrency"].default == 8
    assert "(default: 8)" in specs["concurrency"].help
    assert specs["timeout"].type is float and "(default: 120)" in specs["timeout"].help
    assert specs["repeats"].type is int and specs["repeats"].default is None
    assert specs["no-report"].type is bool and specs["no-report"].dest == "mleval_no_report"
    for spec in option_specs():
        assert "{default}" not in spec.help
        assert fields[spec.field].default == spec.default
    assert MlevalOptions().flags()["report-dir"] == "reports"
    assert "baseline" not in MlevalOptions().flags()


def test_ini_only_keys_are_typed_fields_too(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nmleval_api_base = http://127.0.0.1:9\n"
        "mleval_rate_limits =\n    m1 rpm=5\n    m2 tpm=9\n"
    )
    pytester.makeconftest(
        "from pytest_mleval.options import get_options\n"
        "def pytest_configure(config):\n"
        "    ini = get_options(config).ini\n"
        "    print('INI', ini.api_base, ini.rate_limits, ini.files[0], ini.embedder)\n"
    )
    result = pytester.runpytest_subprocess("-s", "--co", "-q")
    result.stdout.fnmatch_lines(
        ["INI http://127.0.0.1:9 ('m1 rpm=5', 'm2 tpm=9') *.eval.yaml None"]
    )
    assert {f.name for f in dataclasses.fields(IniSettings)} == {
        "files",
        "api_base",
        "embedder",
        "rag_config",
        "rate_limits",
    }


def test_options_read_flag_then_ini_then_default(pytestconfig: pytest.Config) -> None:
    options = get_options(pytestconfig)
    assert options is get_options(pytestconfig)  # cached in the stash
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 3  # type: ignore[misc]


def test_ini_values_are_typed_and_bad_ones_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmleval_concurrency = 3\nmleval_timeout = 2.5\n")
    pytester.makeconftest(
        "from pytest_mleval.options import get_options\n"
        "def pytest_configure(config):\n"
        "    o = get_options(config)\n"
        "    print('OPTS', o.concurrency, o.timeout, o.seed, o.max_cost)\n"
    )
    result = pytester.runpytest_subprocess("--mleval-seed", "7", "-s", "--co")
    result.stdout.fnmatch_lines(["*OPTS 3 2.5 7 None*"])
    pytester.makeini("[pytest]\nmleval_concurrency = many\n")
    result = pytester.runpytest_subprocess("--co")
    result.stderr.fnmatch_lines(["*ini option mleval_concurrency = 'many' is not a valid int*"])


def test_context_stacks_restore_the_outer_run() -> None:
    outer, inner = object(), object()
    before = context.current_config()
    context.push_config(outer)  # type: ignore[arg-type]
    context.push_config(inner)  # type: ignore[arg-type]
    assert context.current_config() is inner
    context.pop_config(inner)  # type: ignore[arg-type]
    assert context.current_config() is outer
    context.pop_config(outer)  # type: ignore[arg-type]
    assert context.current_config() is before
    item = object()
    context.push_item(item)  # type: ignore[arg-type]
    assert context.current_item() is item
    context.pop_item(item)  # type: ignore[arg-type]


def test_a_nested_in_process_run_gives_back_the_outer_config_and_item(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    outer_config, outer_item = context.current_config(), context.current_item()
    assert outer_config is request.config and outer_item is request.node
    pytester.makepyfile(
        "from pytest_mleval import context\n"
        "def test_inner(request):\n"
        "    assert context.current_config() is request.config\n"
        "    assert context.current_item() is request.node\n"
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert context.current_config() is outer_config
    assert context.current_item() is outer_item


def test_eval_file_glance(tmp_path: Path) -> None:
    assert is_eval_file(Path("a/qa.eval.yaml"), ["*.eval.yaml"])
    assert not is_eval_file(Path("qa.yaml"), ["*.eval.yaml"])
    remote = tmp_path / "r.eval.yaml"
    remote.write_text("target: model:openai/gpt-4o-mini\ncases: []\n")
    local = tmp_path / "l.eval.yaml"
    local.write_text("target: model:hf:tiny\njudge_model: null\ncases: []\n")
    assert eval_file_names_a_model(remote)
    assert not eval_file_names_a_model(local)
    assert not eval_file_names_a_model(tmp_path / "missing.eval.yaml")
    assert names_remote_model("openai/gpt-4o") and not names_remote_model("hf:x")
    assert not names_remote_model(None)
