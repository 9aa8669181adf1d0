"""Choosing what a surface serves, on the data's own time-ordered validation split.

Every contender the bundle can serve scores the held-out impressions: the heads'
value, the primary head alone, the logistic regression, LambdaRank, and a *stack*: a
logistic regression on the contenders' log-odds, its non-negative weights fitted on
validation and scored out of fold (five folds of whole requests) — of the pointwise
models only (the primary head and the logistic regression): LambdaRank's scores compare
only within a request.

What they are judged on: the impressions the logging policy placed at random
(propensity below one half: the greedy policy would not have put them there). Those
show candidates as serving meets them, not only those the old policy liked; on the
policy's own picks every contender ranks alike. They are judged by AUC of the primary
action within each fold (pooled out-of-fold scores would mix the stack's folds, fitted
apart), since a handful of positives per request leaves a per-request metric too noisy
to choose by; NDCG@K over the randomized requests is recorded beside it. Without enough
randomized positives, every impression is used. The stack, which weighs every model by
what it adds, is served unless a single model beats it in every fold. `scorer = "auto"`
serves the winner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from .dataset import POSITION, TrainingSet
from .distributed import ndcg_at
from .heads import HeadsRanker
from .lambdarank import CUTOFF, LambdaRanker, graded_labels, requests_with_positives
from .logistic import LogisticRanker
from .ranker import Ranker, inputs

log = logging.getLogger(__name__)
Metric = Literal["auc", "ndcg"]
METRICS: dict[str, str] = {
    "auc": "auc of the primary action, mean over request folds",
    "ndcg": "ndcg@k of the requests, mean over request folds",
}
FOLDS = 5
EPS = 1e-6
RANDOMIZED = 0.5  # propensity below which the logging policy placed a row at random
# randomized positives needed to judge on them alone: two per fold on average. The
# logging policy's own picks are no substitute even when they hold many more: in a
# world where friends drive joins, 92% of joins came from its picks and judging on them
# preferred the join head alone (0.888 share of oracle against the logistic 0.902);
# the stack's shrinkage and the every-fold rule carry the noise of few positives
MIN_POSITIVES = 10
# how many positives an equal blend counts for against the stack's fitted weights
# (chosen on the tuning world, baseline seed 1: suggestions' 90 randomized positives)
PRIOR_POSITIVES = 200
# the stack adds log-odds of pointwise models only: LambdaRank's score is identified only
# within a request (its loss ignores a per-request shift), so a weight fitted across
# requests means nothing; it still competes alone
STACKED = ("heads", "logistic")
# contender -> (the ranking/scorers.py scorer that serves it, its params)
SERVED: dict[str, tuple[str, dict[str, Any]]] = {
    "value": ("value", {}),
    "heads": ("blend", {"heads": 1.0, "logistic": 0.0}),
    "logistic": ("logistic", {}),
    "lambdarank": ("lambdarank", {}),
}


@dataclass
class Selection:
    """What `train` chose for one surface and why (written to the bundle manifest)."""

    judged_on: str  # "randomized impressions" or "all impressions"
    positives: int  # positives among them
    contenders: dict[str, float]  # per contender: the choosing metric, mean over folds
    ndcg: dict[str, float]  # per contender, over the judged requests with a positive
    scorer: str  # a ranking/scorers.py name: value, blend, logistic, lambdarank
    params: dict[str, Any] = field(default_factory=dict)
    stack_weights: dict[str, float] = field(default_factory=dict)
    metric: Metric = "auc"

    def to_dict(self) -> dict[str, Any]:
        return {
            "judged_on": self.judged_on,
            "positives": self.positives,
            "metric": METRICS[self.metric],
            "contenders": {k: round(v, 6) for k, v in self.contenders.items()},
            "ndcg": {k: round(v, 6) for k, v in self.ndcg.items()},
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


def request_folds(groups: np.ndarray, seed: int) -> np.ndarray:
    """A fold (0..FOLDS-1) per row, whole requests (runs of `groups`) together."""
    return np.repeat(np.random.default_rng(seed).integers(0, FOLDS, len(groups)), groups)


def stack_weights(x: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Non-negative weights of the columns of `x` (contenders' log-odds) for the primary
    action: a logistic regression's (a column whose weight comes out non-positive is
    dropped and the rest refitted), shrunk toward an equal blend of the kept columns in
    standard units, as if the equal blend had PRIOR_POSITIVES positives behind it. A
    fitted weight rests on few positives on a small surface; an equal blend is hard to
    beat there, and the data moves away from it as the evidence grows."""
    keep = np.ones(x.shape[1], dtype=bool)
    while True:
        fitted = np.zeros(x.shape[1])
        fitted[keep] = LogisticRegression(max_iter=500).fit(x[:, keep], positive).coef_[0]
        harmful = keep & (fitted <= 0)
        if not harmful.any() or keep.sum() == 1:
            break
        keep &= ~harmful
    fitted = np.maximum(fitted, 0.0)
    std = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    equal = np.where(keep, 1.0 / std, 0.0)
    equal *= (fitted * std).sum() / max((equal * std).sum(), EPS)
    share = positive.sum() / (positive.sum() + PRIOR_POSITIVES)
    return np.asarray(share * fitted + (1 - share) * equal)


