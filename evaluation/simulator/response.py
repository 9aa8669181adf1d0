"""Creators who respond to the feed: how much a member posts follows what their recent
posts received.

What it models (stated before any strategy was run against it): people post more when
their posts get a response and less when they are ignored, and newcomers are the most
fragile: a first try met by silence is often the last. Concretely, with strength
s = `creator_response` (0 = none: every creator keeps their own rate whatever the feed
shows, the simulator's behaviour without this module):

- Each day's end, a creator who wrote member posts in the last `response_window_days`
  looks at r, the positive actions (click, like, comment, share) those posts got per
  post so far. Their posting rate is multiplied by the drive
  min(`response_max_drive`, ((r + k) / (ref + k)) ** s), with k = `response_prior` and
  ref = `response_reference`: a creator whose posts got `ref` actions each keeps their
  rate, one whose posts were never shown or shown and ignored (r = 0) posts
  (k / (ref + k)) ** s as often (half as often at s = 1 with the defaults). With no
  recent post the drive is kept: nothing new to judge by.
- A new creator (first post inside the logs) judges their start once,
  `new_creator_trial_days` after the first post: if none of their posts so far got a
  positive action, they stop for good with probability
  min(1, s * `new_creator_quit_share`).

The reference is a number of actions, not a share of the world's average, so a feed
that gives creators more response raises posting overall, as it would in a real app.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .config import US_PER_DAY, SimParams
from .posts import Posts

NO_POST = np.iinfo(np.int64).max  # debut of a user who has not posted


@dataclass
class CreatorDrive:
    """Per user: the multiplier of their posting rate, when they first posted, whether
    their start was judged and whether they stopped."""

    params: SimParams
    logs_start_us: int
    drive: np.ndarray
    debut_us: np.ndarray
    judged: np.ndarray
    stopped: np.ndarray

    @classmethod
    def start(
        cls, params: SimParams, n_users: int, posts: Posts, logs_start_us: int
    ) -> CreatorDrive:
        """The state at the start of the logs, from the posts written before them."""
        debut = np.full(n_users, NO_POST, dtype=np.int64)
        member = ~posts.is_official
        np.minimum.at(debut, posts.author[member], posts.created_us[member])
        return cls(
            params,
            logs_start_us,
            np.ones(n_users),
            debut,
            np.zeros(n_users, dtype=bool),
            np.zeros(n_users, dtype=bool),
        )

    def copy(self) -> CreatorDrive:
        return replace(
            self,
            drive=self.drive.copy(),
            debut_us=self.debut_us.copy(),
            judged=self.judged.copy(),
            stopped=self.stopped.copy(),
        )

    def update(
        self, rng: np.random.Generator, now_us: int, posts: Posts, responses: np.ndarray
    ) -> None:
        """Judge the feed's response up to `now_us` (the end of a day). `responses` counts
        the positive actions of each post so far."""
        p = self.params
        s = p.creator_response
        written = ~posts.is_official & (posts.created_us < now_us)
        author, created = posts.author[written], posts.created_us[written]
        got = responses[written].astype(np.float64)
        np.minimum.at(self.debut_us, author, created)

        recent = created >= now_us - p.response_window_days * US_PER_DAY
        n = np.bincount(author[recent], minlength=len(self.drive))
        total = np.bincount(author[recent], weights=got[recent], minlength=len(self.drive))
        posted = n > 0
        r = total[posted] / n[posted]
        k, ref = p.response_prior, p.response_reference
        self.drive[posted] = np.minimum(p.response_max_drive, ((r + k) / (ref + k)) ** s)

        due = (
            ~self.judged
            & (self.debut_us >= self.logs_start_us)
            & (self.debut_us != NO_POST)
            & (self.debut_us <= now_us - p.new_creator_trial_days * US_PER_DAY)
        )
        users = np.flatnonzero(due)
        if len(users):
            heard = np.bincount(author, weights=got, minlength=len(self.drive))[users] > 0
            quits = rng.random(len(users)) < min(1.0, s * p.new_creator_quit_share)
            self.stopped[users[~heard & quits]] = True
            self.judged[users] = True
        self.drive[self.stopped] = 0.0
