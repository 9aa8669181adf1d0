"""Position bias: how likely a user is to look at each slot, estimated from the logs.

Rows the logging policy placed at random (propensity below one half: the greedy policy
would not have put that item there) have the same expected appeal in every slot, so
their click rate per position, relative to the top slot, estimates the examination
probability. Positives are then weighted by its inverse (inverse-propensity weights).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOOR = 0.05  # caps weights at 20: rare deep slots must not dominate the loss


def examination_by_position(frame: pd.DataFrame, label: str) -> np.ndarray:
    """P(examined | position) for positions 0..max, position 0 = 1, non-increasing."""
    random = frame[frame["propensity"] < 0.5]
    if random.empty:
        random = frame
    position = random["position"].to_numpy(dtype=np.int64)
    size = int(frame["position"].max()) + 1
    shown = np.bincount(position, minlength=size).astype(np.float64)
    hits = np.bincount(position, weights=random[label].to_numpy(np.float64), minlength=size)
    rate = np.divide(hits, shown, out=np.zeros(size), where=shown > 0)
    if rate[0] <= 0:
        return np.ones(size)
    exam = np.minimum.accumulate(np.clip(rate / rate[0], FLOOR, 1.0))
    return exam


def inverse_propensity_weights(frame: pd.DataFrame, label: str) -> np.ndarray:
    """1 / P(examined | position) for positives, 1 for the rest."""
    exam = examination_by_position(frame, label)
    position = frame["position"].to_numpy(dtype=np.int64)
    positive = frame[label].to_numpy() > 0
    return np.where(positive, 1.0 / exam[position], 1.0)
