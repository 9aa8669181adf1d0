"""Choosing what a surface serves, on the data's own time-ordered validation split.

Every contender the bundle can serve scores the held-out requests: the heads' value,
the primary head alone, the logistic regression, LambdaRank, and a *stack*: a logistic
regression on the contenders' log-odds whose weights are fitted on validation, scored
out of fold (folds by request). The surface's ranking metric (NDCG@K over requests with
a positive, graded as LambdaRank's labels) picks the winner; `scorer = "auto"` serves it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from .dataset import POSITION, TrainingSet
from .distributed import ndcg_at
from .heads import HeadsRanker
from .lambdarank import CUTOFF, LambdaRanker, graded_labels, requests_with_positives
from .logistic import LogisticRanker
from .ranker import Ranker, inputs

log = logging.getLogger(__name__)
STACK_FOLDS = 5
# the stack is kept only when it beats the best single contender by this much out of
# fold: fewer moving parts when it does not really help
STACK_MARGIN = 0.002
EPS = 1e-6


@dataclass
class Selection:
    """What `train` chose for one surface and why (written to the bundle manifest)."""

    metric: str
    requests: int  # validation requests with a positive: what the metric averages over
    contenders: dict[str, float]
    scorer: str  # a ranking/scorers.py name: value, blend, logistic, lambdarank
    params: dict[str, Any] = field(default_factory=dict)
    stack_weights: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "requests": self.requests,
            "contenders": {k: round(v, 6) for k, v in self.contenders.items()},
            "scorer": self.scorer,
            "params": self.params,
            "stack_weights": self.stack_weights,
        }


def ranking_metric(
    scores: np.ndarray, grades: np.ndarray, groups: np.ndarray, k: int
) -> tuple[float, int]:
    """Mean NDCG@k of `scores` over the requests (runs of `groups`) with a positive
    grade, and how many there are; (nan, 0) when none has one."""
    rows, kept = requests_with_positives(grades, groups)
    if not len(kept):
        return float("nan"), 0
    return ndcg_at(grades[rows], kept, k)(scores[rows]), len(kept)


def contender_scores(rankers: dict[str, Ranker], valid: TrainingSet) -> dict[str, np.ndarray]:
    """Each contender's score of the validation rows, as served: position 0 for all.
    Log-odds where the contender is a probability, so a stack can add them."""
    rows = valid.frame.assign(**{POSITION: 0.0})
    out: dict[str, np.ndarray] = {}
    heads = rankers.get("heads")
    if isinstance(heads, HeadsRanker):
        x = inputs(rows, heads.features)
        primary = np.clip(heads.predict(x, valid.primary), EPS, 1 - EPS)
        out["heads"] = np.log(primary / (1 - primary))
        if len(heads.predictors) > 1:
            out["value"] = heads.value(x, known={valid.primary: primary})
    logistic = rankers.get("logistic")
    if isinstance(logistic, LogisticRanker):
        out["logistic"] = logistic.logit(rows)
    lambdarank = rankers.get("lambdarank")
    if isinstance(lambdarank, LambdaRanker):
        out["lambdarank"] = lambdarank.score(rows)
    return out


def fit_stack(
    inputs_: dict[str, np.ndarray], positive: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[dict[str, float], np.ndarray]:
    """Non-negative weights of a logistic regression of the primary action on the
    contenders' log-odds (an input whose weight comes out negative is dropped and the
    rest refitted), and its out-of-fold scores (folds of whole requests)."""
    names = list(inputs_)
    request = np.repeat(np.arange(len(groups)), groups)
    fold = np.random.default_rng(seed).integers(0, STACK_FOLDS, len(groups))[request]
    while True:
        x = np.column_stack([inputs_[n] for n in names])
        out_of_fold = np.zeros(len(positive))
        for f in range(STACK_FOLDS):
            fit = fold != f
            if positive[fit].all() or not positive[fit].any():
                continue
            model = LogisticRegression(C=1.0, max_iter=500).fit(x[fit], positive[fit])
            out_of_fold[~fit] = x[~fit] @ model.coef_[0]
        full = LogisticRegression(C=1.0, max_iter=500).fit(x, positive)
        weights = dict(zip(names, full.coef_[0].tolist(), strict=True))
        negative = [n for n in names if weights[n] <= 0]
        if not negative or len(names) == 1:
            return {n: max(w, 0.0) for n, w in weights.items()}, out_of_fold
        names = [n for n in names if n not in negative]


def select(rankers: dict[str, Ranker], valid: TrainingSet, seed: int = 0) -> Selection:
    """The contender with the best validation ranking metric; ties go to the simpler
    (earlier in `contender_scores`' order)."""
    k = CUTOFF[valid.surface]
    grades = graded_labels(valid)
    groups = valid.groups()
    scores = contender_scores(rankers, valid)
    metric = f"ndcg@{k}"
    contenders: dict[str, float] = {}
    requests = 0
    for name, score in scores.items():
        contenders[name], requests = ranking_metric(score, grades, groups, k)
    if requests == 0:
        log.warning("%s: no validation request has a positive; serving the heads' value", metric)
        return Selection(metric, 0, contenders, "value")
    stackable = {n: s for n, s in scores.items() if n != "value"}
    if len(stackable) > 1:
        weights, out_of_fold = fit_stack(stackable, grades > 0, groups, seed)
        contenders["stack"], _ = ranking_metric(out_of_fold, grades, groups, k)
    single = max((n for n in scores), key=lambda n: contenders[n])
    if "stack" in contenders and contenders["stack"] > contenders[single] + STACK_MARGIN:
        params = {"heads": 0.0, "logistic": 0.0, **weights}
        return Selection(metric, requests, contenders, "blend", params, weights)
    return Selection(metric, requests, contenders, _SCORER[single], _params(single))


# contender -> the ranking/scorers.py scorer that serves it
_SCORER = {
    "value": "value",
    "heads": "blend",
    "logistic": "logistic",
    "lambdarank": "lambdarank",
}


def _params(contender: str) -> dict[str, Any]:
    return {"heads": 1.0, "logistic": 0.0} if contender == "heads" else {}
