"""`stat: corpus` gates corpus BLEU, equal to sacrebleu.corpus_bleu, with a bootstrap interval.

Before: the schema took `stat: corpus` but no metric had it, so every such gate failed at the
end of the run ("stat 'corpus' is not available for metric 'bleu'").
"""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pytest
import sacrebleu

from pytest_mleval.cases.suite import load_suite
from pytest_mleval.errors import EvalFileError
from pytest_mleval.metrics import Sample
from pytest_mleval.metrics.registry import score_metric, unknown_metric_problem
from pytest_mleval.results.corpus import corpus_estimate
from pytest_mleval.results.records import CaseResult, MetricScore

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "ran",
    "far",
    "home",
    "quickly",
    "slowly",
    "red",
    "blue",
    "big",
    "small",
]


def _pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(4, 14))]
        hyp = [w if rng.random() < 0.7 else rng.choice(WORDS) for w in ref]
        if rng.random() < 0.3:
            hyp = hyp[: max(1, len(hyp) - 3)]
        out.append((" ".join(hyp), " ".join(ref)))
    return out


def _cases(pairs: list[tuple[str, str]], clusters: int | None = None) -> list[CaseResult]:
    out = []
    for i, (hyp, ref) in enumerate(pairs):
        s = score_metric("bleu", Sample(output=hyp, expected=ref))
        ms = MetricScore(score=s.score, data=s.data)
        cluster = None if clusters is None else f"k{i % clusters}"
        out.append(CaseResult(suite="s", case_id=f"c{i}", scores={"bleu": ms}, cluster=cluster))
    return out


def test_corpus_bleu_equals_sacrebleu_and_is_not_the_mean() -> None:
    pairs = _pairs(60)
    got = corpus_estimate(_cases(pairs), "bleu", confidence=0.95, seed=0)
    assert not isinstance(got, str)
    estimate, low, high, method = got
    want = sacrebleu.corpus_bleu([h for h, _ in pairs], [[r for _, r in pairs]]).score / 100
    assert estimate == pytest.approx(want, abs=1e-12)
    # One perfect long answer and one wrong short one: the mean of sentence BLEU is about
    # 0.5, the corpus's is what its summed counts say.
    odd = [("a b c d e f g h i j", "a b c d e f g h i j"), ("x", "k l m n")]
    got_odd = corpus_estimate(_cases(odd), "bleu", confidence=0.95, seed=0)
    assert not isinstance(got_odd, str)
    want_odd = sacrebleu.corpus_bleu([h for h, _ in odd], [[r for _, r in odd]]).score / 100
    assert got_odd[0] == pytest.approx(want_odd, abs=1e-12)
    assert abs(got_odd[0] - 0.5) > 0.05
    assert 0 <= low < estimate < high <= 1
    assert method == "corpus BLEU, percentile bootstrap (60 cases)"


def test_more_cases_give_a_narrower_interval() -> None:
    small = corpus_estimate(_cases(_pairs(20)), "bleu", confidence=0.95, seed=0)
    large = corpus_estimate(_cases(_pairs(400)), "bleu", confidence=0.95, seed=0)
    assert not isinstance(small, str) and not isinstance(large, str)
    assert large[2] - large[1] < small[2] - small[1]


def test_clusters_are_resampled_whole() -> None:
    got = corpus_estimate(_cases(_pairs(60), clusters=6), "bleu", confidence=0.95, seed=0)
    assert not isinstance(got, str)
    assert got[3] == "corpus BLEU, percentile bootstrap (6 clusters)"


def test_one_case_has_no_interval_narrower_than_the_range() -> None:
    got = corpus_estimate(_cases(_pairs(1)), "bleu", confidence=0.95, seed=0)
    assert not isinstance(got, str) and got[1:3] == (0.0, 1.0)


def test_repeats_add_up_as_segments() -> None:
    pairs = _pairs(10)
    once = _cases(pairs)
    twice = once + [c.model_copy(update={"repeat": 1}) for c in once]
    a = corpus_estimate(once, "bleu", confidence=0.95, seed=0)
    b = corpus_estimate(twice, "bleu", confidence=0.95, seed=0)
    assert not isinstance(a, str) and not isinstance(b, str)
    assert a[0] == pytest.approx(b[0])


def _load(tmp_path: Path, metrics: str, gate: str) -> None:
    path = tmp_path / "c.eval.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            suite: s
            target: python:app:echo
            metrics: {metrics}
            gates:
              - {gate}
            cases:
              - {{id: a, input: x, expected: x}}
            """
        )
    )
    load_suite(path, known_metric=unknown_metric_problem)


@pytest.mark.parametrize(
    ("metrics", "gate"),
    [
        ("[rouge_l]", "{metric: rouge_l, stat: corpus, min: 0.3}"),
        ("[bleu]", "{metric: pass_rate, stat: corpus, min: 0.3}"),
        ("[bleu]", "{metric: nothing, stat: corpus, min: 0.3}"),
    ],
)
def test_corpus_of_a_metric_without_one_is_a_collection_error(
    tmp_path: Path, metrics: str, gate: str
) -> None:
    with pytest.raises(EvalFileError) as exc:
        _load(tmp_path, metrics, gate)
    assert exc.value.line == 5


def test_corpus_of_bleu_loads(tmp_path: Path) -> None:
    _load(tmp_path, "[bleu]", "{metric: bleu, stat: corpus, min: 0.3}")
    _load(tmp_path, "[{bleu: {name: b2, lowercase: true}}]", "{metric: b2, stat: corpus, min: 0.3}")


def test_a_corpus_gate_in_a_run(pytester: pytest.Pytester) -> None:
    pairs = _pairs(30)
    pytester.syspathinsert()
    answers = {f"q{i}": h for i, (h, _) in enumerate(pairs)}
    pytester.makepyfile(
        app=f"ANSWERS = {answers!r}\ndef answer(case):\n    return ANSWERS[case.input]\n"
    )
    rows = [
        json.dumps({"id": f"c{i}", "input": f"q{i}", "expected": r})
        for i, (_, r) in enumerate(pairs)
    ]
    pytester.path.joinpath("rows.jsonl").write_text("\n".join(rows) + "\n")
    want = sacrebleu.corpus_bleu([h for h, _ in pairs], [[r for _, r in pairs]]).score / 100
    pytester.makefile(
        ".eval.yaml",
        s=(
            "suite: s\ntarget: python:app:answer\nmetrics: [bleu]\ndataset: rows.jsonl\n"
            f"gates:\n  - {{metric: bleu, stat: corpus, min: {want + 0.01:.4f}}}\n"
        ),
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # just under the bound: a real gate
    result.stdout.fnmatch_lines([f"*gate s: FAIL corpus(bleu) = {want:.4f}*"])
    run = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    (gate,) = run["gates"]
    assert gate["estimate"] == pytest.approx(want) and not gate["passed"]
