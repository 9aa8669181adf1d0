"""A membership hidden for training leaves no trace in any feature of its pair: the
features of a hidden (user, circle) pair on what stays visible do not change however
many more traces of that membership the data holds (posts the user wrote in the circle,
the user's feed events on its posts, suggestion events on it, others' events on the
user's posts there)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.simulator import SimResult
from features.compute import FeatureBuilder
from features.contract import ContractData, data_end, load_contract
from training.hidden import active_memberships, hide, without

SURFACE = "circle_suggestions"


@pytest.fixture(scope="module")
def data(small_world: SimResult) -> ContractData:
    return load_contract(small_world.out_dir)


def hidden_of(data: ContractData, until: pd.Timestamp) -> pd.DataFrame:
    active = active_memberships(data, until)
    return active[hide(data, active, 0.3, np.random.default_rng(5))]


def more_traces(data: ContractData, hidden: pd.DataFrame, until: pd.Timestamp) -> ContractData:
    """`data` with, for each hidden (user, circle): a post by the user in the circle,
    the user's click on another post of the circle, a join on the circle's suggestion
    and another user's like of the new post — all before `until`."""
    posts, events = data["posts"], data["events"]
    ts = until - pd.Timedelta(hours=1)
    new_posts, new_events = [], []
    other = data["users"]["user_id"].iloc[0]
    for i, (user, circle) in enumerate(hidden[["user_id", "circle_id"]].itertuples(index=False)):
        post = f"trace-post-{i}"
        new_posts.append(
            {"post_id": post, "circle_id": circle, "author_id": user, "created_at": ts}
        )
        theirs = posts.loc[posts["circle_id"] == circle, "post_id"]
        for item, surface, action, who in [
            (circle, SURFACE, "join", user),
            (post, "feed", "like", other),
            *([(theirs.iloc[0], "feed", "click", user)] if len(theirs) else []),
        ]:
            new_events.append(
                {
                    "event_id": f"trace-{i}-{action}",
                    "ts": ts,
                    "user_id": who,
                    "surface": surface,
                    "item_id": item,
                    "action": action,
                }
            )
    tables = dict(data.tables)
    tables["posts"] = pd.concat([posts, _like(posts, new_posts)], ignore_index=True)
    tables["events"] = pd.concat([events, _like(events, new_events)], ignore_index=True)
    return ContractData(tables, data.report)


def _like(table: pd.DataFrame, rows: list[dict[str, object]]) -> pd.DataFrame:
    """`rows` as a frame with `table`'s columns and dtypes (missing values null)."""
    frame = pd.DataFrame(rows).reindex(columns=table.columns)
    for column in table.columns:
        dtype = table[column].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            frame[column] = pd.to_datetime(frame[column], utc=True).astype(dtype)
        elif column in rows[0]:
            frame[column] = frame[column].astype(dtype)
    return frame


def pair_rows(hidden: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": hidden["user_id"].to_numpy(), "item_id": hidden["circle_id"].to_numpy()}
    ).assign(as_of=until)


def pair_features(data: ContractData, hidden: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    return FeatureBuilder(without(data, hidden)).for_requests(pair_rows(hidden, until), SURFACE)


def test_more_traces_of_a_hidden_membership_change_no_feature_of_its_pair(
    data: ContractData,
) -> None:
    until = data_end(data) + pd.Timedelta(seconds=1)
    hidden = hidden_of(data, until)
    assert len(hidden) > 20
    traced = more_traces(data, hidden, until)
    before = pair_features(data, hidden, until)
    after = pair_features(traced, hidden, until)
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    # the check has teeth: hiding the memberships alone leaves the traces in features
    only_memberships = ContractData(
        {**traced.tables, "memberships": without(traced, hidden)["memberships"]}, data.report
    )
    leaky = FeatureBuilder(only_memberships).for_requests(pair_rows(hidden, until), SURFACE)
    assert not leaky.equals(before)


def test_what_stays_visible_holds_no_row_of_a_hidden_pair(data: ContractData) -> None:
    until = data_end(data) + pd.Timedelta(seconds=1)
    hidden = hidden_of(data, until)
    visible = without(traced := more_traces(data, hidden, until), hidden)
    pairs = set(zip(hidden["user_id"], hidden["circle_id"], strict=True))
    members = visible["memberships"]
    assert not pairs & set(zip(members["user_id"], members["circle_id"], strict=True))
    posts = visible["posts"]
    assert not pairs & set(zip(posts["author_id"], posts["circle_id"], strict=True))
    circle_of = dict(zip(traced["posts"]["post_id"], traced["posts"]["circle_id"], strict=True))
    events = visible["events"]
    circle = np.where(
        events["surface"] == "feed", events["item_id"].map(circle_of), events["item_id"]
    )
    assert not pairs & set(zip(events["user_id"], circle, strict=True))
    assert not events["item_id"].str.startswith("trace-post-").any()
    # nothing else is removed: every other membership stays
    assert len(members) == len(data["memberships"]) - len(hidden)


def test_a_circle_the_user_created_is_never_hidden_and_a_user_keeps_one(
    data: ContractData,
) -> None:
    until = data_end(data) + pd.Timedelta(seconds=1)
    active = active_memberships(data, until)
    hidden = active[hide(data, active, 0.9, np.random.default_rng(0))]
    creator = dict(zip(data["circles"]["circle_id"], data["circles"]["creator_id"], strict=True))
    assert len(hidden)
    assert not (hidden["circle_id"].map(creator) == hidden["user_id"]).any()
    left = active["user_id"].value_counts() - hidden["user_id"].value_counts()
    assert (left.dropna() >= 1).all()


def test_hidden_memberships_are_drawn_among_each_users_latest(data: ContractData) -> None:
    until = data_end(data) + pd.Timedelta(seconds=1)
    active = active_memberships(data, until)
    hidden_mask = hide(data, active, 0.25, np.random.default_rng(3))
    creator = dict(zip(data["circles"]["circle_id"], data["circles"]["creator_id"], strict=True))
    theirs = active[active["circle_id"].map(creator) != active["user_id"]]  # hideable
    newest = theirs.groupby("user_id")["joined_at"].rank(method="min", ascending=False)
    newest = newest.reindex(active.index)
    quota = pd.Series(hidden_mask, index=active.index).groupby(active["user_id"]).transform("sum")
    assert hidden_mask.sum() > 20
    assert (newest[hidden_mask] <= 2 * quota[hidden_mask]).all()
    # and not always the very latest: a draw, so two seeds differ
    other = hide(data, active, 0.25, np.random.default_rng(4))
    assert (other != hidden_mask).any()
