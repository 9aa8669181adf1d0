"""The wire format, auth, parameter errors and cold start of the ranked routes."""

from __future__ import annotations

import pytest

from .conftest import AUTH, ServedWorld

RANKED = ("/v1/feed", "/v1/circles/suggestions")
RESPONSE_KEYS = {
    "request_id",
    "model_version",
    "strategy",
    "arm",
    "experiment",
    "items",
    "next_cursor",
}
ITEM_KEYS = {"item_id", "rank", "score", "propensity", "reasons", "explanation"}


@pytest.mark.parametrize("path", RANKED)
def test_a_ranked_page_has_the_wire_format(api, served_world: ServedWorld, path: str) -> None:
    with api() as client:
        got = client.get(path, params={"user_id": served_world.users[3], "limit": 4}, headers=AUTH)
    assert got.status_code == 200
    body = got.json()
    assert set(body) == RESPONSE_KEYS
    assert body["arm"] == "default" and body["experiment"] is None
    assert body["model_version"] == (served_world.models / "current").resolve().name
    assert 0 < len(body["items"]) <= 4
    for rank, item in enumerate(body["items"]):
        assert set(item) == ITEM_KEYS
        assert item["rank"] == rank and item["propensity"] == 1.0
        assert item["reasons"] and item["explanation"]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/v1/feed"), ("get", "/v1/circles/suggestions"), ("post", "/v1/events")],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-xyz"}, {"Authorization": "Basic abc"}]
)
def test_every_v1_route_refuses_without_a_valid_token(api, method, path, headers) -> None:
    with api() as client:
        kwargs = {"json": []} if method == "post" else {"params": {"user_id": "u00001"}}
        got = getattr(client, method)(path, headers=headers, **kwargs)
    assert got.status_code == 401
    assert got.headers["www-authenticate"] == "Bearer"
    assert set(got.json()) == {"detail"}  # no data


def test_several_tokens_are_accepted(api, served_world: ServedWorld) -> None:
    with api(api_tokens="first-token-1,second-token-2") as client:
        for token in ("first-token-1", "second-token-2"):
            got = client.get(
                "/v1/feed",
                params={"user_id": served_world.users[0]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert got.status_code == 200


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"user_id": "u00001", "limit": 0}, "limit must be greater than or equal to 1 (got '0')"),
        ({"user_id": "u00001", "limit": 101}, "limit must be less than or equal to 100"),
        ({"user_id": "u00001", "limit": "ten"}, "limit must be a valid integer"),
        ({"user_id": ""}, "user_id is empty"),
        ({}, "user_id is missing"),
        ({"user_id": "u00001", "strategy": "nope"}, "valid: "),
        ({"user_id": "u00001", "cursor": "garbage"}, "malformed cursor"),
    ],
)
def test_bad_parameters_get_422_with_a_message(api, params, fragment) -> None:
    with api() as client:
        got = client.get("/v1/feed", params=params, headers=AUTH)
    assert got.status_code == 422
    assert fragment in str(got.json()["detail"])
    for library_wording in ("Field required", "Input should", "Value error"):
        assert library_wording not in got.text


def test_unknown_strategy_lists_the_valid_ones(api) -> None:
    with api() as client:
        got = client.get("/v1/feed", params={"user_id": "u1", "strategy": "nope"}, headers=AUTH)
    assert "community" in got.json()["detail"] and "engagement" in got.json()["detail"]


@pytest.mark.parametrize("path", RANKED)
def test_an_unknown_user_gets_the_cold_start_page(api, path: str) -> None:
    with api() as client:
        got = client.get(path, params={"user_id": "never-seen-before", "limit": 5}, headers=AUTH)
    assert got.status_code == 200
    items = got.json()["items"]
    assert len(items) == 5  # the popularity fallback fills the page


def test_a_cursor_pages_on_without_repeats(api, served_world: ServedWorld) -> None:
    user = served_world.users[7]
    seen: list[str] = []
    with api() as client:
        cursor = None
        for _ in range(3):
            params = {"user_id": user, "limit": 3} | ({"cursor": cursor} if cursor else {})
            body = client.get("/v1/feed", params=params, headers=AUTH).json()
            assert [i["rank"] for i in body["items"]] == list(
                range(len(seen), len(seen) + len(body["items"]))
            )
            seen += [i["item_id"] for i in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        other = client.get(
            "/v1/feed", params={"user_id": "someone-else", "cursor": cursor}, headers=AUTH
        )
    assert len(seen) == len(set(seen))
    if cursor is not None:
        assert other.status_code == 422  # a cursor is bound to its user


def test_health_and_readiness_need_no_token(api, served_world: ServedWorld) -> None:
    with api() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] and body["missing"] == []
    assert body["event_log"].startswith("sqlite:///") and body["model_version"]


def test_not_ready_without_a_bundle_says_why(api, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    with api(models=tmp_path / "empty") as client:
        ready = client.get("/readyz")
        feed = client.get("/v1/feed", params={"user_id": "u00001"}, headers=AUTH)
        alive = client.get("/healthz")
    assert ready.status_code == 503
    assert "no model bundle here" in ready.json()["missing"][0]
    assert feed.status_code == 503 and alive.status_code == 200


def test_openapi_docs_are_served(api) -> None:
    with api() as client:
        spec = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    assert {"/v1/feed", "/v1/circles/suggestions", "/v1/events", "/readyz"} <= set(spec["paths"])
