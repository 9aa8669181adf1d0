"""Compiled predictors return LightGBM's numbers; without lleaves, LightGBM predicts."""

from __future__ import annotations

import builtins
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from training import predictor as predictor_module
from training.predictor import BoosterPredictor, predictor


@pytest.fixture()
def saved_model(tmp_path: Path) -> tuple[Path, lgb.Booster]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6))
    x[rng.random(x.shape) < 0.1] = np.nan  # missing values take the default branch
    y = (x[:, 0] + np.nan_to_num(x[:, 1]) * x[:, 2] + rng.normal(size=3000) > 0).astype(float)
    params = {"objective": "binary", "num_leaves": 7, "verbosity": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=30)
    path = tmp_path / "model.txt"
    booster.save_model(path)
    return path, lgb.Booster(model_file=str(path))


def test_compiled_model_predicts_what_lightgbm_predicts(
    saved_model: tuple[Path, lgb.Booster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("lleaves")
    monkeypatch.setenv(predictor_module.CACHE_ENV, str(tmp_path / "cache"))
    path, booster = saved_model
    fast = predictor(path, booster)
    assert fast.kind == "lleaves"
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 6))
    x[rng.random(x.shape) < 0.2] = np.nan
    np.testing.assert_allclose(fast.predict(x), booster.predict(x), rtol=1e-12, atol=1e-12)
    # the second load reads the cached object file instead of compiling again
    assert len(list((tmp_path / "cache").rglob("*.o"))) == 1
    again = predictor(path, booster)
    np.testing.assert_allclose(again.predict(x), booster.predict(x), rtol=1e-12, atol=1e-12)


def test_without_lleaves_lightgbm_predicts(
    saved_model: tuple[Path, lgb.Booster], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_lleaves(name: str, *args: object, **kwargs: object) -> object:
        if name == "lleaves":
            raise ImportError("lleaves is not installed")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_lleaves)
    path, booster = saved_model
    slow = predictor(path, booster)
    assert isinstance(slow, BoosterPredictor)
    x = np.random.default_rng(2).normal(size=(50, 6))
    np.testing.assert_array_equal(slow.predict(x), booster.predict(x))
