"""Do the off-policy estimators recover the truth? Replications on the simulator.

The requests are the truth users of a simulated world, each with its feed candidates
and their true click probabilities given a look. The simulator's own logging policy
(epsilon-greedy slates over a noisy heuristic) shows slates. Clicks are drawn from the
simulator's position bias times the true probability. Each target policy is a
deterministic ranking; its true value (expected clicks per request) follows from the
truth exactly. A replication redraws the logging policy's exploration and the clicks;
the estimates of every replication are compared with the true value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import report
from .ope import ESTIMATORS, Logged, estimate, examination_from_random
from .simulator.behaviour import examination
from .simulator.policy import EpsilonGreedySlates, heuristic_rank


@dataclass(frozen=True)
class Requests:
    group: np.ndarray  # request of each candidate row, sorted
    p_click: np.ndarray  # true click probability of each candidate, given a look
    start: np.ndarray  # first row of each request
    size: np.ndarray  # candidates of each request


def requests_from_truth(feed_truth: pd.DataFrame) -> Requests:
    """One request per truth user over that user's candidates."""
    truth = feed_truth.sort_values(["user_id", "post_id"], kind="stable")
    group = pd.factorize(truth["user_id"])[0].astype(np.int64)
    _, start, size = np.unique(group, return_index=True, return_counts=True)
    return Requests(group, truth["p_click"].to_numpy(dtype=np.float64), start, size)


def true_value(req: Requests, rank: np.ndarray, slate: int, decay: float) -> float:
    """Expected clicks per request of the ranking `rank` (0-based within each request)."""
    shown = rank < slate
    return float((examination(rank[shown], decay) * req.p_click[shown]).sum() / len(req.start))


