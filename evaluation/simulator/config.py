"""Configuration of the simulator: the run's knobs (SimConfig) and every generative constant
(SimParams), so no magic number hides in the code that uses it."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError

from .topics import TOPICS

N_TOPICS = len(TOPICS)
DEFAULT_START = "2026-03-01T00:00:00Z"


@dataclass(frozen=True)
class SimParams:
    """Every constant of the generative story, grouped by the part of the world it shapes."""

    # users
    platform_accounts: int = 5
    student_share: float = 0.12
    interest_concentration: float = 0.14  # Dirichlet alpha per topic: 1-3 strong interests
    student_campus_boost: float = 0.8
    activity_sigma: float = 0.7  # lognormal with mean 1
    register_years: float = 3.0
    # payments
    writes_payments: bool = True  # False: a world without payments and merchants
    payments_per_day: float = 1.65  # times the user's activity
    topical_spend_share: float = 0.38  # share of spend driven by interests
    spend_noise_share: float = 0.12  # idiosyncratic tastes over topical categories
    spend_noise_alpha: float = 0.3
    spend_footprint_sigma: float = 1.0  # how strongly each interest shows in spending
    home_city_share: float = 0.9
    favourite_country_share: float = 0.7
    merchants_per_1000_users: float = 1.0  # per city and local category
    # 0: a topical category shows only its own topic's interest (the catalogue's link);
    # k > 0: every topical category is linked to k random topics with random weights
    # (lognormal, spread category_link_sigma), so spend shows interest only indirectly
    category_topics: int = 0
    category_link_sigma: float = 1.0
    # credit
    credit_mean: float = 650.0
    credit_sd: float = 80.0
    credit_overseas_bonus: float = 20.0  # weak: times overseas interest
    credit_investing_bonus: float = 25.0
    credit_noise_sd: float = 18.0
    credit_update_days: float = 90.0  # mean days between updates
    # social
    tie_degree_mean: float = 9.0
    tie_same_city: float = 0.75
    tie_candidates: int = 40
    tie_similarity_weight: float = 10.0
    friend_edge_share: float = 0.8  # the rest are ties seen only through transfers
    follows_mean: float = 1.5
    follow_tie: float = 0.25
    transfers_per_tie_day: float = 0.1  # times tie strength
    stranger_transfer_share: float = 0.1
    # circles
    circles_per_topic_min: int = 3
    circles_per_topic_max: int = 6
    official_circle_share: float = 0.3
    local_circle_share: float = 0.4  # member-created circles anchored in the creator's city
    local_same_city: float = 0.7  # join-logit shifts of a local circle
    local_other_city: float = -2.5
    gated_share: float = 0.22
    gate_levels: tuple[int, ...] = (600, 650, 700, 750)
    new_circle_share: float = 0.08
    circle_age_days: float = 400.0
    # memberships
    join_base: float = -5.6
    join_interest: float = 8.0
    join_quality: float = 0.5
    join_official: float = 0.6  # the seed product promoted its official circles
    join_friend_round: float = -1.2  # intercept shift of the contagion round
    join_friend_pull: float = 1.2  # contagion round: times log1p(tied members)
    leave_share: float = 0.15
    leave_mean_days: float = 60.0
    organic_joins_per_day: float = 0.004  # times activity
    organic_tie_pull: float = 0.0  # organic joins' choice: times log1p(tied members)
    # posts
    prelog_post_days: int = 14
    creator_share: float = 0.15
    creator_rate_median: float = 0.07  # posts per membership-day
    creator_rate_sigma: float = 1.0
    late_creator_share: float = 0.2  # creators whose first post falls inside the logs
    official_posts_per_day: float = 2.5  # per official circle, at the reference size
    pushed_posts_per_day: float = 0.5  # official posts pushed into member circles
    platform_reference_users: int = 10_000  # platform output scales with sqrt(users / this)
    media_mix: tuple[float, float, float] = (0.4, 0.45, 0.15)  # text, image, video
    official_media_mix: tuple[float, float, float] = (0.25, 0.65, 0.1)
    official_quality_mean: float = -0.9
    skill_sd: float = 0.6
    delete_share: float = 0.04
    delete_mean_days: float = 1.5
    # creators' response to the feed (response.py says what it models); 0 = none, the
    # posting rate is the creator's own whatever the feed does
    creator_response: float = 0.0
    response_window_days: float = 7.0  # the recent posts a creator judges the response by
    response_reference: float = 1.0  # positive actions per post at which the rate is kept
    response_prior: float = 1.0  # pseudo-actions per post: one silent post is no verdict
    response_max_drive: float = 3.0
    new_creator_trial_days: float = 3.0  # a new creator judges their first posts after this
    new_creator_quit_share: float = 0.6  # times creator_response: stop after a silent trial
    # sessions
    feed_sessions_per_day: float = 0.14  # times activity
    suggestion_sessions_per_day: float = 0.05
    examine_decay: float = 0.8
    day_end_hour: float = 23.0  # sessions end before this, so every event falls inside the day
    # feed behaviour (logits)
    click_base: float = -3.4
    click_interest: float = 3.5
    click_quality: float = 0.55
    click_tie: float = 1.6
    click_skill: float = 0.6
    click_media: tuple[float, float, float] = (0.0, 0.25, 0.45)
    click_official: float = -0.7
    click_age_per_day: float = 0.18
    click_user_sd: float = 0.5
    like_base: float = -0.9
    comment_base: float = -2.4
    share_base: float = -3.0
    after_click_interest: float = 1.5
    after_click_quality: float = 0.4
    after_click_tie: float = 1.2
    hide_base: float = -4.2
    hide_interest: float = -2.5
    hide_quality: float = -0.5
    hide_official: float = 0.9
    report_base: float = -7.0
    report_quality: float = -0.9
    # join behaviour (logits)
    sjoin_base: float = -4.4
    sjoin_interest: float = 5.0
    sjoin_ties: float = 0.9  # times log1p(tied members)
    sjoin_quality: float = 0.4
    sjoin_size: float = 0.1  # times log1p(members)
    sjoin_official: float = -0.6
    sjoin_user_sd: float = 0.3
    dismiss_given_no_join: float = 0.25
    # logging heuristics
    feed_popularity_weight: float = 0.4
    feed_official_boost: float = 1.0
    suggestion_official_boost: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_share") and not 0.0 <= value <= 1.0:
                raise ConfigError(f"params.{f.name} must be in [0, 1], got {value!r}")
            rate = f.name.endswith(("_per_day", "_sd", "_sigma", "_days"))
            if (rate or f.name in ("tie_degree_mean", "follows_mean")) and value < 0:
                raise ConfigError(f"params.{f.name} must be >= 0, got {value!r}")
        if not self.creator_response >= 0:
            raise ConfigError(
                f"params.creator_response must be >= 0, got {self.creator_response!r}"
            )
        for name in ("response_reference", "response_prior"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"params.{name} must be > 0, got {getattr(self, name)!r}")
        if not self.response_max_drive >= 1.0:
            raise ConfigError(
                f"params.response_max_drive must be >= 1, got {self.response_max_drive!r}"
            )
        if not isinstance(self.writes_payments, bool):
            got = self.writes_payments
            raise ConfigError(f"params.writes_payments must be a bool, got {got!r}")
        k = self.category_topics
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= N_TOPICS:
            raise ConfigError(
                f"params.category_topics must be an integer in [0, {N_TOPICS}], got {k!r}"
            )
        if self.platform_accounts < 1:
            raise ConfigError(
                f"params.platform_accounts must be >= 1, got {self.platform_accounts!r}"
            )
        for name in ("media_mix", "official_media_mix"):
            mix = getattr(self, name)
            if len(mix) != 3 or min(mix) < 0 or abs(sum(mix) - 1.0) > 1e-9:
                raise ConfigError(f"params.{name} must be 3 shares summing to 1, got {mix!r}")


_SCENARIO_PARAMS = SimParams()  # the default of SimConfig.params: "the scenario's own"


@dataclass(frozen=True)
class SimConfig:
    """What one simulated world looks like; validated at construction.

    `truth_users` defaults to min(users, 2000). `start` is a fixed past date so the
    output is deterministic and passes an as-of-now validation. `scenario` names the
    generative story (see `scenarios.py`); left out, `params` are that scenario's, and
    given, they are used as they are (the scenario then only labels the world).
    """

    users: int = 10_000
    days: int = 60
    seed: int = 0
    start: str = DEFAULT_START
    truth_users: int | None = None
    freshness_days: int = 7
    feed_slate_size: int = 10
    suggestion_slate_size: int = 5
    explore_epsilon: float = 0.3
    scenario: str = "baseline"
    params: SimParams = field(default_factory=lambda: _SCENARIO_PARAMS)

    def __post_init__(self) -> None:
        _check_int("users", self.users, low=50)
        _check_int("days", self.days, low=7)
        _check_int("seed", self.seed, low=0)
        _check_int("freshness_days", self.freshness_days, low=1)
        _check_int("feed_slate_size", self.feed_slate_size, low=1)
        _check_int("suggestion_slate_size", self.suggestion_slate_size, low=1)
        eps = self.explore_epsilon
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0.0 < eps <= 1.0:
            raise ConfigError(f"explore_epsilon must be in (0, 1], got {eps!r}")
        try:
            start = pd.Timestamp(self.start)
        except (ValueError, TypeError):
            raise ConfigError(f"start must be an ISO 8601 timestamp, got {self.start!r}") from None
        if start.tzinfo is None:
            start = start.tz_localize("UTC")
        object.__setattr__(self, "start", start.tz_convert("UTC").isoformat())
        if self.truth_users is None:
            object.__setattr__(self, "truth_users", min(self.users, 2000))
        _check_int("truth_users", self.truth_users, low=1)
        from .scenarios import get_scenario  # the registry builds on SimParams

        scenario = get_scenario(self.scenario)
        if self.params is _SCENARIO_PARAMS:
            object.__setattr__(self, "params", scenario.params())
        if not isinstance(self.params, SimParams):
            raise ConfigError(f"params must be SimParams, got {type(self.params).__name__}")

    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def split_ts(self) -> pd.Timestamp:
        """The end of the logs: no row of the world carries a later timestamp."""
        return self.start_ts + pd.Timedelta(days=self.days)

    @property
    def start_us(self) -> int:
        return int(self.start_ts.value // 1000)

    @property
    def split_us(self) -> int:
        return int(self.split_ts.value // 1000)

    @property
    def n_truth_users(self) -> int:
        return int(self.truth_users or 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (tuples become lists)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "params"}
        out["params"] = asdict(self.params)
        return out


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def rng_for(seed: int, component: str) -> np.random.Generator:
    """An independent generator per named component, so editing one part of the story
    does not reshuffle the random numbers of every other part."""
    return np.random.default_rng([seed, zlib.crc32(component.encode())])


US_PER_DAY = 86_400_000_000
US_PER_SECOND = 1_000_000
