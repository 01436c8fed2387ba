"""The usage percentiles of a run, computed without numpy, agree with numpy bit for bit."""

from __future__ import annotations

import random

import numpy as np

from pytest_mleval.results.run import percentile


def test_percentile_is_numpys_default_bit_for_bit() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        values = [rng.uniform(-1e4, 1e4) for _ in range(rng.randint(1, 40))]
        for q in (0, 50, 95, 99, 100, rng.uniform(0, 100)):
            assert percentile(values, q) == float(np.percentile(values, q))
    assert percentile([], 50) == 0.0
