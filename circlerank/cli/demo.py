"""`circlerank demo`: the whole loop on a small simulated world, on the embedded default.

simulate -> validate -> features -> train -> rank, then the ranking quality of each
strategy against the simulator's truth, then the API: a ranked page over HTTP and an
event posted back, and last an HTML report (quality, off-policy estimates, a rehearsed
A/B test). Stdout gets one screen of results, each figure with what it means; stderr a
line as each stage starts and ends (`--verbose` for every nested step).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from circlerank.errors import ConfigError
from circlerank.progress import step
from features.contract import load_contract

from .simulate import add_world_arguments, run_simulation

WIDTH = 100  # of a result line on the terminal

if TYPE_CHECKING:
    from features.contract import ContractData
    from training.bundle import Bundle


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole loop on a small simulated world",
        description=(
            "Simulate a small world, validate it, materialize its features, train the "
            "models at the split, rank every strategy for the truth users, ask the API for "
            "a feed and write an HTML report. Prints one screen of results (share of oracle "
            "per strategy with the default marked, the API's answer, the verdict of a "
            "rehearsed A/B test); progress goes to stderr."
        ),
    )
    parser.add_argument(
        "--out",
        default="demo/world",
        metavar="DIR",
        help="where the world goes (default demo/world)",
    )
    add_world_arguments(parser, users=2_000, days=30)
    parser.set_defaults(handler=run)


def say(*lines: str) -> None:
    """Results on stdout, each line wrapped to the width of a terminal."""
    wrapped = [
        "\n".join(textwrap.wrap(line, WIDTH, subsequent_indent="    ", break_on_hyphens=False))
        or line
        for text in lines
        for line in text.split("\n")
    ]
    sys.stdout.write("\n".join(wrapped) + "\n")


def run(args: argparse.Namespace) -> int:
    from evaluation.demo_report import REHEARSAL, quality_text, write_demo_report
    from evaluation.quality import quality_rows, read_truth
    from features.compute import FeatureBuilder
    from features.materialize import write_snapshot
    from features.training_rows import logged_impressions
    from ranking.for_training import ServingCandidates
    from ranking.replay import Replayer
    from training.train import train

    root = Path(args.out).parent
    say(f"circlerank demo: {args.users:,} simulated users x {args.days} days, seed {args.seed}")
    with step(f"1/7 simulating {args.users:,} users x {args.days} days"):
        result = run_simulation(args)
    with step("2/7 validating the world against the data contract"):
        data = load_contract(args.out)
    say("", f"data     {args.out}: {_validation_line(data)}")

    feature_dir = root / "features"
    builder = FeatureBuilder(data)
    impressions = logged_impressions(data, "feed")
    with step("3/7 features: a snapshot at the split and one row per logged impression"):
        snapshot = write_snapshot(builder, feature_dir, result.split_time)
        training = builder.for_requests(impressions, "feed")
    say(
        f"features {feature_dir}: {len(snapshot.schema.views)} views, {len(snapshot.rows)} "
        f"entities; {len(training):,} training rows x {training.shape[1] - 3} features (point "
        "in time)"
    )

    models = root / "models"
    with step("4/7 training the models at the split"):
        bundle = train(data, ServingCandidates(), until=result.split_time)
        bundle.save(models)
    say(*_model_lines(bundle, models))

    truth = read_truth(result.truth_dir)
    replayer = Replayer(
        data, bundle, result.split_time, feature_dir=feature_dir, reuse_snapshot=True
    )
    try:
        with step("5/7 ranking the truth users with every strategy"):
            rows = quality_rows(replayer, truth)
    finally:
        replayer.close()
    say("", "== ranking quality at the split ==", quality_text(rows))

    user = str(truth["feed"]["user_id"].iloc[0])
    with step("6/7 starting the API and asking it for a feed"):
        served = call_the_api(root, Path(args.out), models, user)
    say(served)

    with step("7/7 writing the report (off-policy check, a rehearsed A/B test)"):
        page, summary = write_demo_report(root / "report", rows, result.truth_dir, args.seed)
    control, treatment = REHEARSAL
    say(
        "",
        f"== a rehearsed A/B test: `{treatment}` pages (3 items) vs `{control}` (control) ==",
        summary["ab_verdict"],
        f"report   {page}: open it in a browser for every figure explained",
    )
    return 0


def _validation_line(data: ContractData) -> str:
    tables = data.report.to_dict()["tables"]
    read = sum(t["read"] for t in tables.values())
    bad = sum(t["quarantined"] for t in tables.values())
    state = "no row quarantined" if bad == 0 else f"{bad:,} rows quarantined (see validate)"
    return f"{len(tables)} tables, {read:,} rows read, {state}"


def _model_lines(bundle: Bundle, models: Path) -> list[str]:
    """The bundle and each surface's validation AUC, with what an AUC is."""
    manifest: dict[str, Any] = bundle.manifest
    lines = [f"models   {models}: bundle {bundle.version}; validation AUC (0.5 = chance):"]
    for surface, metrics in manifest["metrics"].items():
        heads = metrics["heads"]
        aucs = ", ".join(f"{k[:-4]} {v:.3f}" for k, v in heads.items() if k.endswith("_auc"))
        lines.append(f"  {surface}: {aucs}")
    lines += [f"  {surface} not trained: {why}" for surface, why in manifest["skipped"].items()]
    return lines


def call_the_api(root: Path, data: Path, models: Path, user: str) -> str:
    """Serve the world over HTTP on loopback, ask for a page, post an event; what the
    API answered, as text."""
    import secrets
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from evaluation.demo_report import default_strategies
    from serving.app import create_app
    from serving.settings import load_settings

    token = secrets.token_urlsafe(16)
    settings = load_settings(
        data=data,
        models=models,
        api_tokens=token,
        snapshot=root / "serving-snapshot",
        event_log=f"sqlite:///{root / 'events.db'}",
        reload_poll_s=0,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise ConfigError("the API did not start; see the log above")
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        page = httpx.get(f"{base}/v1/feed", params={"user_id": user, "limit": 5}, headers=auth)
        page.raise_for_status()
        body = page.json()
        event = {
            "event_id": f"demo-{body['request_id']}",
            "ts": pd.Timestamp.now(tz="UTC").isoformat(),
            "user_id": user,
            "surface": "feed",
            "item_id": body["items"][0]["item_id"],
            "action": "click",
            "request_id": body["request_id"],
            "position": 0,
            "propensity": body["items"][0]["propensity"],
            "arm": body["arm"],
        }
        posted = httpx.post(f"{base}/v1/events", json=[event], headers=auth)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    default = " (the default)" if body["strategy"] == default_strategies()["feed"] else ""
    lines = [
        "",
        "== the API (stopped now; `circlerank serve` runs it) ==",
        f"GET /v1/feed?user_id={user}&limit=5 -> {page.status_code}, strategy "
        f"{body['strategy']}{default}, its page:",
    ]
    lines += [
        f"  {i['rank']}. {i['item_id']}  score {i['score']:.3f}  {i['explanation']}"
        for i in body["items"]
    ]
    answer = posted.json()
    lines.append(
        f"POST /v1/events (a click on the first post) -> {posted.status_code}: "
        f"{answer['accepted']} accepted, {len(answer['rejected'])} rejected"
    )
    lines += [
        "next: export CIRCLERANK_API_TOKENS=$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(24))')",
        f"      circlerank serve --data {data} --models {models}",
    ]
    return "\n".join(lines)
