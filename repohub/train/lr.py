"""Learning-rate policies, with the formulas of Caffe's SGD solver (plus cosine).

`it` counts optimiser steps from 0 and `max_iter` is the run's total, as in Caffe; the
policy is a pure function so the curve a report shows can be recomputed from the spec.
"""

from __future__ import annotations

import math

from repohub.train.spec import Params


def learning_rate(params: Params, it: int, max_iter: int) -> float:
    base, gamma, power = params.base_lr, params.gamma, params.power
    policy = params.lr_policy
    if policy == "fixed":
        return base
    if policy == "step":
        assert params.step_size is not None  # the spec requires it for this policy
        return base * gamma ** (it // params.step_size)
    if policy == "exp":
        return base * gamma**it
    if policy == "inv":
        return base * (1 + gamma * it) ** (-power)
    progress = min(it, max_iter) / max(max_iter, 1)
    if policy == "poly":
        return base * (1 - progress) ** power
    if policy == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr_policy {policy!r}")
