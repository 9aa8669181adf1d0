"""Named scenarios: worlds whose generative story differs, not only their seed.

Each scenario is a name, a paragraph saying what it models, and the SimParams it
changes (some of them structural switches, whose defaults are the baseline story).
`SimConfig(scenario=NAME)` builds a world of that story:

    from evaluation.simulator import SimConfig, simulate
    simulate(SimConfig(users=10_000, days=60, seed=2, scenario="social"), out_dir)

The changes are the story's, not a ranker's: no value here was chosen by how a
ranking strategy does on the scenario. Where a change moves the scale of the world
(memberships per user, click and join rates), an intercept (`join_base`, `click_base`,
`sjoin_base`) is moved so that, at 10,000 users x 60 days, the scale stays near
baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from circlerank.errors import ConfigError

from .config import SimParams


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str  # one line, for `simulate --help`
    models: str  # one paragraph: what the world stands for
    changes: dict[str, Any] = field(default_factory=dict)  # SimParams overrides

    def params(self) -> SimParams:
        return replace(SimParams(), **self.changes)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "baseline",
            "the default world: interest first, plentiful logs",
            "The default world: interests show in payments through each topic's own merchant "
            "categories; logs are plentiful; joins and clicks follow interest first, with "
            "ties, quality and a local pull beside it.",
        ),
        Scenario(
            "noisy_payments",
            "spend shows interest weakly, via random category-topic links",
            "Spend reveals interest weakly and indirectly. Every topical merchant category is "
            "linked to three random topics with random weights (so each topic shows in about "
            "eight categories, none of them necessarily its own), and less of the spend is "
            "topical while more is idiosyncratic taste.",
            {
                "category_topics": 3,
                "topical_spend_share": 0.25,
                "spend_noise_share": 0.25,
                "spend_footprint_sigma": 1.5,
            },
        ),
        Scenario(
            "scarce_logs",
            "few logged suggestions and feed sessions, many organic joins",
            "Few logged suggestions but rich memberships. Suggestion sessions are a twelfth "
            "of baseline's and feed sessions a third, while organic joins (search, a "
            "friend's link) are five times as frequent and more people joined before the "
            "logs.",
            {
                "suggestion_sessions_per_day": 0.004,
                "feed_sessions_per_day": 0.05,
                "organic_joins_per_day": 0.02,
                "join_base": -5.1,
            },
        ),
        Scenario(
            "social",
            "friends and transfer partners drive joins and clicks",
            "Friends and transfer partners drive joins and clicks. People have twice the "
            "ties, chosen less by shared interest, and follow four times as many creators; "
            "ties already in a circle pull a user in much harder than interest does, posts "
            "by ties and followed creators get the clicks, and organic joins follow ties "
            "too.",
            {
                "tie_degree_mean": 18.0,
                "tie_similarity_weight": 3.0,
                "transfers_per_tie_day": 0.15,
                "follows_mean": 6.0,
                "follow_tie": 0.4,
                "join_base": -4.95,
                "join_interest": 4.0,
                "join_friend_round": -0.6,
                "join_friend_pull": 2.5,
                "organic_tie_pull": 2.0,
                "click_base": -2.35,
                "click_interest": 1.5,
                "click_tie": 6.0,
                "after_click_interest": 0.7,
                "after_click_tie": 3.0,
                "sjoin_base": -6.0,
                "sjoin_interest": 2.0,
                "sjoin_ties": 2.5,
            },
        ),
        Scenario(
            "no_payments",
            "no payments and no merchants at all",
            "A deployment without payment data: the world writes neither payments nor "
            "merchants, so interests show only through memberships, ties and engagement. "
            "Everything else is baseline's.",
            {"writes_payments": False},
        ),
        Scenario(
            "quality_first",
            "post quality and circle appeal dominate interest",
            "Post quality and circle appeal dominate interest. Clicks follow a post's "
            "quality and its author's skill far more than the reader's interest; joins "
            "follow a circle's quality and size, so what is popular is mostly what is good.",
            {
                "join_base": -5.2,
                "join_interest": 3.0,
                "join_quality": 2.0,
                "click_base": -4.2,
                "click_interest": 1.0,
                "click_quality": 1.8,
                "click_skill": 1.2,
                "after_click_interest": 0.5,
                "after_click_quality": 1.2,
                "hide_interest": -1.0,
                "hide_quality": -1.5,
                "sjoin_base": -8.4,
                "sjoin_interest": 1.5,
                "sjoin_quality": 1.8,
                "sjoin_size": 0.25,
            },
        ),
        Scenario(
            "gated",
            "credit gates a third of circles at strict levels",
            "Credit gates about a third of circles (most official ones), at strict levels "
            "(700 to 800; a creator's own circle is gated no higher than they qualify), so many "
            "users may be shown only part of the catalogue; gating stays a rule of who may "
            "see a circle, never a sign of interest.",
            {"gated_share": 0.45, "gate_levels": (700, 750, 800)},
        ),
    )
}


def scenario_names() -> tuple[str, ...]:
    return tuple(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except (KeyError, TypeError):
        valid = ", ".join(SCENARIOS)
        raise ConfigError(f"unknown scenario {name!r}; choose one of: {valid}") from None
