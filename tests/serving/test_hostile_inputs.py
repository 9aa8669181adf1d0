"""Hostile input at the edge: the id policy (422 naming the field), the body cap (413
before parsing), bounded JSON depth (422), batches judged off the event loop, 500s that
carry a request id only, and every hand-made hostile request against a real server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from circlerank.errors import ConfigError, OutputError
from serving.routes import events
from serving.settings import load_settings

from .conftest import AUTH, TOKEN, ServedWorld
from .hostile import CONTROL, EVENT, ID_FIELDS, hostile_requests, send
from .server_process import free_port, start_server

SURFACES = ["/v1/feed", "/v1/circles/suggestions"]


def _loc(response: httpx.Response) -> list[list[str]]:
    return [error["loc"] for error in response.json()["detail"]]


def test_control_characters_in_query_ids_are_422_naming_the_field(
    api, served_world: ServedWorld
) -> None:
    user = served_world.users[0]
    with api() as client:
        for path in SURFACES:
            for value in CONTROL:
                got = client.get(path, params={"user_id": value}, headers=AUTH)
                assert got.status_code == 422, (path, value, got.text)
                assert _loc(got) == [["query", "user_id"]]
                assert "ids are 1-128 characters, no control characters" in got.text
                got = client.get(path, params={"user_id": user, "strategy": value}, headers=AUTH)
                assert got.status_code == 422, (path, value, got.text)
                assert _loc(got) == [["query", "strategy"]]


def test_the_id_policy_names_the_character_and_where_it_is(api) -> None:
    with api() as client:
        got = client.get("/v1/feed", params={"user_id": "ab\x00c"}, headers=AUTH)
    assert "contains U+0000 at position 2" in got.json()["detail"][0]["msg"]


def test_printable_non_ascii_ids_up_to_128_characters_are_served(api) -> None:
    with api() as client:
        for user in ["usuário-é", "用户-😀", "\u202eevil", "x" * 128]:
            got = client.get("/v1/feed", params={"user_id": user}, headers=AUTH)
            assert got.status_code == 200, (user, got.text)
        got = client.get("/v1/feed", params={"user_id": "x" * 129}, headers=AUTH)
        assert got.status_code == 422
        assert _loc(got) == [["query", "user_id"]]


def test_a_posted_id_with_a_control_character_is_rejected_by_field_and_its_batch_stored(
    api,
) -> None:
    with api() as client:
        for name in ID_FIELDS:
            good = {**EVENT, "event_id": f"good-next-to-{name}"}
            rows = [good, {**EVENT, "event_id": f"bad-{name}", name: "x\x00y"}]
            got = client.post("/v1/events", json=rows, headers=AUTH)
            assert got.status_code == 202, got.text
            answer = got.json()
            assert answer["accepted"] == 1
            assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, name)]
            assert "U+0000" in answer["rejected"][0]["reason"]


def test_a_body_over_the_cap_is_413_before_it_is_read(api) -> None:
    rows = [{**EVENT, "event_id": f"big-{i}"} for i in range(30)]
    body = json.dumps(rows).encode()
    assert len(body) > 2048
    with api(max_body_bytes=2048) as client:
        declared = client.post("/v1/events", content=body, headers=AUTH)
        streamed = client.post("/v1/events", content=_chunks(body, 512), headers=AUTH)
        unread_get = client.request("GET", "/v1/feed?user_id=u", content=body, headers=AUTH)
        small = client.post("/v1/events", json=rows[:5], headers=AUTH)
        # nothing of the refused bodies was stored: their rows are all new here
        again = client.post("/v1/events", json=rows[5:15], headers=AUTH)
    for refused in (declared, streamed, unread_get):
        assert refused.status_code == 413, refused.text
        assert "over 2,048 bytes (CIRCLERANK_MAX_BODY_BYTES)" in refused.json()["detail"]
    assert small.status_code == 202
    assert again.json()["accepted"] == 10


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_the_body_cap_is_validated_at_load() -> None:
    base = {"data": "-", "models": "-", "api_tokens": TOKEN}
    for bad in (0, 100, "lots"):
        with pytest.raises(ConfigError, match="CIRCLERANK_MAX_BODY_BYTES"):
            load_settings(**base, max_body_bytes=bad)
    assert load_settings(**base).max_body_bytes == 4 * 2**20


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'[{"event_id": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]",
        b"[" * 33 + b"]" * 33,
    ],
    ids=["open", "closed", "objects", "in-a-row", "33-levels"],
)
def test_json_nested_too_deep_is_422_with_a_message(api, body: bytes) -> None:
    with api() as client:
        got = client.post("/v1/events", content=body, headers=AUTH)
    assert got.status_code == 422, got.text
    assert "levels deep; at most 32 are accepted" in got.json()["detail"]


def test_json_depth_skips_brackets_inside_strings() -> None:
    assert events.json_depth(b'[{"a": "[[[{{{", "b": "\\"[[["}]') == 2
    assert events.json_depth(b"[" * 40 + b"]" * 40) == 40
    assert events.json_depth(b'"[[["') == 0
    assert events.json_depth(b"") == 0


def test_a_body_that_is_not_utf8_is_422(api) -> None:
    with api() as client:
        for body in (b"\xff\xfe[]", json.dumps([EVENT]).encode("utf-16")):
            got = client.post("/v1/events", content=body, headers=AUTH)
            assert got.status_code == 422
            assert "not UTF-8" in got.json()["detail"]


def test_batches_are_parsed_and_validated_off_the_event_loop(api, monkeypatch) -> None:
    on_a_loop: list[bool] = []
    parse, judge = events._parse_batch, events._judge

    def running_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def parse_watched(*args):
        on_a_loop.append(running_loop())
        return parse(*args)

    def judge_watched(*args):
        on_a_loop.append(running_loop())
        return judge(*args)

    monkeypatch.setattr(events, "_parse_batch", parse_watched)
    monkeypatch.setattr(events, "_judge", judge_watched)
    rows = [{**EVENT, "event_id": f"off-loop-{i}"} for i in range(2_000)]
    with api() as client:
        got = client.post("/v1/events", json=rows, headers=AUTH)
    assert got.status_code == 202
    assert on_a_loop == [False, False]


def test_a_500_carries_a_request_id_only_and_the_log_has_the_traceback(
    api, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "postgresql://app:hunter2@db/events"

    async def broken() -> None:
        raise RuntimeError(f"cannot reach {secret}")

    async def broken_domain() -> None:
        raise OutputError(f"cannot write to {secret}")

    with api() as client:
        app = client.app
        assert isinstance(app, FastAPI)
        app.add_api_route("/broken", broken)
        app.add_api_route("/broken-domain", broken_domain)
        with caplog.at_level(logging.ERROR, logger="serving.app"):
            answers = [client.get("/broken"), client.get("/broken-domain")]
    for got in answers:
        assert got.status_code == 500
        body = got.json()
        assert set(body) == {"detail", "request_id"}
        assert "hunter2" not in got.text and "cannot" not in got.text
        logged = [r for r in caplog.records if body["request_id"] in r.getMessage()]
        assert len(logged) == 1
        assert logged[0].exc_info is not None
        assert "hunter2" in str(logged[0].exc_info[1])


@pytest.fixture(scope="module")
def real_server(
    served_world: ServedWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    log = tmp_path_factory.mktemp("hostile") / "events.db"
    port = free_port()
    server = start_server(served_world, f"sqlite:///{log}", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_no_hostile_request_answers_5xx_on_a_real_server(
    real_server: str, served_world: ServedWorld
) -> None:
    user = served_world.users[0]
    with httpx.Client(base_url=real_server, headers=AUTH, timeout=60) as client:
        page = client.get("/v1/feed", params={"user_id": user, "limit": 2})
        assert page.status_code == 200
        requests = hostile_requests(user, page.json()["next_cursor"])
        wrong = []
        for request in requests:
            status = send(client, request)
            if status >= 500 or (request.expect is not None and status != request.expect):
                wrong.append((request.name, status, request.expect))
    assert len(requests) > 300
    assert wrong == []
