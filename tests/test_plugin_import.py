"""What loading the plugin costs pytest: the package's own modules are not assert-rewritten
(pytest would parse and compile each one again on every fresh install), users' tests are."""

from __future__ import annotations

import pytest


def test_the_package_is_imported_plainly_and_user_asserts_are_still_rewritten(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
import sys
def pytest_sessionfinish(session):
    for name in ("pytest_mleval.collect", "pytest_mleval.session.state"):
        print("LOADER", name, type(sys.modules[name].__spec__.loader).__name__)
"""
    )
    pytester.makepyfile(test_user="def test_user():\n    x = [1, 2]\n    assert x == [1, 3]\n")
    pytester.makepyfile(app="def answer(case):\n    return 'x'\n")
    pytester.makefile(
        ".eval.yaml",
        e="target: python:app:answer\nmetrics: [exact]\ncases: [{id: a, input: x, expected: x}]\n",
    )
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*LOADER pytest_mleval.collect SourceFileLoader*",
            "*LOADER pytest_mleval.session.state SourceFileLoader*",
            # The user's failing assert still shows pytest's introspection.
            "*At index 1 diff: 2 != 3*",
        ]
    )


def test_what_collection_built_is_frozen_out_of_the_cyclic_collector(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        "import gc\ndef pytest_sessionfinish(session):\n    print('FROZEN', gc.get_freeze_count() > 0)\n"
    )
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    plain = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    plain.stdout.fnmatch_lines(["*FROZEN False*"])  # not a run of eval cases: left alone
    pytester.makepyfile(app="def answer(case):\n    return 'x'\n")
    pytester.makefile(
        ".eval.yaml",
        e="target: python:app:answer\nmetrics: [exact]\ncases: [{id: a, input: x, expected: x}]\n",
    )
    evals = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    evals.assert_outcomes(passed=2)
    evals.stdout.fnmatch_lines(["*FROZEN True*"])


def test_a_second_session_in_the_process_leaves_the_package_unrewritten(
    pytester: pytest.Pytester,
) -> None:
    # pytester's in-process runs give each session a new rewrite hook with the plugin's marks
    # back: the package's modules imported there were parsed again (ast.parse), on the main
    # thread and on the native-client warm-up thread at once, and CPython 3.11.7's AST
    # constructor is not thread-safe (gh-106905): "SystemError: AST constructor recursion
    # depth mismatch" failed a judge test's collection 1 run in 4.
    pytester.makeconftest(
        """
def pytest_configure(config):
    hook = config.pluginmanager.rewrite_hook
    print("MARKED", "pytest_mleval" in getattr(hook, "_must_rewrite", ()), type(hook).__name__)
"""
    )
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*MARKED False AssertionRewritingHook*"])
