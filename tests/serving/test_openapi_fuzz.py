"""Schemathesis drives every operation of the OpenAPI spec, with and without a token,
with valid and invalid inputs: no response may be a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from serving.app import create_app
from serving.settings import load_settings

from .conftest import ADMIN_TOKEN, AUTH, ServedWorld

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def started_app(served_world: ServedWorld, tmp_path_factory: pytest.TempPathFactory):
    from fastapi.testclient import TestClient

    log = tmp_path_factory.mktemp("fuzz") / "events.db"
    app = create_app(
        load_settings(
            data=served_world.data,
            models=served_world.models,
            snapshot=served_world.snapshot,
            api_tokens=AUTH["Authorization"].removeprefix("Bearer "),
            admin_tokens=ADMIN_TOKEN,
            event_log=f"sqlite:///{log}",
            reload_poll_s=0,
            compile_trees=False,
        )
    )
    with TestClient(app):  # runs the lifespan: the app is started for the module
        yield app


# the spec does not depend on the data: read it from an app that is never started, and
# send the generated requests to the started one
_SPEC_APP = create_app(load_settings(data="-", models="-", api_tokens="spec-only-token"))
schema = schemathesis.openapi.from_dict(_SPEC_APP.openapi())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case, started_app) -> None:
    for headers in (AUTH, {}):
        response = case.call(headers=headers, app=started_app)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])
