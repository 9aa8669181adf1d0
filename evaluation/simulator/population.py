"""Latent people and merchants: who users are, what they care about, where they shop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import US_PER_DAY, SimConfig
from .topics import ABROAD, CITIES, TOPIC_INDEX, TOPICS, CategoryTable, category_table

PLATFORM_CITY = "Hangzhou"


def make_ids(prefix: str, n: int, min_width: int = 5) -> np.ndarray:
    """Opaque, sortable string ids: prefix + zero-padded counter."""
    width = max(min_width, len(str(max(n - 1, 0))))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)], dtype=object)


@dataclass
class Users:
    """Latent state of every user; platform accounts are the last rows (is_platform)."""

    ids: np.ndarray
    n_people: int
    interest: np.ndarray  # (n, topics), rows sum to 1 for people, 0 for platform accounts
    activity: np.ndarray  # mean 1 for people
    city: np.ndarray  # index into CITIES
    is_student: np.ndarray
    birth_year: np.ndarray  # -1 = unknown
    registered_us: np.ndarray
    credit_latent: np.ndarray
    click_bias: np.ndarray
    join_bias: np.ndarray
    creator_rate: np.ndarray  # posts per membership-day at full interest; 0 = never posts
    creator_since_us: np.ndarray
    skill: np.ndarray  # author skill: makes posts better and more clickable
    favourite_country: np.ndarray  # index into ABROAD
    is_platform: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def make_users(cfg: SimConfig, rng: np.random.Generator) -> Users:
    """Draw the latent population: interests, activity, credit, creator traits."""
    p = cfg.params
    n, n_plat = cfg.users, p.platform_accounts
    n_topics = len(TOPICS)
    start_us = cfg.start_us
    start_year = cfg.start_ts.year

    city_w = np.array([w for _, w in CITIES])
    city = rng.choice(len(CITIES), size=n, p=city_w / city_w.sum())
    is_student = rng.random(n) < p.student_share
    age = np.where(
        is_student,
        rng.integers(18, 25, size=n),
        np.clip(np.round(rng.normal(36.0, 11.0, size=n)), 22, 72).astype(np.int64),
    )
    birth_year = (start_year - age).astype(np.int64)

    popularity = np.array([t.popularity for t in TOPICS])
    alpha = p.interest_concentration * popularity / popularity.mean()
    raw = rng.gamma(np.broadcast_to(alpha, (n, n_topics)))
    campus, parenting = TOPIC_INDEX["campus_life"], TOPIC_INDEX["parenting"]
    # Students care about campus life; non-students and the young rarely about the other.
    raw[:, campus] = np.where(
        is_student,
        raw[:, campus] + p.student_campus_boost * rng.uniform(0.5, 1.0, size=n),
        raw[:, campus] * 0.05,
    )
    raw[:, parenting] = np.where(age < 26, raw[:, parenting] * 0.1, raw[:, parenting])
    raw += 1e-9
    interest = raw / raw.sum(axis=1, keepdims=True)

    sigma = p.activity_sigma
    activity = rng.lognormal(-(sigma**2) / 2, sigma, size=n)
    span_us = int(p.register_years * 365 * US_PER_DAY)
    young = np.where(is_student, 0.4, 1.0)  # students registered more recently
    registered_us = start_us - US_PER_DAY - (rng.random(n) * young * span_us).astype(np.int64)

    credit = (
        rng.normal(p.credit_mean, p.credit_sd, size=n)
        + p.credit_overseas_bonus * interest[:, TOPIC_INDEX["overseas_life"]]
        + p.credit_investing_bonus * interest[:, TOPIC_INDEX["investing"]]
    )
    credit = np.clip(credit, 350.0, 950.0)
    click_bias = rng.normal(0.0, p.click_user_sd, size=n)
    join_bias = rng.normal(0.0, p.sjoin_user_sd, size=n)

    is_creator = rng.random(n) < p.creator_share * np.clip(activity, 0.3, 2.0)
    rate = rng.lognormal(np.log(p.creator_rate_median), p.creator_rate_sigma, size=n)
    creator_rate = np.where(is_creator, rate, 0.0)
    late = rng.random(n) < p.late_creator_share
    since = start_us + (rng.random(n) * cfg.days * US_PER_DAY).astype(np.int64)
    creator_since_us = np.where(late, since, np.iinfo(np.int64).min)
    skill = rng.normal(0.0, p.skill_sd, size=n)
    dest_w = np.array([a[3] for a in ABROAD])
    favourite = rng.choice(len(ABROAD), size=n, p=dest_w / dest_w.sum())

    def pad(a: np.ndarray, value: float | int | bool) -> np.ndarray:
        return np.concatenate([a, np.full(n_plat, value, dtype=a.dtype)])

    ids = np.concatenate([make_ids("u", n), np.array([f"official_{i}" for i in range(n_plat)])])
    plat_city = next(i for i, (c, _) in enumerate(CITIES) if c == PLATFORM_CITY)
    return Users(
        ids=ids.astype(object),
        n_people=n,
        interest=np.vstack([interest, np.zeros((n_plat, n_topics))]),
        activity=pad(activity, 0.0),
        city=pad(city, plat_city),
        is_student=pad(is_student, False),
        birth_year=pad(birth_year, -1),
        registered_us=pad(registered_us, start_us - int(4 * 365 * US_PER_DAY)),
        credit_latent=pad(credit, 0.0),
        click_bias=pad(click_bias, 0.0),
        join_bias=pad(join_bias, 0.0),
        creator_rate=pad(creator_rate, 0.0),
        creator_since_us=pad(creator_since_us, np.iinfo(np.int64).min),
        skill=pad(skill, 0.0),
        favourite_country=pad(favourite, 0),
        is_platform=pad(np.zeros(n, dtype=bool), True),
    )


@dataclass
class Merchants:
    """Merchants grouped by (category, location); location < n_cities is a domestic city,
    otherwise n_cities + index into ABROAD."""

    ids: np.ndarray
    category: np.ndarray
    location: np.ndarray
    group_start: np.ndarray  # (categories, locations)
    group_count: np.ndarray
    categories: CategoryTable


def make_merchants(cfg: SimConfig, rng: np.random.Generator) -> Merchants:
    """Every local category has merchants in every city; abroad ones in every country."""
    cats = category_table()
    n_cities, n_loc = len(CITIES), len(CITIES) + len(ABROAD)
    scale = cfg.users / 1000.0 * cfg.params.merchants_per_1000_users
    counts = np.zeros((len(cats.names), n_loc), dtype=np.int64)
    for ci, where in enumerate(cats.where):
        if where == "abroad":
            counts[ci, n_cities:] = max(2, round(scale / 2))
        else:
            generic = cats.topic[ci] < 0
            counts[ci, :n_cities] = max(2, round(scale * (3.0 if generic else 1.0)))
    # a little spread so cities do not all look alike
    counts = np.maximum(1, np.round(counts * rng.uniform(0.7, 1.3, size=counts.shape))).astype(
        np.int64
    ) * (counts > 0)
    flat = counts.ravel()
    group_start = (np.cumsum(flat) - flat).reshape(counts.shape)
    total = int(flat.sum())
    group = np.repeat(np.arange(flat.size), flat)
    return Merchants(
        ids=make_ids("m", total),
        category=group // n_loc,
        location=group % n_loc,
        group_start=group_start,
        group_count=counts,
        categories=cats,
    )
