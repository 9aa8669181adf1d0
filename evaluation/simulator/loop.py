"""The day loop: organic joins, circle suggestions, new posts and feed sessions, one day at
a time. Within a day every surface is processed as one vectorised batch of requests."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from circlerank.progress import track

from .behaviour import examine_probs, feed_probs, join_probs
from .config import US_PER_DAY, US_PER_SECOND, rng_for
from .credit import eligible
from .events import (
    CLICK,
    COMMENT,
    DISMISS,
    FEED,
    HIDE,
    IMPRESSION,
    JOIN,
    LIKE,
    REPORT,
    SHARE,
    SUGGESTIONS,
    EventColumns,
    EventLog,
)
from .memberships import OPEN, ORGANIC, SUGGESTED, Intervals, expand_ranges
from .policy import EpsilonGreedySlates, FeedServer, Sessions, Shown, SlatePolicy
from .posts import Posts, write_posts
from .response import CreatorDrive
from .world import World


@dataclass(frozen=True)
class Policies:
    """The logging policy of each surface (the feed's may pick its own posts)."""

    feed: SlatePolicy | FeedServer
    suggestions: SlatePolicy


@dataclass
class LogResult:
    events: EventColumns
    memberships: Intervals
    posts: Posts
    arms: tuple[str, str]  # the arm logged on each surface (feed, suggestions)


def default_policies(world: World) -> Policies:
    eps = world.config.explore_epsilon
    return Policies(EpsilonGreedySlates(eps), EpsilonGreedySlates(eps))


def _delay(rng: np.random.Generator, n: int, median_s: float) -> np.ndarray:
    """Seconds between two steps of a session, capped well under an hour."""
    secs = np.minimum(rng.lognormal(np.log(median_s), 0.8, size=n), 1800.0)
    return np.maximum((secs * US_PER_SECOND).astype(np.int64), 1)


class DayLoop:
    """Runs the logs over a world; holds only the state the logs change. `run` runs
    every day; a caller that acts between days calls `run_day` and then `logs`."""

    def __init__(self, world: World, policies: Policies | None = None) -> None:
        self.world = world
        self.cfg = world.config
        self.p = world.config.params
        self.policies = policies or default_policies(world)
        self.members = world.memberships
        self.posts = world.posts
        self.clicks = np.zeros(len(world.posts), dtype=np.int64)
        self.responses = np.zeros(len(world.posts), dtype=np.int64)  # positive actions
        self.log = EventLog()
        self.requests = 0
        self.drive = (
            CreatorDrive.start(self.p, world.users.n, world.posts, self.cfg.start_us)
            if self.p.creator_response > 0
            else None
        )

    def run(self) -> LogResult:
        for day in track(range(self.cfg.days), desc="simulate: days", unit="day"):
            self.run_day(day)
        return self.logs()

    def run_day(self, day: int) -> None:
        self._day(day)

    def fork(self, policies: Policies) -> DayLoop:
        """A copy that goes on from here on its own, served by `policies`."""
        twin = copy.copy(self)
        twin.policies = policies
        twin.clicks, twin.responses = self.clicks.copy(), self.responses.copy()
        twin.log = EventLog(list(self.log.batches))
        twin.drive = None if self.drive is None else self.drive.copy()
        return twin

    def logs(self) -> LogResult:
        """What was logged so far (the loop may go on)."""
        arms = (self.policies.feed.name, self.policies.suggestions.name)
        return LogResult(self.log.finish(), self.members, self.posts, arms)

    def _rng(self, part: str, day: int) -> np.random.Generator:
        return rng_for(self.cfg.seed, f"{part}/{day}")

    def _session_times(self, rng: np.random.Generator, ds: int, n: int) -> np.ndarray:
        hours = rng.uniform(6.0, self.p.day_end_hour, size=n)
        return ds + (hours * (US_PER_DAY / 24)).astype(np.int64)

    def _day(self, day: int) -> None:
        w = self.world
        ds = self.cfg.start_us + day * US_PER_DAY
        de = ds + US_PER_DAY
        member = self.members.member_matrix(ds, w.users.n, w.circles.n)
        size = member.sum(axis=0)
        tied = w.ties.tied_counts(member)
        n_organic = self._organic(ds, de)
        self._suggestions(day, ds, size, tied, n_organic)
        drive = None if self.drive is None else self.drive.drive
        fresh = write_posts(
            self.cfg, self._rng("posts", day), w.users, w.circles, self.members, ds, de, drive
        )
        self.posts = self.posts.append(fresh)
        self.clicks = np.concatenate([self.clicks, np.zeros(len(fresh), dtype=np.int64)])
        self.responses = np.concatenate([self.responses, np.zeros(len(fresh), dtype=np.int64)])
        self._feed(day, ds, de)
        if self.drive is not None:
            self.drive.update(self._rng("creator_response", day), de, self.posts, self.responses)

    def _is_member(self, user: np.ndarray, circle: np.ndarray, ts: np.ndarray) -> np.ndarray:
        q, c = self.members.active_at(user, ts)
        hit = np.zeros(len(user), dtype=bool)
        hit[q[c == circle[q]]] = True
        return hit

    def _organic(self, ds: int, de: int) -> int:
        """Apply the day's scheduled organic joins that are still possible; returns how
        many were added (they sit at the end of the membership rows)."""
        w, sched = self.world, self.world.organic
        today = (sched.ts_us >= ds) & (sched.ts_us < de)
        u, c, ts = sched.user[today], sched.circle[today], sched.ts_us[today]
        ok = (w.circles.created_us[c] < ts) & eligible(w.credit.score_at(u, ts), w.circles.gate[c])
        ok &= ~self._is_member(u, c, ts)
        key = u * w.circles.n + c
        first = np.zeros(len(u), dtype=bool)
        first[np.unique(key, return_index=True)[1]] = True
        ok &= first
        n = int(ok.sum())
        self.members = self.members.append(
            Intervals(u[ok], c[ok], ts[ok], np.full(n, OPEN), np.full(n, ORGANIC))
        )
        return n

    def _suggestions(
        self, day: int, ds: int, size: np.ndarray, tied: np.ndarray, n_organic: int
    ) -> None:
        w, p = self.world, self.p
        n = w.users.n_people
        rng = self._rng("suggestion_sessions", day)
        chance = np.minimum(1.0, p.suggestion_sessions_per_day * w.users.activity[:n])
        user = np.flatnonzero(rng.random(n) < chance)
        ts = self._session_times(rng, ds, len(user))
        order = np.lexsort((user, ts))
        user, ts = user[order], ts[order]

        q, c = self.members.active_at(user, ts)
        is_member = np.zeros((len(user), w.circles.n), dtype=bool)
        is_member[q, c] = True
        score = w.credit.score_at(user, ts)
        ok = eligible(score[:, None], w.circles.gate[None, :])
        ok &= w.circles.created_us[None, :] < ts[:, None]
        ok &= ~is_member
        s, circle = np.nonzero(ok)
        heuristic = (
            np.log1p(size[circle]) + p.suggestion_official_boost * w.circles.is_official[circle]
        )
        slates = self.policies.suggestions.select(
            self._rng("suggestion_policy", day),
            s,
            heuristic,
            self.cfg.suggestion_slate_size,
            user[s],
            day,
        )
        s, circle, slot = s[slates.row], circle[slates.row], slates.slot
        u, t = user[s], ts[s]
        request = self._requests(s)
        p_join = join_probs(p, w.users, w.circles, u, circle, tied[u, circle], size[circle])
        out = self._rng("suggestion_outcomes", day)
        p_exam = examine_probs(p, slot)
        examined = out.random(len(s)) < p_exam
        joined = examined & (out.random(len(s)) < p_join)
        dismissed = examined & ~joined & (out.random(len(s)) < p.dismiss_given_no_join)
        join_delay = _delay(out, len(s), 20.0)
        dismiss_delay = _delay(out, len(s), 6.0)

        log, prop = self.log, slates.propensity
        log.add(
            t, u, SUGGESTIONS, circle, IMPRESSION, request, slot, prop, p_exam, p_join, examined
        )
        for mask, action, delay in (
            (joined, JOIN, join_delay),
            (dismissed, DISMISS, dismiss_delay),
        ):
            log.add(
                t[mask] + delay[mask],
                u[mask],
                SUGGESTIONS,
                circle[mask],
                action,
                request[mask],
                slot[mask],
                prop[mask],
            )

        ju, jc, jt = u[joined], circle[joined], t[joined] + join_delay[joined]
        # an organic join scheduled later today for the same circle is superseded
        n_all = len(self.members)
        today = np.zeros(n_all, dtype=bool)
        today[n_all - n_organic :] = True
        key = self.members.user * w.circles.n + self.members.circle
        superseded = today & np.isin(key, ju * w.circles.n + jc)
        self.members = self.members.take(~superseded).append(
            Intervals(ju, jc, jt, np.full(len(ju), OPEN), np.full(len(ju), SUGGESTED))
        )

    def _requests(self, session: np.ndarray) -> np.ndarray:
        """Global request numbers for the sessions that showed something."""
        uniq, inverse = np.unique(session, return_inverse=True)
        out = self.requests + inverse
        self.requests += len(uniq)
        return out

    def _feed(self, day: int, ds: int, de: int) -> None:
        w, p, posts = self.world, self.p, self.posts
        n = w.users.n_people
        rng = self._rng("feed_sessions", day)
        counts = rng.poisson(p.feed_sessions_per_day * w.users.activity[:n])
        user = np.repeat(np.arange(n), counts)
        ts = self._session_times(rng, ds, len(user))
        order = np.lexsort((user, ts))
        user, ts = user[order], ts[order]

        fresh_us = self.cfg.freshness_days * US_PER_DAY
        window = np.flatnonzero(
            (posts.created_us >= ds - fresh_us) & (posts.created_us < de) & (posts.deleted_us > ds)
        )
        window = window[np.argsort(posts.circle[window], kind="stable")]
        w_circle = posts.circle[window]
        q, circle = self.members.active_at(user, ts)
        lo = np.searchsorted(w_circle, circle, side="left")
        hi = np.searchsorted(w_circle, circle, side="right")
        pair, rows = expand_ranges(lo, hi)
        s, post = q[pair], window[rows]
        t = ts[s]
        keep = (posts.created_us[post] >= t - fresh_us) & (posts.created_us[post] < t)
        keep &= (posts.deleted_us[post] > t) & (posts.author[post] != user[s])
        s, post = s[keep], post[keep]

        age = (ts[s] - posts.created_us[post]) / US_PER_DAY
        heuristic = (
            -age
            + p.feed_popularity_weight * np.log1p(self.clicks[post])
            + p.feed_official_boost * posts.is_official[post]
        )
        policy, rng = self.policies.feed, self._rng("feed_policy", day)
        if isinstance(policy, FeedServer):
            sessions = Sessions(day, user, ts, s, post, heuristic, posts)
            shown = policy.serve(rng, sessions, self.cfg.feed_slate_size)
        else:
            slates = policy.select(rng, s, heuristic, self.cfg.feed_slate_size, user[s], day)
            shown = Shown(s[slates.row], post[slates.row], slates.slot, slates.propensity)
        s, post, slot, prop = shown.request, shown.post, shown.slot, shown.propensity
        age = (ts[s] - posts.created_us[post]) / US_PER_DAY
        u, t = user[s], ts[s]
        request = self._requests(s)
        probs = feed_probs(p, w.users, w.circles, posts, w.ties, u, post, age)

        out = self._rng("feed_outcomes", day)
        m = len(s)
        p_exam = examine_probs(p, slot)
        examined = out.random(m) < p_exam
        click = examined & (out.random(m) < probs.click)
        like = click & (out.random(m) < probs.like)
        comment = click & (out.random(m) < probs.comment)
        share = click & (out.random(m) < probs.share)
        hide = examined & ~click & (out.random(m) < probs.hide)
        report = examined & ~click & (out.random(m) < probs.report)
        t_click = t + _delay(out, m, 8.0)
        t_hide = t + _delay(out, m, 5.0)

        log = self.log
        log.add(t, u, FEED, post, IMPRESSION, request, slot, prop, p_exam, probs.click, examined)
        steps = (
            (click, CLICK, t_click),
            (like, LIKE, t_click + _delay(out, m, 15.0)),
            (comment, COMMENT, t_click + _delay(out, m, 60.0)),
            (share, SHARE, t_click + _delay(out, m, 25.0)),
            (hide, HIDE, t_hide),
            (report, REPORT, t_hide + _delay(out, m, 10.0)),
        )
        for mask, action, when in steps:
            log.add(
                when[mask], u[mask], FEED, post[mask], action, request[mask], slot[mask], prop[mask]
            )
        np.add.at(self.clicks, post[click], 1)
        for mask in (click, like, comment, share):
            np.add.at(self.responses, post[mask], 1)


def run_logs(world: World, policies: Policies | None = None) -> LogResult:
    """Run the logging period over `world` and return what was logged."""
    return DayLoop(world, policies).run()
