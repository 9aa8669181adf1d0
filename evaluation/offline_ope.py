"""Off-policy estimates of strategies from the logged requests after TS.

The logged impressions in [TS, TS + window) carry the logging policy's propensities
(the contract's item-slot probabilities), and a positive action on the same request
and item is the reward. Each target strategy ranks every logged user as of TS with the
serving pipeline; the target probability of a logged row is 1 when the strategy's page
puts that item in that slot, else 0. The page is computed once per user at TS, which
approximates the page the strategy would have shown at each request of the window: keep
the window short. DR's reward model is the bundle's primary head (click or join), asked
at the logged slot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError
from features.pit import AS_OF, TS
from ranking.replay import Replayer
from training.dataset import POSITION, PRIMARY
from training.heads import HeadsRanker
from training.ranker import inputs

from . import report
from .ope import Estimates, Logged, estimate

WINDOW = pd.Timedelta(days=1)


def logged_requests(
    events: pd.DataFrame, surface: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Impressions in [start, end) with a request id, slot and propensity, each with its
    reward (1 when the same request has a positive action on the item)."""
    e = events[events["surface"] == surface]
    ts = e["ts"].astype(TS)
    e = e[((ts >= start) & (ts < end)).to_numpy()]
    shown = e[(e["action"] == "impression").to_numpy()].dropna(subset=["request_id", "position"])
    positive = e[(e["action"] == PRIMARY[surface]).to_numpy()]
    hit = set(zip(positive["request_id"], positive["item_id"], strict=True))
    reward = [(r, i) in hit for r, i in zip(shown["request_id"], shown["item_id"], strict=True)]
    out = shown[["request_id", "user_id", "item_id", "position", "propensity"]].copy()
    out["position"] = out["position"].astype(np.int64)
    out["reward"] = np.asarray(reward, dtype=np.float64)
    return out.reset_index(drop=True)


def _reward_model(
    replayer: Replayer, surface: str, pairs: pd.DataFrame
) -> dict[tuple[str, str, int], float] | None:
    """The primary head's probability for each (user, item, slot) asked, or None when
    the bundle has no heads for the surface."""
    bundle = replayer.bundle
    if bundle is None or "heads" not in bundle.rankers.get(surface, {}):
        return None
    heads = bundle.ranker(surface, "heads")
    assert isinstance(heads, HeadsRanker)
    head = heads.predictors[PRIMARY[surface]]
    distinct = pairs.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)
    rows = distinct[["user_id", "item_id"]].assign(**{AS_OF: replayer.at})
    features = replayer.features.for_requests(rows, surface)
    out: dict[tuple[str, str, int], float] = {}
    for slot in sorted(pairs["position"].unique()):
        p = head.predict(inputs(features.assign(**{POSITION: float(slot)}), heads.features))
        for user, item, value in zip(distinct["user_id"], distinct["item_id"], p, strict=True):
            out[(user, item, int(slot))] = float(value)
    return out


def ope_from_logs(
    replayer: Replayer,
    surface: str,
    strategies: list[str],
    window: pd.Timedelta = WINDOW,
    clip: float = 10.0,
) -> tuple[pd.DataFrame, dict[str, Estimates]]:
    """The logged requests used, and each strategy's estimates (reward per request)."""
    logs = logged_requests(replayer.data["events"], surface, replayer.at, replayer.at + window)
    if logs.empty:
        raise ConfigError(
            f"no logged {surface} impressions with request ids in [{replayer.at}, "
            f"{replayer.at + window}): nothing to estimate from"
        )
    users = np.asarray(pd.unique(logs["user_id"]), dtype=object)
    slate = int(logs["position"].max()) + 1
    request = pd.factorize(logs["request_id"])[0]
    pages = {
        name: replayer.rank(surface, users, slate, name).ranked[["user_id", "item_id", "rank"]]
        for name in strategies
    }
    wanted = pd.concat(
        [logs[["user_id", "item_id", "position"]]]
        + [
            logs[["user_id", "position"]].merge(
                page.rename(columns={"rank": "position"}), on=["user_id", "position"]
            )
            for page in pages.values()
        ],
        ignore_index=True,
    )
    model = _reward_model(replayer, surface, wanted)
    out = {}
    for name, page in pages.items():
        target_item = logs[["user_id", "position"]].merge(
            page.rename(columns={"rank": "position", "item_id": "target_item"}),
            on=["user_id", "position"],
            how="left",
        )["target_item"]
        target = target_item.to_numpy(dtype=object) == logs["item_id"].to_numpy(dtype=object)
        predicted = target_predicted = None
        if model is not None:
            predicted = np.array(
                [
                    model[(u, i, k)]
                    for u, i, k in zip(
                        logs["user_id"], logs["item_id"], logs["position"], strict=True
                    )
                ]
            )
            target_predicted = np.array(
                [
                    model.get((u, t, k), 0.0) if isinstance(t, str) else 0.0
                    for u, t, k in zip(logs["user_id"], target_item, logs["position"], strict=True)
                ]
            )
        logged = Logged(
            request=request,
            slot=logs["position"].to_numpy(),
            reward=logs["reward"].to_numpy(),
            propensity=logs["propensity"].to_numpy(dtype=np.float64, na_value=np.nan),
            target=target.astype(np.float64),
            predicted=predicted,
            target_predicted=target_predicted,
        )
        out[name] = estimate(logged, clip=clip)
    return logs, out


def ope_json(logs: pd.DataFrame, estimates: dict[str, Estimates]) -> dict[str, object]:
    warnings = sorted({w for e in estimates.values() for w in e.warnings})
    return {
        "requests": int(logs["request_id"].nunique()),
        "logged_value": float(logs.groupby("request_id")["reward"].sum().mean()),
        "strategies": {
            name: {
                k: {"value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "ess": v.ess}
                for k, v in e.estimates.items()
            }
            for name, e in estimates.items()
        },
        "warnings": warnings,
    }


def ope_sections(logs: pd.DataFrame, estimates: dict[str, Estimates]) -> list[str]:
    """Per estimator: each strategy's estimate with its interval, against the logging
    policy's observed value (dashed)."""
    logged = float(logs.groupby("request_id")["reward"].sum().mean())
    out = []
    names = list(estimates)
    for estimator in ("snips", "dr", "ips"):
        have = [n for n in names if estimator in estimates[n].estimates]
        if not have:
            continue
        cells = [estimates[n].estimates[estimator] for n in have]
        out.append(
            report.section(
                f"off-policy: {estimator}, positives per request",
                report.interval_bars(
                    have,
                    [c.value for c in cells],
                    [c.ci_low for c in cells],
                    [c.ci_high for c in cells],
                    reference=logged,
                ),
                note=f"{logs['request_id'].nunique():,} logged requests; dashed: the logging "
                f"policy's observed value {logged:.4f}; effective samples "
                + ", ".join(f"{n} {c.ess:.0f}" for n, c in zip(have, cells, strict=True)),
            )
        )
    return out
