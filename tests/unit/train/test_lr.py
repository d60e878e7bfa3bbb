"""Learning-rate policies follow Caffe's formulas."""

from __future__ import annotations

import math

import pytest

from repohub.train.lr import learning_rate
from repohub.train.spec import Params


def _lr(policy: str, it: int, max_iter: int = 100, **extra: float) -> float:
    params = Params(base_lr=0.1, gamma=0.5, power=2.0, lr_policy=policy, **extra)  # type: ignore[arg-type]
    return learning_rate(params, it, max_iter)


@pytest.mark.parametrize(
    ("policy", "it", "expected", "extra"),
    [
        ("fixed", 50, 0.1, {}),
        ("step", 25, 0.1 * 0.5**2, {"step_size": 10}),
        ("exp", 3, 0.1 * 0.5**3, {}),
        ("inv", 4, 0.1 * (1 + 0.5 * 4) ** -2.0, {}),
        ("poly", 50, 0.1 * (1 - 0.5) ** 2.0, {}),
        ("poly", 100, 0.0, {}),
        ("cosine", 50, 0.05, {}),
        ("cosine", 0, 0.1, {}),
    ],
)
def test_policies(policy: str, it: int, expected: float, extra: dict[str, int]) -> None:
    assert math.isclose(_lr(policy, it, **extra), expected, abs_tol=1e-12)
