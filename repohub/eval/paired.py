"""Two models' predictions on the same samples: pairing them and testing the difference.

McNemar's test looks only at the discordant samples (one model right, the other wrong):
with few of them the exact two-sided binomial test is used, otherwise the chi-square
statistic with continuity correction. The 95% interval of the accuracy difference is a
paired bootstrap (samples resampled together for both models) with a fixed seed, so the
same predictions always give the same interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

EXACT_BELOW = 25
BOOTSTRAP_ROUNDS = 2000
BOOTSTRAP_SEED = 20240611


@dataclass(frozen=True)
class Pairs:
    """Samples both models predicted, in one order: path, truth, each side's prediction."""

    paths: list[str]
    true: list[int]
    base: list[int]
    head: list[int]
    base_confidence: list[float]
    head_confidence: list[float]


def pair(base: dict[str, Any], head: dict[str, Any]) -> Pairs:
    """Join two `predictions` blocks on sample path (the order of `head`)."""
    index = {p: i for i, p in enumerate(base.get("paths") or [])}
    rows = [(j, index[p]) for j, p in enumerate(head.get("paths") or []) if p in index]
    return Pairs(
        [head["paths"][j] for j, _ in rows],
        [head["true"][j] for j, _ in rows],
        [base["predicted"][i] for _, i in rows],
        [head["predicted"][j] for j, _ in rows],
        [base["confidence"][i] for _, i in rows],
        [head["confidence"][j] for j, _ in rows],
    )


def exact_binomial_p(b: int, c: int) -> float:
    """Two-sided exact p of b successes in b + c trials with p = 1/2."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def chi2_corrected_p(b: int, c: int) -> float:
    """McNemar's chi-square (1 degree of freedom) with continuity correction."""
    if b + c == 0:
        return 1.0
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return math.erfc(math.sqrt(statistic / 2))


def mcnemar(b: int, c: int) -> tuple[float, str]:
    if b + c < EXACT_BELOW:
        return exact_binomial_p(b, c), "exact"
    return chi2_corrected_p(b, c), "chi2"


def bootstrap_ci(
    base_right: np.ndarray, head_right: np.ndarray, rounds: int = BOOTSTRAP_ROUNDS
) -> tuple[float, float]:
    """95% percentile interval of mean(head_right) - mean(base_right), resampling pairs."""
    n = len(base_right)
    if n == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    diff = head_right.astype(np.float64) - base_right.astype(np.float64)
    draws = rng.integers(0, n, size=(rounds, n))
    means = diff[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def statistics(pairs: Pairs) -> dict[str, Any]:
    """What the A/B report states about two models on the same samples."""
    truth = np.asarray(pairs.true)
    base_right = np.asarray(pairs.base) == truth
    head_right = np.asarray(pairs.head) == truth
    n = len(truth)
    base_only = int(np.sum(base_right & ~head_right))
    head_only = int(np.sum(head_right & ~base_right))
    p, method = mcnemar(base_only, head_only)
    base_acc = float(base_right.mean()) if n else 0.0
    head_acc = float(head_right.mean()) if n else 0.0
    low, high = bootstrap_ci(base_right, head_right)
    return {
        "n": n,
        "base_accuracy": base_acc,
        "head_accuracy": head_acc,
        "difference": head_acc - base_acc,
        "ci95": [low, high],
        "both_right": int(np.sum(base_right & head_right)),
        "base_only": base_only,
        "head_only": head_only,
        "both_wrong": int(np.sum(~base_right & ~head_right)),
        "mcnemar_p": p,
        "mcnemar_method": method,
    }


def build_ab_report(raw: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """An A/B job's report: each side's own evaluation report, the paired predictions (one
    row per test sample, in the same order for both) and the statistics over them. Head's
    figures also sit at the top level, where pages read any evaluation report's."""
    from repohub.eval.report import build_report

    sides = {side: build_report(raw[side], {}) for side in ("base", "head")}
    for report in sides.values():
        report.pop("predictions", None)  # kept once, paired, below
    blocks = {side: raw[side].get("predictions") or {} for side in ("base", "head")}
    pairs = pair(blocks["base"], blocks["head"])
    return {
        **sides["head"],  # what a report page shows of any evaluation: head's figures
        "kind": "ab",
        "task": raw["task"],
        **context,
        "classes": sides["head"]["classes"],
        "base": sides["base"],
        "head": sides["head"],
        "paired": {
            "split": blocks["head"].get("split"),
            "paths": pairs.paths,
            "true": pairs.true,
            "base": pairs.base,
            "head": pairs.head,
            "base_confidence": pairs.base_confidence,
            "head_confidence": pairs.head_confidence,
        },
        "statistics": statistics(pairs),
    }


def stored_pairs(report: dict[str, Any]) -> Pairs:
    """The `paired` block of an A/B report back as Pairs."""
    block = report.get("paired") or {}
    return Pairs(
        list(block.get("paths") or []),
        list(block.get("true") or []),
        list(block.get("base") or []),
        list(block.get("head") or []),
        list(block.get("base_confidence") or []),
        list(block.get("head_confidence") or []),
    )
