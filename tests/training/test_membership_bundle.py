"""Circle suggestions learned from memberships alone: the item-to-item candidate models
(item-kNN, EASE) are trained, feed the ranker's signals and candidate sources, and
survive a bundle's save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import data_end, load_contract
from features.importers.lastfm import import_lastfm
from ranking.catalog import Catalog
from ranking.components import RankContext
from ranking.for_training import ServingCandidates
from ranking.sources import EASECircles, KNNCircles, TopK
from tests.features.lastfm_files import generated_lastfm
from training.bundle import load_bundle
from training.config import MembershipCandidates, TrainConfig
from training.item_models import ITEM_MODELS
from training.signals import SIGNALS
from training.train import train

SURFACE = "circle_suggestions"


def test_item_models_are_trained_used_as_signals_and_reloaded(tmp_path: Path) -> None:
    generated_lastfm(tmp_path / "src", users=60)
    import_lastfm(tmp_path / "src", tmp_path / "data")
    data = load_contract(tmp_path / "data", quarantine_dir=tmp_path / "q")
    config = TrainConfig(
        rankers=("heads", "lambdarank"),
        membership_candidates=MembershipCandidates(ease_l2=5.0),
    )
    bundle = train(data, ServingCandidates(), config)
    assert {name: bundle.manifest[name] for name in ITEM_MODELS} == {
        "knn": [SURFACE],
        "ease": [SURFACE],
    }
    assert bundle.ease[SURFACE].params.l2 == 5.0
    assert set(SIGNALS) <= set(bundle.ranker(SURFACE, "lambdarank").features)

    bundle.save(tmp_path / "models")
    loaded = load_bundle(tmp_path / "models", compile_trees=False)
    members = data["memberships"]
    users = members["user_id"].to_numpy(dtype=object)[:40]
    items = members["circle_id"].to_numpy(dtype=object)[::-1][:40]
    for name in ITEM_MODELS:
        before = bundle.candidate_models(SURFACE)[name].score(users, items)
        after = loaded.candidate_models(SURFACE)[name].score(users, items)
        np.testing.assert_array_equal(after, before)
        assert np.isfinite(before).any()

    catalog = Catalog(data, data_end(data), freshness=pd.Timedelta(days=7))
    ctx = RankContext(surface=SURFACE, catalog=catalog, features=None, bundle=loaded)
    asked = np.sort(members["user_id"].unique().astype(object))[:10]
    own = set(zip(members["user_id"], members["circle_id"], strict=True))
    for source in (EASECircles(TopK(k=5)), KNNCircles(TopK(k=5))):
        found = source.fetch(ctx, asked)
        assert len(found) and set(found["user_id"]) <= set(asked)
        assert not set(zip(found["user_id"], found["item_id"], strict=True)) & own
        assert (found.groupby("user_id").size() <= 5).all()
