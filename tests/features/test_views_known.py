"""Known answers for every feature family on the hand-built world (values by hand)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.compute import FeatureBuilder
from features.contract import ContractData
from tests.features.handbuilt import day, load


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return load(tmp_path_factory.mktemp("handbuilt"))


def features(
    data: ContractData, surface: str, asks: list[tuple[str, str, pd.Timestamp]]
) -> pd.DataFrame:
    rows = pd.DataFrame(asks, columns=["user_id", "item_id", "as_of"])
    return FeatureBuilder(data).for_requests(rows, surface, keep_vectors=True)


def test_payment_behaviour(data: ContractData) -> None:
    f = features(data, "feed", [("u1", "p1", day(41)), ("u1", "p1", day(40))]).iloc[0]
    assert f["pay_spend_90d"] == 500.0
    assert f["pay_count_30d"] == 2  # days 20 and 40 fall in [day 11, day 41)
    assert f["pay_count_7d"] == 1
    assert f["pay_overseas_share_90d"] == pytest.approx(300 / 500)  # the airline in Japan
    assert f["pay_campus_share_90d"] == pytest.approx(50 / 500)
    assert f["pay_distinct_merchants"] == 3
    assert f["pay_days_since_last"] == pytest.approx(1.0)
    assert f["vec_spend_90d__pet_store"] == pytest.approx(150 / 500)
    assert f["vec_count_90d__pet_store"] == pytest.approx(2 / 4)
    at_payment = features(data, "feed", [("u1", "p1", day(40))]).iloc[0]
    assert at_payment["pay_spend_90d"] == 450.0  # the payment at exactly t is not before t


def test_training_rows_compute_only_the_vectors_cross_features_read(data: ContractData) -> None:
    asks = [("u1", "p1", day(41)), ("u2", "p2", day(35)), ("u1", "p3", day(20))]
    rows = pd.DataFrame(asks, columns=["user_id", "item_id", "as_of"])
    builder = FeatureBuilder(data)
    full = builder.for_requests(rows, "feed", keep_vectors=True)
    lean = builder.for_requests(rows, "feed")
    assert not any(c.startswith("vec_") for c in lean.columns)
    assert "vec_spend_7d__pet_store" in full.columns
    # the selection changes no value: every scalar and cross feature is the same
    pd.testing.assert_frame_equal(lean, full[lean.columns])
    assert (lean["interest_match"] > 0).any()


@pytest.mark.parametrize(
    ("when", "score", "band"),
    [(day(10), 600.0, 1.0), (day(10) + pd.Timedelta(seconds=1), 700.0, 2.0), (day(31), 750.0, 3.0)],
)
def test_credit_score_in_force(
    data: ContractData, when: pd.Timestamp, score: float, band: float
) -> None:
    f = features(data, "feed", [("u1", "p1", when)]).iloc[0]
    assert (f["credit_score"], f["credit_band"]) == (score, band)


def test_credit_is_not_a_model_input(data: ContractData) -> None:
    from features.compute import model_columns

    builder = FeatureBuilder(data)
    frame = features(data, "feed", [("u1", "p1", day(31))])
    assert not any(c.startswith("credit_") for c in model_columns(frame, builder))


def test_social_ties(data: ContractData) -> None:
    f = features(data, "feed", [("u1", "p1", day(10)), ("u2", "p2", day(10))])
    u1, u2 = f.iloc[0], f.iloc[1]
    assert (u1["soc_friends"], u1["soc_following"], u1["soc_followers"]) == (1, 1, 0)
    assert (u1["soc_transfer_partners"], u1["soc_transfers_30d"]) == (1, 2)
    # p1 is by u2: u1's friend, with two transfers between them
    assert (u1["ua_is_friend"], u1["ua_follows"], u1["ua_transfer"]) == (1, 0, 2)
    assert u1["ua_tie_strength"] == pytest.approx(1 + pytest.importorskip("numpy").log1p(2))
    assert u2["soc_friends"] == 1  # friendship stored once is mutual


def test_friends_in_circle_follow_joins_and_leaves(data: ContractData) -> None:
    # u2 joined c_pets on day 1, befriended u1 on day 2 and left on day 20
    f = features(
        data, "circle_suggestions", [("u1", "c_pets", d) for d in (day(1.5), day(10), day(21))]
    )
    assert f["uc_friend_members"].tolist() == [0, 1, 0]
    assert f["uc_member_transfers"].tolist() == [0, 2, 2]  # transfers on days 4 and 6


def test_interest_match_from_payments(data: ContractData) -> None:
    f = features(data, "feed", [("u1", "p1", day(10) + pd.Timedelta(hours=5))]).iloc[0]
    # circle profile as of day 10, by count: members' payments while members: u2
    # (member from day 1) pet and grocery, u1 (member from day 3) the airline on day 5
    assert f["vec_profile__pet_store"] == pytest.approx(1 / 3)
    assert f["vec_profile__grocery"] == pytest.approx(1 / 3)
    assert f["vec_profile__airline"] == pytest.approx(1 / 3)
    # u1's own payments by count: the pet store (day 1) and the airline (day 5)
    user = pd.Series({"pet_store": 0.5, "airline": 0.5, "grocery": 0.0})
    circle = pd.Series({"pet_store": 1 / 3, "airline": 1 / 3, "grocery": 1 / 3})
    expected = (user * circle).sum() / ((user**2).sum() ** 0.5 * (circle**2).sum() ** 0.5)
    assert f["interest_match"] == pytest.approx(expected)


def test_interest_lift_weighs_what_sets_a_circle_apart(data: ContractData) -> None:
    f = features(data, "feed", [("u1", "p1", day(10) + pd.Timedelta(hours=5))]).iloc[0]
    # c_pets is the only circle with members: the baseline is its own profile, so the
    # circle departs from it nowhere and the lift is zero whatever u1 buys
    for category in ("pet_store", "grocery", "airline"):
        assert f[f"vec_baseline__{category}"] == f[f"vec_profile__{category}"]
    assert f["interest_lift"] == 0.0 and f["interest_lift_sq"] == 0.0


def test_interest_lift_by_hand() -> None:
    from features.config import FeatureConfig
    from features.cross import cross_features
    from features.streams import Vocabulary

    cats = ["a", "b", "c"]
    vocab = Vocabulary(categories=tuple(cats), topics=(), cities=())
    row = {f"vec_count_90d__{c}": v for c, v in zip(cats, (0.8, 0.2, 0.0), strict=True)}
    row |= {f"vec_profile__{c}": v for c, v in zip(cats, (0.6, 0.2, 0.2), strict=True)}
    row |= {f"vec_baseline__{c}": v for c, v in zip(cats, (0.4, 0.4, 0.2), strict=True)}
    got = cross_features(pd.DataFrame([row]), vocab, FeatureConfig()).iloc[0]
    # (u - b)(c - b) per category: 0.4 * 0.2, -0.2 * -0.2, -0.2 * 0
    assert got["interest_lift"] == pytest.approx(0.08 / 0.4 + 0.04 / 0.4)
    assert got["interest_lift_sq"] == pytest.approx(0.08 / 0.16 + 0.04 / 0.16)


def test_topic_memberships_count_circles_joined_before_t(data: ContractData) -> None:
    asks = [("u1", "c_pets", day(3)), ("u1", "c_pets", day(3) + pd.Timedelta(seconds=1))]
    asks += [("u2", "c_pets", day(20)), ("u2", "c_pets", day(21)), ("u1", "c_air", day(30))]
    f = features(data, "circle_suggestions", asks)
    # u1 joins c_pets at day 3 (not yet in force at day 3 itself); u2 leaves at day 20
    assert f["ut_memberships"].tolist() == [0, 1, 1, 0, 0]
    assert f["ut_joins_ever"].tolist() == [0, 1, 1, 1, 0]


def test_engagement_history(data: ContractData) -> None:
    f = features(
        data, "feed", [("u1", "p1", day(9)), ("u1", "p1", day(7) + pd.Timedelta(hours=10))]
    )
    later, at_impression = f.iloc[0], f.iloc[1]
    assert (later["post_impressions"], later["post_clicks"], later["post_likes"]) == (2, 1, 1)
    assert later["post_ctr"] == pytest.approx((1 + 20 * 0.05) / (2 + 20))
    assert (later["author_impressions"], later["author_clicks"]) == (2, 1)
    assert (later["uc_impressions"], later["uc_clicks"], later["uc_hides"]) == (2, 1, 1)
    assert (later["ua_impressions"], later["ua_clicks"]) == (1, 1)
    assert (later["ut_impressions"], later["ut_clicks"]) == (2, 1)
    assert later["user_hides"] == 1
    assert at_impression["post_impressions"] == 0  # its own impression is not before it


def test_community_activity_and_content(data: ContractData) -> None:
    f = features(data, "feed", [("u1", "p1", day(9))]).iloc[0]
    assert (f["author_posts"], f["author_tenure_days"], f["author_new_creator"]) == (1, 4.0, 1.0)
    assert (f["circle_members"], f["circle_net_joins"], f["circle_growth"]) == (2, 1, 1.0)
    assert (f["circle_posts_7d"], f["circle_ugc_share_30d"]) == (2, 0.5)
    assert f["post_age_hours"] == pytest.approx(96.0)
    assert (f["post_media_image"], f["post_is_official"]) == (1.0, 0.0)
    assert f["circle_city_share"] == pytest.approx(1.0)  # both members live in Hangzhou


def test_suggestion_history(data: ContractData) -> None:
    f = features(data, "circle_suggestions", [("u3", "c_air", day(9))]).iloc[0]
    assert (f["uc_sugg_impressions"], f["circle_sugg_impressions"]) == (1, 1)


def test_absent_tables_remove_their_features(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = load(tmp_path, drop=("payments", "merchants", "transfers", "credit_scores"))
    with caplog.at_level("INFO"):
        builder = FeatureBuilder(data)
    frame = builder.for_requests(
        pd.DataFrame({"user_id": ["u1"], "item_id": ["p1"], "as_of": [day(9)]}), "feed"
    )
    assert not [c for c in frame.columns if c.startswith(("pay_", "credit_", "soc_transfer"))]
    assert "interest_match" not in frame.columns and "ua_transfer" not in frame.columns
    assert frame["soc_friends"].iloc[0] == 1  # the friend graph still counts
    said = [r.getMessage() for r in caplog.records if "features off" in r.getMessage()]
    assert len(said) == 1 and "payments" in said[0] and "user_payments" in said[0]
