"""Judge calibration: kappa parity with statsmodels, Spearman, the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.inter_rater import cohens_kappa

from pytest_mleval.cli import main
from pytest_mleval.judges.calibrate import calibrate, cohen_kappa


def table(a: list[int], b: list[int], labels: list[int]) -> np.ndarray:
    t = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b, strict=True):
        t[labels.index(x), labels.index(y)] += 1
    return t


@pytest.mark.parametrize("seed", range(20))
def test_kappa_parity_with_statsmodels(seed: int) -> None:
    rng = random.Random(seed)
    human = [rng.randint(1, 5) for _ in range(60)]
    judge = [min(5, max(1, h + rng.choice([-1, 0, 0, 1]))) for h in human]
    labels = sorted(set(human) | set(judge))
    t = table(human, judge, labels)
    assert cohen_kappa(human, judge) == pytest.approx(cohens_kappa(t).kappa, abs=1e-12)
    # statsmodels' quadratic weights use label positions; ours use label values: equal when
    # the labels are consecutive integers
    if labels == list(range(labels[0], labels[-1] + 1)):
        assert cohen_kappa(human, judge, weights="quadratic") == pytest.approx(
            cohens_kappa(t, wt="quadratic").kappa, abs=1e-12
        )
        assert cohen_kappa(human, judge, weights="linear") == pytest.approx(
            cohens_kappa(t, wt="linear").kappa, abs=1e-12
        )


def test_textbook_kappa() -> None:
    # 50 items, two raters yes/no: a=20 both yes, d=15 both no, b=5, c=10 -> kappa 0.4
    a = ["y"] * 25 + ["n"] * 25
    b = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_calibrate_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cal = calibrate([1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 4, 5])
    assert (
        cal.exact_agreement == pytest.approx(5 / 6)
        and cal.spearman is not None
        and cal.spearman > 0.9
    )
    assert cal.confusion[4] == [0, 0, 0, 1, 1]
    f = tmp_path / "labels.jsonl"
    f.write_text(
        "\n".join(json.dumps({"human": h, "judge": j}) for h, j in [(1, 1), (3, 2), (5, 5), (4, 4)])
    )
    assert main(["calibrate", str(f)]) == 0
    out = capsys.readouterr().out
    assert "quadratic kappa" in out and "confusion" in out
    (tmp_path / "bad.jsonl").write_text('{"x": 1}\n')
    assert main(["calibrate", str(tmp_path / "bad.jsonl")]) == 2


def test_labels_csv_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    from pytest_mleval.judges.calibrate import load_pairs

    f = tmp_path / "pairs.csv"
    f.write_bytes(b"\xef\xbb\xbfhuman,judge\r\n1,1\r\n0,1\r\n")
    assert load_pairs(f, human="human", judge="judge") == ([1, 0], [1, 1])


def test_labels_with_a_unicode_line_separator_in_a_column_stay_one_row(tmp_path: Path) -> None:
    from pytest_mleval.judges.calibrate import load_pairs

    f = tmp_path / "pairs.csv"
    f.write_text('human,judge,note\n1,1,"a\u2028b"\n0,1,c\x0cd\n', encoding="utf-8", newline="")
    assert load_pairs(f, human="human", judge="judge") == ([1, 0], [1, 1])
    g = tmp_path / "pairs.jsonl"
    rows = [{"human": 1, "judge": 0, "note": "a\u2028b"}, {"human": 0, "judge": 0, "note": "c"}]
    g.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert load_pairs(g, human="human", judge="judge") == ([1, 0], [0, 0])
