"""Money flows during the logs: payments at merchants (where interests show) and transfers
between people (where ties show)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import US_PER_DAY, SimConfig, rng_for
from .population import Merchants, Users
from .social import Ties
from .topics import (
    ABROAD,
    CHANNEL_MIX_ABROAD,
    CHANNEL_MIX_HOME,
    CHANNELS,
    CITIES,
    HOME_COUNTRY,
    HOME_CURRENCY,
    WHOLE_UNIT_CURRENCIES,
)

# When people pay: a quiet night, a morning bump and meal-time peaks.
HOUR_WEIGHTS = np.array(
    [
        0.4,
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.6,
        1.6,
        2.2,
        1.6,
        1.4,
        2.4,
        3.0,
        2.0,
        1.4,
        1.4,
        1.6,
        2.0,
        2.8,
        2.6,
        2.0,
        1.6,
        1.1,
        0.7,
    ]
)


@dataclass
class Payments:
    user: np.ndarray
    merchant: np.ndarray
    amount: np.ndarray
    ts_us: np.ndarray
    currency: np.ndarray  # str objects
    country: np.ndarray
    channel: np.ndarray


@dataclass
class Transfers:
    sender: np.ndarray
    receiver: np.ndarray
    amount: np.ndarray
    ts_us: np.ndarray


def _times(rng: np.random.Generator, cfg: SimConfig, n: int) -> np.ndarray:
    day = rng.integers(0, cfg.days, size=n)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    within = (hour + rng.random(n)) * (US_PER_DAY / 24)
    return cfg.start_us + day * US_PER_DAY + within.astype(np.int64)


def topic_category_links(cfg: SimConfig, topic: np.ndarray, n_topics: int) -> np.ndarray:
    """(topics, categories) how an interest spreads over categories; rows sum to 1.

    By default a topic shows in its own categories, evenly. With `category_topics` = k
    every topical category is linked instead to k random topics with lognormal weights,
    each topic's links normalised (a topic with no link shows in no spending)."""
    p = cfg.params
    by_topic = np.zeros((n_topics, len(topic)))
    if p.category_topics == 0:
        # within a topic its categories share the interest evenly
        for ci, t in enumerate(topic):
            if t >= 0:
                by_topic[t, ci] = 1.0
        by_topic /= np.maximum(by_topic.sum(axis=1, keepdims=True), 1.0)
        return by_topic
    rng = rng_for(cfg.seed, "category_links")
    for ci in np.flatnonzero(topic >= 0).tolist():
        linked = rng.choice(n_topics, size=p.category_topics, replace=False)
        by_topic[linked, ci] = rng.lognormal(0.0, p.category_link_sigma, size=len(linked))
    total = by_topic.sum(axis=1, keepdims=True)
    return np.divide(by_topic, total, out=np.zeros_like(by_topic), where=total > 0)


def category_mix(
    cfg: SimConfig, rng: np.random.Generator, users: Users, merchants: Merchants
) -> np.ndarray:
    """(people, categories) spend mix: generic base rates, plus interests (each showing in
    spending to a personal degree), plus idiosyncratic tastes."""
    p = cfg.params
    n = users.n_people
    cats = merchants.categories
    topic = np.array(cats.topic)
    generic = np.array(cats.generic_weight)
    generic = generic / generic.sum()
    n_topics = users.interest.shape[1]
    by_topic = topic_category_links(cfg, topic, n_topics)
    footprint = rng.lognormal(0.0, p.spend_footprint_sigma, size=(n, n_topics))
    weight = users.interest[:n] * footprint
    topical = (weight / weight.sum(axis=1, keepdims=True)) @ by_topic
    topical_cats = np.flatnonzero(topic >= 0)
    noise = np.zeros((n, len(topic)))
    noise[:, topical_cats] = rng.dirichlet(np.full(len(topical_cats), p.spend_noise_alpha), n)
    w_t, w_n = p.topical_spend_share, p.spend_noise_share
    return (1.0 - w_t - w_n) * generic[None, :] + w_t * topical + w_n * noise


