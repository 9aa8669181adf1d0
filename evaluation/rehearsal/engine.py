"""The engine in the loop: feed pages ranked by the real pipeline (ranking/replay.py)
over the simulated world's tables as a deployment would hold them.

At the start of each simulated day of the experiment the engine takes the world's
tables so far, materializes a feature snapshot and a catalog as of that instant (a
daily batch, as a server restarted each night would), and ranks every user who opens
the feed that day. The bundle is trained by `training.train` at the first day of the
experiment on the tables so far, and again every `retrain_days` when asked. Posts made
during a day reach engine-served pages the next day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from circlerank.progress import step
from features.contract import ContractData
from ranking.replay import Replayer
from ranking.strategy import Strategies
from training.bundle import Bundle
from training.config import TrainConfig

from ..simulator.loop import DayLoop
from ..simulator.posts import post_ids
from .so_far import WorldSoFar


@dataclass(frozen=True)
class Ranked:
    """Pages as simulator indices: user, post and rank (from 0), sorted by user, rank."""

    user: np.ndarray
    post: np.ndarray
    rank: np.ndarray


def train_bundle(
    data: ContractData, strategies: Strategies, config: TrainConfig | None, until: pd.Timestamp
) -> Bundle:
    """`circlerank train` on the tables so far, with the strategies' own candidates."""
    from ranking.for_training import ServingCandidates
    from training.train import train

    return train(data, ServingCandidates(strategies), config, until)


@dataclass
class EngineFeed:
    """Ranks the engine's strategies for the users of a running day loop."""

    loop: DayLoop
    strategies: Strategies
    start_day: int
    retrain_days: int | None = None
    train_config: TrainConfig | None = None
    workers: int = 1
    needs_bundle: bool = True
    bundle: Bundle | None = None
    trained_days: list[int] = field(default_factory=list)
    _replayer: Replayer | None = field(default=None, repr=False)
    _day: int = -1
    _post_index: pd.Index | None = field(default=None, repr=False)
    _pages: dict[str, Ranked] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.so_far = WorldSoFar(self.loop)

    def instant(self, day: int) -> pd.Timestamp:
        return self.loop.cfg.start_ts + pd.Timedelta(days=day)

    def refresh(self, day: int) -> None:
        """Make ready to rank as of the start of `day`."""
        at = self.instant(day)
        data = self.so_far.at(at)
        since = day - self.start_day
        due = self.bundle is None or (
            self.retrain_days is not None and since > 0 and since % self.retrain_days == 0
        )
        if self.needs_bundle and due:
            with step(f"rehearse: training a bundle on the logs before day {day}"):
                self.bundle = train_bundle(data, self.strategies, self.train_config, at)
            self.trained_days.append(day)
        self.close()
        self._replayer = Replayer(
            data, self.bundle, at, strategies=self.strategies, workers=self.workers
        )
        self._post_index = pd.Index(post_ids(self.loop.posts))
        self._day, self._pages = day, {}

    def pages(self, day: int, strategy: str, users: np.ndarray, limit: int) -> Ranked:
        """The pages of `strategy` for `users` (simulator indices) as of the day's start;
        ranked once a day per strategy and user."""
        if day != self._day or self._replayer is None:
            raise RuntimeError(f"the engine was refreshed for day {self._day}, not {day}")
        have = self._pages.get(strategy)
        want = np.unique(users)
        if have is not None:
            want = np.setdiff1d(want, have.user)
        if len(want):
            got = self._rank(strategy, want, limit)
            have = got if have is None else _merge(have, got)
            self._pages[strategy] = have
        assert have is not None
        return have

    def _rank(self, strategy: str, users: np.ndarray, limit: int) -> Ranked:
        assert self._replayer is not None and self._post_index is not None
        ids = self.loop.world.users.ids
        ranked = self._replayer.rank("feed", ids[users], limit, strategy).ranked
        user = pd.Index(ids).get_indexer(ranked["user_id"].to_numpy(dtype=object))
        post = self._post_index.get_indexer(ranked["item_id"].to_numpy(dtype=object))
        ok = (user >= 0) & (post >= 0)
        order = np.lexsort((ranked["rank"].to_numpy()[ok], user[ok]))
        return Ranked(
            user[ok][order], post[ok][order], ranked["rank"].to_numpy(dtype=np.int64)[ok][order]
        )

    def close(self) -> None:
        if self._replayer is not None:
            self._replayer.close()
            self._replayer = None


def _merge(a: Ranked, b: Ranked) -> Ranked:
    user = np.concatenate([a.user, b.user])
    rank = np.concatenate([a.rank, b.rank])
    order = np.lexsort((rank, user))
    return Ranked(user[order], np.concatenate([a.post, b.post])[order], rank[order])
