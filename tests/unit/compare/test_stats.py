"""A/B statistics checked against values computed here, independently of the module."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as scipy_stats

from repohub.eval.paired import (
    BOOTSTRAP_ROUNDS,
    BOOTSTRAP_SEED,
    Pairs,
    chi2_corrected_p,
    exact_binomial_p,
    mcnemar,
    pair,
    statistics,
)


def _binomial_two_sided(b: int, c: int) -> float:
    """Twice the smaller tail of Binomial(b + c, 1/2), summed term by term."""
    n = b + c
    k = min(b, c)
    tail = sum(math.comb(n, i) * 0.5**n for i in range(k + 1))
    return min(1.0, 2 * tail)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 5), (3, 9), (7, 7), (1, 12), (11, 2)])
def test_exact_mcnemar_is_the_two_sided_binomial(b: int, c: int) -> None:
    expected = _binomial_two_sided(b, c) if b + c else 1.0
    assert exact_binomial_p(b, c) == pytest.approx(expected, rel=1e-12)
    if b + c:
        assert exact_binomial_p(b, c) == pytest.approx(
            scipy_stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9
        )


@pytest.mark.parametrize(("b", "c"), [(20, 40), (30, 31), (100, 60), (12, 50)])
def test_chi_square_with_continuity_correction(b: int, c: int) -> None:
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert chi2_corrected_p(b, c) == pytest.approx(scipy_stats.chi2.sf(statistic, 1), rel=1e-9)


def test_small_discordant_counts_use_the_exact_test() -> None:
    assert mcnemar(4, 10)[1] == "exact"
    assert mcnemar(10, 14)[1] == "exact"
    assert mcnemar(10, 15)[1] == "chi2"
    p, method = mcnemar(3, 9)
    assert method == "exact" and p == pytest.approx(_binomial_two_sided(3, 9))


def _predictions(n: int, seed: int) -> tuple[list[int], list[int], list[int]]:
    rng = random.Random(seed)
    truth = [rng.randrange(10) for _ in range(n)]
    base = [t if rng.random() < 0.8 else (t + 1) % 10 for t in truth]
    head = [t if rng.random() < 0.9 else (t + 3) % 10 for t in truth]
    return truth, base, head


def test_statistics_of_paired_predictions() -> None:
    truth, base, head = _predictions(400, 7)
    pairs = Pairs([f"{i}.png" for i in range(400)], truth, base, head, [0.5] * 400, [0.6] * 400)
    found = statistics(pairs)
    base_right = [b == t for b, t in zip(base, truth, strict=True)]
    head_right = [h == t for h, t in zip(head, truth, strict=True)]
    b = sum(1 for x, y in zip(base_right, head_right, strict=True) if x and not y)
    c = sum(1 for x, y in zip(base_right, head_right, strict=True) if y and not x)
    assert (found["base_only"], found["head_only"]) == (b, c)
    assert found["both_right"] + found["both_wrong"] + b + c == 400
    assert found["base_accuracy"] == sum(base_right) / 400
    assert found["difference"] == pytest.approx(sum(head_right) / 400 - sum(base_right) / 400)
    expected_p = (
        _binomial_two_sided(b, c)
        if b + c < 25
        else scipy_stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1)
    )
    assert found["mcnemar_p"] == pytest.approx(expected_p, rel=1e-9)
    # the paired bootstrap, recomputed: same seed, same draws, same percentiles
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    diff = np.array(head_right, dtype=float) - np.array(base_right, dtype=float)
    draws = rng.integers(0, 400, size=(BOOTSTRAP_ROUNDS, 400))
    low, high = np.percentile(diff[draws].mean(axis=1), [2.5, 97.5])
    assert found["ci95"] == pytest.approx([low, high])
    assert low < found["difference"] < high


def test_pairing_joins_on_path_whatever_the_order() -> None:
    base = {
        "paths": ["b", "a", "c"],
        "true": [1, 0, 2],
        "predicted": [1, 1, 2],
        "confidence": [0.9, 0.4, 0.8],
    }
    head = {
        "paths": ["a", "b", "d"],
        "true": [0, 1, 3],
        "predicted": [0, 2, 3],
        "confidence": [0.7, 0.6, 0.5],
    }
    pairs = pair(base, head)
    assert pairs.paths == ["a", "b"]
    assert (pairs.true, pairs.base, pairs.head) == ([0, 1], [1, 1], [0, 2])
    assert (pairs.base_confidence, pairs.head_confidence) == ([0.4, 0.9], [0.7, 0.6])