def make_payments(
    cfg: SimConfig, rng: np.random.Generator, users: Users, merchants: Merchants
) -> Payments:
    """Per person Poisson(activity * rate) payments a day; category from the spend mix,
    merchant mostly in the home city (abroad categories abroad)."""
    p = cfg.params
    n = users.n_people
    counts = rng.poisson(users.activity[:n] * p.payments_per_day * cfg.days)
    user = np.repeat(np.arange(n), counts)
    total = len(user)
    cum = np.cumsum(category_mix(cfg, rng, users, merchants), axis=1)
    cum /= cum[:, -1:]
    u = rng.random(total)
    cat = np.empty(total, dtype=np.int64)
    for lo in range(0, total, 200_000):  # chunks keep the comparison matrix small
        hi = min(lo + 200_000, total)
        cat[lo:hi] = (u[lo:hi, None] > cum[user[lo:hi]]).sum(axis=1)
    cat = np.minimum(cat, cum.shape[1] - 1)

    where = np.array(merchants.categories.where)[cat]
    n_cities = len(CITIES)
    home = users.city[user]
    travelled = rng.random(total) >= p.home_city_share
    other_city = (home + rng.integers(1, n_cities, size=total)) % n_cities
    loc = np.where((where == "domestic") | travelled, other_city, home)
    dest_w = np.array([a[3] for a in ABROAD])
    random_dest = rng.choice(len(ABROAD), size=total, p=dest_w / dest_w.sum())
    fav = rng.random(total) < p.favourite_country_share
    dest = np.where(fav, users.favourite_country[user], random_dest)
    abroad = where == "abroad"
    loc = np.where(abroad, n_cities + dest, loc)

    start = merchants.group_start[cat, loc]
    count = merchants.group_count[cat, loc]
    # squaring a uniform skews choices toward each group's first (popular) merchants
    merchant = start + np.minimum((rng.random(total) ** 2 * count).astype(np.int64), count - 1)

    med = np.array(merchants.categories.median_cny)[cat]
    sig = np.array(merchants.categories.sigma)[cat]
    cny = np.exp(np.log(med) + sig * rng.standard_normal(total))
    fx = np.array([a[2] for a in ABROAD])[dest]
    cur_abroad = np.array([a[1] for a in ABROAD], dtype=object)[dest]
    currency = np.where(abroad, cur_abroad, HOME_CURRENCY)
    amount = np.where(abroad, cny * fx, cny)
    whole = np.isin(currency, list(WHOLE_UNIT_CURRENCIES))
    amount = np.where(
        whole, np.maximum(np.round(amount), 1.0), np.maximum(np.round(amount, 2), 0.01)
    )
    country = np.where(abroad, np.array([a[0] for a in ABROAD], dtype=object)[dest], HOME_COUNTRY)
    ch_home = rng.choice(len(CHANNELS), size=total, p=np.array(CHANNEL_MIX_HOME))
    ch_abroad = rng.choice(len(CHANNELS), size=total, p=np.array(CHANNEL_MIX_ABROAD))
    channel = np.array(CHANNELS, dtype=object)[np.where(abroad, ch_abroad, ch_home)]
    ts = _times(rng, cfg, total)
    order = np.lexsort((user, ts))
    return Payments(
        user=user[order],
        merchant=merchant[order],
        amount=amount[order],
        ts_us=ts[order],
        currency=currency[order].astype(object),
        country=country[order].astype(object),
        channel=channel[order],
    )


def make_transfers(
    cfg: SimConfig, rng: np.random.Generator, ties: Ties, n_people: int
) -> Transfers:
    """Transfers along ties at a rate proportional to tie strength, plus a few to strangers."""
    p = cfg.params
    counts = rng.poisson(ties.strength * p.transfers_per_tie_day * cfg.days)
    tie = np.repeat(np.arange(len(ties.a)), counts)
    lean = rng.uniform(0.2, 0.8, size=len(ties.a))  # who usually pays whom
    forward = rng.random(len(tie)) < lean[tie]
    sender = np.where(forward, ties.a[tie], ties.b[tie])
    receiver = np.where(forward, ties.b[tie], ties.a[tie])
    share = p.stranger_transfer_share
    n_strangers = round(len(tie) * share / (1 - share))
    s_from = rng.integers(0, n_people, size=n_strangers)
    s_to = (s_from + rng.integers(1, n_people, size=n_strangers)) % n_people
    sender = np.concatenate([sender, s_from])
    receiver = np.concatenate([receiver, s_to])
    closeness = np.concatenate([ties.strength[tie], np.zeros(n_strangers)])
    amount = np.exp(np.log(80.0) + 0.8 * closeness + 1.1 * rng.standard_normal(len(sender)))
    amount = np.maximum(np.round(amount, 2), 0.01)
    ts = _times(rng, cfg, len(sender))
    order = np.lexsort((sender, ts))
    return Transfers(sender[order], receiver[order], amount[order], ts[order])
