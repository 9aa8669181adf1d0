"""Turning the simulated world into contract tables and writing them deterministically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from circlerank.errors import OutputError

from .activity import Payments
from .columns import contract_frame, int_col, str_col, ts_col
from .events import ACTION_NAMES, FEED, SURFACE_NAMES, event_ids
from .loop import LogResult
from .memberships import OPEN
from .population import Merchants, make_ids
from .posts import NEVER, post_ids
from .topics import ABROAD, CITIES, MEDIA_TYPES, TOPIC_NAMES
from .world import World

TABLE_ORDER = (
    "users",
    "merchants",
    "circles",
    "posts",
    "payments",
    "transfers",
    "credit_scores",
    "social_edges",
    "memberships",
    "events",
)


def world_tables(world: World, logs: LogResult) -> dict[str, pd.DataFrame]:
    """Every contract table of the simulated world (no merchants and payments in a world
    without payments)."""
    tables = {**static_tables(world), **log_tables(world, logs)}
    return {name: tables[name] for name in TABLE_ORDER if name in tables}


def static_tables(world: World) -> dict[str, pd.DataFrame]:
    """The tables the logs do not change: users, merchants, circles, payments,
    transfers, credit scores and social edges."""
    u, m, c = world.users, world.merchants, world.circles
    cities = np.array([name for name, _ in CITIES], dtype=object)
    tables: dict[str, pd.DataFrame] = {}
    tables["users"] = contract_frame(
        "users",
        {
            "user_id": str_col(u.ids),
            "registered_at": ts_col(u.registered_us),
            "city": str_col(cities[u.city]),
            "birth_year": int_col(u.birth_year, null=u.birth_year < 0),
            "is_student": pd.Series(u.is_student, dtype=bool),
        },
    )
    if world.payments is not None:  # a world without payments has no merchants either
        tables["merchants"] = _merchants(m, cities)
    tables["circles"] = contract_frame(
        "circles",
        {
            "circle_id": str_col(c.ids),
            "name": str_col(c.name),
            "topic": str_col(np.array(TOPIC_NAMES, dtype=object)[c.topic]),
            "created_at": ts_col(c.created_us),
            "creator_id": str_col(u.ids[np.maximum(c.creator, 0)], null=c.creator < 0),
            "min_credit_score": int_col(c.gate, null=c.gate < 0),
            "is_official": pd.Series(c.is_official, dtype=bool),
        },
    )
    if world.payments is not None:
        tables["payments"] = _payments(world.payments, u.ids, m.ids)
    tr = world.transfers
    tables["transfers"] = contract_frame(
        "transfers",
        {
            "transfer_id": str_col(make_ids("t", len(tr.sender), min_width=7)),
            "sender_id": str_col(u.ids[tr.sender]),
            "receiver_id": str_col(u.ids[tr.receiver]),
            "amount": pd.Series(tr.amount, dtype=np.float64),
            "ts": ts_col(tr.ts_us),
        },
    )
    cr = world.credit
    tables["credit_scores"] = contract_frame(
        "credit_scores",
        {
            "user_id": str_col(u.ids[cr.user]),
            "ts": ts_col(cr.ts_us),
            "score": pd.Series(cr.score, dtype=np.int64),
        },
    )
    tables["social_edges"] = _edges(world)
    return tables


def log_tables(world: World, logs: LogResult) -> dict[str, pd.DataFrame]:
    """The tables the logs write: posts, memberships and events."""
    u, c = world.users, world.circles
    tables: dict[str, pd.DataFrame] = {}
    posts = logs.posts
    order = np.lexsort((np.arange(len(posts)), posts.created_us))
    pid = post_ids(posts)
    tables["posts"] = contract_frame(
        "posts",
        {
            "post_id": str_col(pid[order]),
            "circle_id": str_col(c.ids[posts.circle[order]]),
            "author_id": str_col(u.ids[posts.author[order]]),
            "created_at": ts_col(posts.created_us[order]),
            "media_type": str_col(np.array(MEDIA_TYPES, dtype=object)[posts.media[order]]),
            "is_official": pd.Series(posts.is_official[order], dtype=bool),
            "deleted_at": ts_col(posts.deleted_us[order], null=posts.deleted_us[order] == NEVER),
        },
    )
    ms = logs.memberships
    morder = np.lexsort((ms.circle, ms.user, ms.joined_us))
    tables["memberships"] = contract_frame(
        "memberships",
        {
            "user_id": str_col(u.ids[ms.user[morder]]),
            "circle_id": str_col(c.ids[ms.circle[morder]]),
            "joined_at": ts_col(ms.joined_us[morder]),
            "left_at": ts_col(ms.left_us[morder], null=ms.left_us[morder] == OPEN),
        },
    )
    tables["events"] = _events(world, logs, pid)
    return tables


def events_table(world: World, logs: LogResult) -> pd.DataFrame:
    """The contract's events table of the logs."""
    return _events(world, logs, post_ids(logs.posts))


