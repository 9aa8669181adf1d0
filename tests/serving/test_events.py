"""POST /v1/events: durable, idempotent, per-row rejections, and the round trip back
to the contract's events table."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd

from features.contract import load_contract
from serving.eventlog import SQLiteEventLog, contract_events

from .conftest import AUTH, ServedWorld


def _event(i: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "event_id": f"e{i}",
        "ts": f"2026-03-21T10:{i % 60:02d}:00Z",
        "user_id": "u00001",
        "surface": "feed",
        "item_id": "p000001",
        "action": "click",
        "request_id": "r1",
        "position": i % 10,
        "propensity": 0.5,
        "arm": "control",
    }
    return row | changes


def _stored(tmp_path: Path) -> pd.DataFrame:
    log = SQLiteEventLog(tmp_path / "events.db")
    try:
        return log.read()
    finally:
        log.close()


def test_a_good_batch_is_stored_before_202(api, tmp_path: Path) -> None:
    rows = [_event(i) for i in range(5)]
    with api() as client:
        got = client.post("/v1/events", json=rows, headers=AUTH)
        # read through a second connection while the server still runs: it is on disk
        stored = _stored(tmp_path)
    assert got.status_code == 202
    assert got.json()["accepted"] == 5 and got.json()["rejected"] == []
    posted = stored[stored["origin"] == "posted"]
    assert posted["event_id"].tolist() == [f"e{i}" for i in range(5)]


def test_bad_rows_are_reported_by_index_and_the_good_ones_kept(api, tmp_path: Path) -> None:
    rows = [
        _event(0),
        _event(1, action="join"),  # not a feed action
        _event(2, propensity=0),
        _event(3),
        _event(4, ts="yesterday"),
        _event(5, position=-1),
        _event(6, surface="inbox"),
        _event(7, ts="2999-01-01T00:00:00Z"),
        {k: v for k, v in _event(8).items() if k != "user_id"},
        _event(9, colour="red"),
        "not an object",
        # a valid ISO time whose UTC is before year 1 (found by the OpenAPI fuzz: 500)
        _event(11, ts="0001-01-01T00:00:00+00:01"),
    ]
    with api() as client:
        got = client.post("/v1/events", json=rows, headers=AUTH)
    assert got.status_code == 202
    body = got.json()
    assert body["accepted"] == 2
    by_index = {r["index"]: r for r in body["rejected"]}
    assert set(by_index) == {1, 2, 4, 5, 6, 7, 8, 9, 10, 11}
    assert by_index[11]["field"] == "ts" and "range" in by_index[11]["reason"]
    assert "not valid on feed" in by_index[1]["reason"]
    assert by_index[2]["field"] == "propensity"
    assert by_index[4]["field"] == "ts" and by_index[7]["field"] == "ts"
    assert "future" in by_index[7]["reason"]
    assert by_index[5]["field"] == "position" and by_index[6]["field"] == "surface"
    assert by_index[8]["field"] == "user_id" and by_index[9]["field"] == "colour"
    assert set(_stored(tmp_path)["event_id"]) == {"e0", "e3"}


def test_a_batch_with_no_good_row_is_422(api, tmp_path: Path) -> None:
    with api() as client:
        got = client.post("/v1/events", json=[_event(0, action="nope")], headers=AUTH)
        not_json = client.post(
            "/v1/events", content=b"{oops", headers=AUTH | {"content-type": "application/json"}
        )
        not_list = client.post("/v1/events", json={"event_id": "e1"}, headers=AUTH)
    assert got.status_code == 422 and got.json()["rejected"][0]["index"] == 0
    assert not_json.status_code == 422 and "not JSON" in not_json.json()["detail"]
    assert not_list.status_code == 422 and "JSON array" in not_list.json()["detail"]
    assert _stored(tmp_path).empty


def test_reposting_is_idempotent(api, tmp_path: Path) -> None:
    with api() as client:
        first = client.post("/v1/events", json=[_event(0), _event(1)], headers=AUTH).json()
        again = client.post("/v1/events", json=[_event(1), _event(2), _event(2)], headers=AUTH)
    assert first["accepted"] == 2
    assert again.json()["accepted"] == 1 and again.json()["duplicates"] == 2
    assert sorted(_stored(tmp_path)["event_id"]) == ["e0", "e1", "e2"]


def test_an_oversized_batch_is_413(api) -> None:
    with api(max_events_per_batch=3) as client:
        got = client.post("/v1/events", json=[_event(i) for i in range(4)], headers=AUTH)
    assert got.status_code == 413


def test_events_round_trip_to_the_contract_events_table(
    api, served_world: ServedWorld, tmp_path: Path
) -> None:
    """Served impressions and posted events export as an events table that the contract
    reader accepts whole, with the values that went in."""
    world = load_contract(served_world.data)
    posts = world["posts"]["post_id"].tolist()
    users = served_world.users
    rows = [
        _event(i, user_id=users[i], item_id=posts[i], action=("click", "like", "hide")[i % 3])
        for i in range(30)
    ]
    with api() as client:
        assert client.post("/v1/events", json=rows, headers=AUTH).status_code == 202
        page = client.get("/v1/feed", params={"user_id": users[5], "limit": 4}, headers=AUTH)
        time.sleep(0.3)  # served impressions are written in the background, within 0.1 s
        stored = _stored(tmp_path)
    served = stored[stored["origin"] == "served"].reset_index(drop=True)
    items = page.json()["items"]
    assert served["item_id"].tolist() == [i["item_id"] for i in items]
    assert served["position"].tolist() == [i["rank"] for i in items]
    assert served["propensity"].tolist() == [i["propensity"] for i in items]
    assert set(served["arm"]) == {"default"} and set(served["action"]) == {"impression"}
    assert set(served["request_id"]) == {page.json()["request_id"]}

    log = SQLiteEventLog(tmp_path / "events.db")
    events = contract_events(log)
    log.close()
    copy = tmp_path / "world"
    shutil.copytree(served_world.data, copy)
    (copy / "events.parquet").unlink()
    events.to_parquet(copy / "events.parquet", index=False)
    reread = load_contract(copy)
    report = reread.report.tables["events"]
    assert (report.read, report.accepted, report.quarantined) == (len(events), len(events), 0)
    back = reread["events"].set_index("event_id")
    for row in rows:
        got = back.loc[row["event_id"]]
        assert got["action"] == row["action"] and got["item_id"] == row["item_id"]
        assert got["ts"] == pd.Timestamp(str(row["ts"]))
        assert got["propensity"] == row["propensity"] and got["position"] == row["position"]