def fit_stack(
    inputs_: dict[str, np.ndarray], positive: np.ndarray, fold: np.ndarray
) -> tuple[dict[str, float], np.ndarray]:
    """The stack's weights (`stack_weights` on every row) and its out-of-fold scores
    (each fold scored by weights fitted on the others)."""
    names = list(inputs_)
    x = np.column_stack([inputs_[n] for n in names])
    out_of_fold = np.zeros(len(positive))
    for f in np.unique(fold):
        fit = fold != f
        if positive[fit].any() and not positive[fit].all():
            out_of_fold[~fit] = x[~fit] @ stack_weights(x[fit], positive[fit])
    weights = stack_weights(x, positive)
    return {n: float(w) for n, w in zip(names, weights, strict=True) if w > 0}, out_of_fold


def fold_aucs(score: np.ndarray, positive: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """AUC within each fold (NaN for a fold without both classes)."""
    out = np.full(FOLDS, np.nan)
    for f in range(FOLDS):
        mine = fold == f
        if 0 < positive[mine].sum() < mine.sum():
            out[f] = roc_auc_score(positive[mine], score[mine])
    return out


def fold_ndcgs(
    score: np.ndarray, grades: np.ndarray, groups: np.ndarray, fold: np.ndarray, k: int
) -> np.ndarray:
    """Mean NDCG@k of the requests with a positive within each fold (NaN for a fold
    without one)."""
    out = np.full(FOLDS, np.nan)
    request_fold = fold[np.r_[0, np.cumsum(groups)[:-1]]]
    for f in range(FOLDS):
        mine = fold == f
        value, requests = ranking_metric(score[mine], grades[mine], groups[request_fold == f], k)
        if requests:
            out[f] = value
    return out


def fold_auc(score: np.ndarray, positive: np.ndarray, fold: np.ndarray) -> float:
    """AUC within each fold that has both classes, averaged over them."""
    aucs = fold_aucs(score, positive, fold)
    return float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")


def judged_rows(valid: TrainingSet, positive: np.ndarray) -> tuple[np.ndarray, str]:
    """The rows contenders are judged on: the randomized ones when they hold at least
    MIN_POSITIVES positives, else all."""
    propensity = valid.frame["propensity"].to_numpy(np.float64, na_value=1.0)
    randomized = propensity < RANDOMIZED
    if positive[randomized].sum() >= MIN_POSITIVES:
        return randomized, "randomized impressions"
    return np.ones(len(positive), dtype=bool), "all impressions"


def select(
    rankers: dict[str, Ranker], valid: TrainingSet, seed: int = 0, metric: Metric = "auc"
) -> Selection:
    """The stack, unless a single contender beats it in every fold (by chance alone
    that happens one time in 32), then the best such one; without a stack, the best
    single contender (ties to the earlier one). Judged by `metric` in each fold: the
    primary action's AUC, or NDCG@K of the requests (for ranked lists of candidates
    with a positive each, where a per-request metric is not noisy and LambdaRank's
    scores, which compare only within a request, get a fair judge)."""
    rows, judged_on = judged_rows(valid, graded_labels(valid) > 0)
    # only the judged rows are scored; rows stay sorted by request, so runs are requests
    judged = TrainingSet(valid.surface, valid.frame[rows].reset_index(drop=True), valid.features)
    grades = graded_labels(judged)
    scores = contender_scores(rankers, judged)
    groups = judged.groups()
    positive = grades > 0
    if not positive.any() or positive.all():
        log.warning("no validation positives to choose by; serving the heads' value")
        return Selection(judged_on, int(positive.sum()), {}, {}, "value", metric=metric)
    fold = request_folds(groups, seed)
    stackable = {n: scores[n] for n in STACKED if n in scores}
    weights: dict[str, float] = {}
    if len(stackable) > 1:
        weights, scores["stack"] = fit_stack(stackable, positive, fold)
    k = CUTOFF[valid.surface]
    per_fold = {
        name: fold_aucs(score, positive, fold)
        if metric == "auc"
        else fold_ndcgs(score, grades, groups, fold, k)
        for name, score in scores.items()
    }
    means = {name: float(np.nanmean(a)) for name, a in per_fold.items()}
    ndcg = {name: ranking_metric(score, grades, groups, k)[0] for name, score in scores.items()}
    singles = [n for n in scores if n != "stack"]
    if "stack" in scores:
        stack = per_fold["stack"]
        singles = [
            n
            for n in singles
            if np.all(per_fold[n][np.isfinite(stack)] > stack[np.isfinite(stack)])
        ]
    if not singles:
        params = {"heads": 0.0, "logistic": 0.0, **weights}
        return Selection(
            judged_on, int(positive.sum()), means, ndcg, "blend", params, weights, metric
        )
    best = max(singles, key=lambda n: (np.nan_to_num(means[n], nan=-np.inf), -singles.index(n)))
    scorer, params = SERVED[best]
    return Selection(judged_on, int(positive.sum()), means, ndcg, scorer, params, metric=metric)