def _merchants(m: Merchants, cities: np.ndarray) -> pd.DataFrame:
    n_cities = len(CITIES)
    abroad = m.location >= n_cities
    countries = np.array([a[0] for a in ABROAD], dtype=object)
    return contract_frame(
        "merchants",
        {
            "merchant_id": str_col(m.ids),
            "category": str_col(np.array(m.categories.names, dtype=object)[m.category]),
            "city": str_col(cities[np.where(abroad, 0, m.location)], null=abroad),
            "country": str_col(
                np.where(abroad, countries[np.maximum(m.location - n_cities, 0)], "CN").astype(
                    object
                )
            ),
        },
    )


def _payments(pay: Payments, user_ids: np.ndarray, merchant_ids: np.ndarray) -> pd.DataFrame:
    return contract_frame(
        "payments",
        {
            "payment_id": str_col(make_ids("pay", len(pay.user), min_width=7)),
            "user_id": str_col(user_ids[pay.user]),
            "merchant_id": str_col(merchant_ids[pay.merchant]),
            "amount": pd.Series(pay.amount, dtype=np.float64),
            "ts": ts_col(pay.ts_us),
            "currency": str_col(pay.currency),
            "country": str_col(pay.country),
            "channel": str_col(pay.channel),
        },
    )


def _edges(world: World) -> pd.DataFrame:
    t, ids = world.ties, world.users.ids
    fr = t.is_friend_edge
    user = np.concatenate([t.a[fr], t.follower])
    other = np.concatenate([t.b[fr], t.followee])
    created = np.concatenate([t.created_us[fr], t.follow_created_us])
    kind = np.array(["friend"] * int(fr.sum()) + ["follow"] * len(t.follower), dtype=object)
    order = np.lexsort((other, user, created))
    return contract_frame(
        "social_edges",
        {
            "user_id": str_col(ids[user[order]]),
            "other_id": str_col(ids[other[order]]),
            "created_at": ts_col(created[order]),
            "kind": str_col(kind[order]),
        },
    )


def _events(world: World, logs: LogResult, pid: np.ndarray) -> pd.DataFrame:
    ev = logs.events
    feed = ev.surface == FEED
    item = np.empty(len(ev), dtype=object)
    item[feed] = pid[ev.item[feed]]
    item[~feed] = world.circles.ids[ev.item[~feed]]
    return contract_frame(
        "events",
        {
            "event_id": str_col(event_ids(len(ev))),
            "ts": ts_col(ev.ts_us),
            "user_id": str_col(world.users.ids[ev.user]),
            "surface": str_col(np.array(SURFACE_NAMES, dtype=object)[ev.surface]),
            "item_id": str_col(item),
            "action": str_col(np.array(ACTION_NAMES, dtype=object)[ev.action]),
            "request_id": str_col(
                make_ids("r", int(ev.request.max(initial=-1)) + 1, 7)[ev.request]
            ),
            "position": int_col(ev.position),
            "propensity": pd.Series(ev.propensity, dtype=np.float64),
            "arm": str_col(np.array(logs.arms, dtype=object)[ev.surface]),
        },
    )


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    try:
        df.to_parquet(path, index=False)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc


def write_json(obj: Any, path: Path) -> None:
    try:
        path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc
