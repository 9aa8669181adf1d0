"""Strategies as data: the shipped file loads, bad names are errors that list valid ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from circlerank.errors import ConfigError
from ranking.pipeline import Pipeline
from ranking.strategy import load_strategies

GOOD = """
[defaults]
feed = "mine"

[strategies.mine]
surface = "feed"
sources = ["circle_posts", "trending_posts"]
filters = ["live_post"]
scorer = "chronological"
[strategies.mine.params.trending_posts]
k = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_shipped_strategies_load_and_build() -> None:
    strategies = load_strategies()
    assert strategies.defaults == {"feed": "community", "circle_suggestions": "suggest"}
    assert strategies.fallbacks == {"feed": "popularity", "circle_suggestions": "popular_circles"}
    for strategy in strategies.strategies.values():
        Pipeline(strategy)  # every component resolves and takes its params


def test_params_reach_the_component(tmp_path: Path) -> None:
    strategy = load_strategies(write(tmp_path, GOOD)).get(None, "feed")
    pipeline = Pipeline(strategy)
    assert [s.name for s in pipeline.sources] == ["circle_posts", "trending_posts"]
    assert pipeline.sources[1].params.k == 5  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('scorer = "chronological"', 'scorer = "magic"', "unknown scorer 'magic'.*valid: "),
        ('"trending_posts"]', '"all_circles"]', "unknown source 'all_circles' for feed"),
        ('filters = ["live_post"]', 'filters = ["credit_gate"]', "unknown filter 'credit_gate'"),
        ("k = 5", "k = 0", "greater than 0"),
        ("k = 5", "kk = 5", "Extra inputs"),
        ('feed = "mine"', 'feed = "theirs"', "'theirs' is not a feed strategy"),
        ('feed = "mine"', 'feed = "mine"\n[fallbacks]\nfeed = "x"', "fallbacks: 'x' is not"),
        (
            'scorer = "chronological"',
            'scorer = "value"\n[fallbacks]\nfeed = "mine"',
            "fallbacks: 'mine' scores with features",
        ),
    ],
)
def test_bad_strategies_are_config_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_strategies(write(tmp_path, GOOD.replace(old, new)))


def test_unknown_strategy_name_lists_the_valid_ones(tmp_path: Path) -> None:
    strategies = load_strategies(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="unknown feed strategy 'nope'; valid: mine"):
        strategies.get("nope", "feed")


SHARED = """
[defaults]
feed = "base"

[surfaces.feed]
sources = ["circle_posts"]
fallback = ["popular_posts"]
filters = ["live_post", "hidden"]

[strategies.base]
surface = "feed"
sources = ["circle_posts", "trending_posts"]
scorer = "chronological"
params = { trending_posts = { k = 5 }, chronological = {} }

[strategies.child]
like = "base"
scorer = "popularity"
rerankers = ["author_diversity"]
params = { author_diversity = { decay = 0.4 } }

[strategies.grandchild]
like = "child"
filters = ["live_post"]
params = { trending_posts = { k = 7 } }

[strategies.plain]
surface = "feed"
scorer = "random"
"""


def test_a_strategy_takes_what_it_leaves_out_from_its_parent_then_its_surface(
    tmp_path: Path,
) -> None:
    got = load_strategies(write(tmp_path, SHARED)).strategies
    assert (got["plain"].sources, got["plain"].fallback, got["plain"].filters) == (
        ("circle_posts",),
        ("popular_posts",),
        ("live_post", "hidden"),
    )
    child = got["child"]
    assert (child.name, child.surface, child.sources, child.scorer) == (
        "child",
        "feed",
        ("circle_posts", "trending_posts"),
        "popularity",
    )
    # the parent's params of a component the child dropped (its scorer) are not inherited
    assert child.params == {"trending_posts": {"k": 5}, "author_diversity": {"decay": 0.4}}
    grandchild = got["grandchild"]
    assert grandchild.filters == ("live_post",)
    assert grandchild.rerankers == ("author_diversity",)
    assert grandchild.params == {"trending_posts": {"k": 7}, "author_diversity": {"decay": 0.4}}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('like = "base"', 'like = "nobody"', "'child' is like 'nobody': no such strategy"),
        ('like = "base"', 'like = "grandchild"', "child -> grandchild -> child.*`like` loops"),
        ("[surfaces.feed]", "[surfaces.fed]", "surfaces: unknown surface 'fed'"),
        ('filters = ["live_post", "hidden"]', 'filters = ["not_member"]', "unknown filter"),
    ],
)
def test_bad_sharing_is_a_config_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_strategies(write(tmp_path, SHARED.replace(old, new)))