def replicate(
    feed_truth: pd.DataFrame,
    targets: dict[str, np.ndarray],
    logging_scores: np.ndarray,
    model: np.ndarray,
    epsilon: float,
    slate: int,
    decay: float,
    replications: int,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (replication, target, estimator): the estimate, its interval and
    the true value. `targets` and `logging_scores` score each truth row (sorted by
    user, post); `model` is a reward model's click probability given a look, per row."""
    req = requests_from_truth(feed_truth)
    logger = EpsilonGreedySlates(epsilon)
    ranks = {name: heuristic_rank(req.group, scores) for name, scores in targets.items()}
    truth = {name: true_value(req, rank, slate, decay) for name, rank in ranks.items()}
    # the row each target puts in each (request, slot)
    at_slot = {}
    for name, rank in ranks.items():
        table = np.full((len(req.start), slate), -1, dtype=np.int64)
        shown = np.flatnonzero(rank < slate)
        table[req.group[shown], rank[shown]] = shown
        at_slot[name] = table
    out = []
    logging_rank = heuristic_rank(req.group, logging_scores)
    page = np.minimum(req.size, slate)[req.group]  # page length of each row's request
    for r in range(replications):
        rng = np.random.default_rng([seed, r])
        slates = logger.select(rng, req.group, logging_scores, slate)
        row, slot = slates.row, slates.slot
        look = examination(slot, decay)
        click = (rng.random(len(row)) < look * req.p_click[row]).astype(np.float64)
        request = req.group[row]
        # the position-based model: each policy's chance to show the item at all, and
        # the examination curve read off this replication's randomized requests
        shown_anywhere = (1 - epsilon) * (logging_rank[row] < page[row]) + epsilon * page[
            row
        ] / req.size[request]
        exam = examination_from_random(slot, click, slates.explored[request])
        for name, rank in ranks.items():
            target_row = at_slot[name][request, slot]
            common = {
                "request": request,
                "slot": slot,
                "reward": click,
                "predicted": look * model[row],
                "target_predicted": np.where(target_row >= 0, look * model[target_row], 0.0),
            }
            exact = Logged(
                propensity=slates.propensity,
                target=(rank[row] == slot).astype(np.float64),
                **common,
            )
            in_page = rank[row] < page[row]
            target_slot = np.minimum(rank[row], slate - 1)
            position = Logged(
                propensity=shown_anywhere,
                target=in_page.astype(np.float64),
                scale=np.where(in_page, exam[target_slot] / exam[slot], 0.0),
                **common,
            )
            for model_name, logged in (("exact_slot", exact), ("position", position)):
                for est in estimate(logged).estimates.values():
                    out.append(
                        {
                            "replication": r,
                            "target": name,
                            "slate_model": model_name,
                            "estimator": est.estimator,
                            "value": est.value,
                            "ci_low": est.ci_low,
                            "ci_high": est.ci_high,
                            "ess": est.ess,
                            "truth": truth[name],
                        }
                    )
    return pd.DataFrame(out)


def check_on_truth(truth_dir: Path, replications: int = 50) -> pd.DataFrame:
    """`replicate` on a simulated world's truth with the standard set-up: the logging
    policy ranks by the truth with noise (sd 1 on the log scale); the targets are
    `oracle` (the truth), `logger_greedy` (the logging score) and `noisy` (sd 2); DR's
    reward model is the truth with multiplicative noise (sd 0.5 on the log scale)."""
    truth = pd.read_parquet(truth_dir / "feed_truth.parquet")
    truth = truth.sort_values(["user_id", "post_id"], kind="stable").reset_index(drop=True)
    config = json.loads((truth_dir / "meta.json").read_text())["config"]
    rng = np.random.default_rng(42)
    p = truth["p_click"].to_numpy()
    logging_scores = np.log(p) + rng.normal(0, 1.0, len(p))
    targets = {
        "oracle": p,
        "logger_greedy": logging_scores,
        "noisy": np.log(p) + rng.normal(0, 2.0, len(p)),
    }
    model = np.clip(p * np.exp(rng.normal(0, 0.5, len(p))), 0, 1)
    return replicate(
        truth,
        targets,
        logging_scores,
        model,
        epsilon=config["explore_epsilon"],
        slate=config["feed_slate_size"],
        decay=config["params"]["examine_decay"],
        replications=replications,
    )


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Per slate model, target and estimator: coverage of the 95% interval, bias and RMSE."""
    r = results.assign(
        error=results["value"] - results["truth"],
        covered=(results["ci_low"] <= results["truth"]) & (results["truth"] <= results["ci_high"]),
    )
    grouped = r.groupby(["slate_model", "target", "estimator"], sort=False)
    table = grouped.agg(
        truth=("truth", "first"),
        mean_estimate=("value", "mean"),
        bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
        coverage=("covered", "mean"),
        ess=("ess", "median"),
    )
    order = {e: i for i, e in enumerate(ESTIMATORS)}
    return table.sort_index(level=2, key=lambda s: s.map(order), sort_remaining=False)


def html_sections(results: pd.DataFrame) -> list[str]:
    """Per slate model and target: the first replication's estimates with their 95%
    intervals against the true value (dashed), then bias, RMSE and coverage."""
    out = []
    first = results[results["replication"] == results["replication"].min()]
    for (model, target), rows in first.groupby(["slate_model", "target"], sort=False):
        out.append(
            report.section(
                f"{target} ({model.replace('_', ' ')} model): estimates vs truth",
                report.interval_bars(
                    rows["estimator"].tolist(),
                    rows["value"].tolist(),
                    rows["ci_low"].tolist(),
                    rows["ci_high"].tolist(),
                    reference=float(rows["truth"].iloc[0]),
                ),
                note=f"true value {rows['truth'].iloc[0]:.4f} (dashed line), one replication",
            )
        )
    table = summary(results).reset_index()
    out.append(
        report.section(
            f"over {results['replication'].nunique()} replications",
            report.table(
                list(table.columns), [list(r) for r in table.itertuples(index=False, name=None)]
            ),
        )
    )
    return out
