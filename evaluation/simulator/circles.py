"""Circles: which exist, who created them, how they are gated, and how good they are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import US_PER_DAY, SimConfig, SimParams
from .credit import NO_SCORE, CreditHistory
from .population import Users, make_ids
from .topics import CITIES, TOPICS


@dataclass
class Circles:
    ids: np.ndarray
    name: np.ndarray
    topic: np.ndarray
    created_us: np.ndarray
    creator: np.ndarray  # user index, -1 = run by the platform
    gate: np.ndarray  # min credit score, -1 = open to all
    is_official: np.ndarray
    quality: np.ndarray
    city: np.ndarray  # index into CITIES for a local circle, -1 = open to every city

    @property
    def n(self) -> int:
        return len(self.ids)


def locality(p: SimParams, user_city: np.ndarray, circle_city: np.ndarray) -> np.ndarray:
    """Join-logit shift of local circles: a pull for locals, a push for everyone else."""
    same = np.where(user_city == circle_city, p.local_same_city, p.local_other_city)
    return np.where(circle_city >= 0, same, 0.0)


def circles_per_topic(users: int, cfg: SimConfig) -> int:
    """Grows mildly (logarithmically) with the population."""
    p = cfg.params
    k = round(3 + 1.2 * np.log10(users / 300))
    return int(np.clip(k, p.circles_per_topic_min, p.circles_per_topic_max))


def make_circles(
    cfg: SimConfig, rng: np.random.Generator, users: Users, credit: CreditHistory
) -> Circles:
    """A few circles per topic; some platform-run, most created by an interested user."""
    p = cfg.params
    base = circles_per_topic(cfg.users, cfg)
    topic: list[int] = []
    slot: list[int] = []
    for ti in range(len(TOPICS)):
        k = int(
            np.clip(base + rng.integers(-1, 2), p.circles_per_topic_min, p.circles_per_topic_max)
        )
        topic += [ti] * k
        slot += list(range(k))
    topic_a = np.array(topic, dtype=np.int64)
    n = len(topic_a)
    official = rng.random(n) < p.official_circle_share
    if official.sum() < 2:  # keep the seed product's official circles in every world
        official[rng.choice(n, size=2, replace=False)] = True
    new = (rng.random(n) < p.new_circle_share) & ~official
    if not new.any():
        new[rng.choice(np.flatnonzero(~official))] = True
    start, days = cfg.start_us, cfg.days
    old_age = rng.uniform(14.0, p.circle_age_days, size=n)
    old_age = np.where(official, rng.uniform(200.0, p.circle_age_days, size=n), old_age)
    new_at = rng.uniform(0.5, max(days - 3.0, 1.0), size=n)
    created = np.where(new, start + new_at * US_PER_DAY, start - old_age * US_PER_DAY)
    created = created.astype(np.int64)

    gated = rng.random(n) < p.gated_share * np.where(official, 2.0, 0.8)
    gate = np.where(gated, rng.choice(np.array(p.gate_levels), size=n), -1).astype(np.int64)
    quality = np.where(official, rng.normal(-0.3, 0.8, size=n), rng.normal(0.0, 1.0, size=n))

    creator = np.full(n, -1, dtype=np.int64)
    local = (rng.random(n) < p.local_circle_share) & ~official
    people = np.arange(users.n_people)
    for ci in np.flatnonzero(~official):
        registered = users.registered_us[people] < created[ci]
        pool = people[registered]
        if len(pool) == 0:
            pool = people
        interest = users.interest[pool, topic_a[ci]]
        bonus = np.where(users.creator_rate[pool] > 0, 1.0, 0.0)
        score = np.log(interest + 1e-6) + bonus + rng.gumbel(size=len(pool))
        chosen = pool[int(np.argmax(score))]
        creator[ci] = chosen
        # a creator never locks themself out: lower the gate to what they qualify for
        own = int(credit.score_at(np.array([chosen]), created[ci])[0])
        if gate[ci] >= 0 and (own == NO_SCORE or own < gate[ci]):
            fits = [g for g in p.gate_levels if own != NO_SCORE and g <= own]
            gate[ci] = max(fits) if fits else -1

    city = np.where(local & (creator >= 0), users.city[np.maximum(creator, 0)], -1)
    names = np.array(
        [
            ("Official " if official[i] else "")
            + TOPICS[topic_a[i]].circle_names[slot[i] % len(TOPICS[topic_a[i]].circle_names)]
            + (f" · {CITIES[city[i]][0]}" if city[i] >= 0 else "")
            for i in range(n)
        ],
        dtype=object,
    )
    return Circles(
        ids=make_ids("c", n, min_width=4),
        name=names,
        topic=topic_a,
        created_us=created,
        creator=creator,
        gate=gate,
        is_official=official,
        quality=quality,
        city=city,
    )
