"""`circlerank demo`: the whole loop on a small simulated world, on the embedded default.

simulate -> validate -> features -> train -> rank, then the ranking quality of each
strategy against the simulator's truth, then the API: a ranked page over HTTP and an
event posted back, and last an HTML report (quality, off-policy estimates, a rehearsed
A/B test).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from circlerank.errors import ConfigError
from circlerank.progress import step
from features.contract import load_contract

from .simulate import add_world_arguments, run_simulation


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole loop on a small simulated world",
        description=(
            "Simulate a small world, validate it, materialize its features, train the "
            "models at the split, rank every strategy for the truth users and print what "
            "each step produced, ending with share of oracle per strategy."
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


def run(args: argparse.Namespace) -> int:
    from evaluation.quality import quality_rows, read_truth, render
    from features.compute import FeatureBuilder
    from features.materialize import write_snapshot
    from features.training_rows import logged_impressions
    from ranking.replay import Replayer
    from ranking.for_training import ServingCandidates
    from training.train import train

    with step(f"simulating {args.users:,} users x {args.days} days"):
        result = run_simulation(args)
    with step("validating the world against the data contract"):
        data = load_contract(args.out)
    sys.stdout.write("\n== validation report ==\n")
    sys.stdout.write(data.report.render_text() + "\n")

    feature_dir = Path(args.out).parent / "features"
    builder = FeatureBuilder(data)
    with step("materializing features at the split"):
        snapshot = write_snapshot(builder, feature_dir, result.split_time)
    impressions = logged_impressions(data, "feed")
    with step(f"point-in-time features of {len(impressions):,} feed impressions"):
        training = builder.for_requests(impressions, "feed")
    sys.stdout.write("\n== features ==\n")
    sys.stdout.write(f"views on: {len(snapshot.schema.views)}, off: {len(snapshot.schema.off)}\n")
    for entity, count in snapshot.rows.items():
        width = len(snapshot.schema.columns[entity])
        sys.stdout.write(f"  {entity:<12} {count:>9,} rows x {width:>3} features\n")
    sys.stdout.write(
        f"feed training rows: {len(training):,} x {training.shape[1] - 3} features "
        f"(each as of its own impression)\nstores: {feature_dir}\n"
    )
    sys.stdout.write(f"truth for evaluation: {result.truth_dir}\n")

    models = Path(args.out).parent / "models"
    with step("training at the split"):
        bundle = train(data, ServingCandidates(), until=result.split_time)
        bundle.save(models)
    sys.stdout.write(f"\n== models ==\nbundle {bundle.version} in {models}\n")
    for surface, metrics in bundle.manifest["metrics"].items():
        heads = metrics["heads"]
        aucs = ", ".join(f"{k[:-4]} {v:.3f}" for k, v in heads.items() if k.endswith("_auc"))
        sys.stdout.write(f"  {surface} validation AUC: {aucs}\n")
    for surface, reason in bundle.manifest["skipped"].items():
        sys.stdout.write(f"  {surface} not trained: {reason}\n")
    replayer = Replayer(
        data, bundle, result.split_time, feature_dir=feature_dir, reuse_snapshot=True
    )
    try:
        rows = quality_rows(replayer, read_truth(result.truth_dir))
    finally:
        replayer.close()
    sys.stdout.write("\n== ranking quality at the split (share of oracle) ==\n")
    sys.stdout.write(render(rows) + "\n")
    root = Path(args.out).parent
    user = str(read_truth(result.truth_dir)["feed"]["user_id"].iloc[0])
    with step("starting the API and asking it for a feed"):
        served = call_the_api(root, Path(args.out), models, user)
    sys.stdout.write(served)
    from evaluation.demo_report import write_demo_report

    with step("writing the evaluation report"):
        page, summary = write_demo_report(root / "report", rows, result.truth_dir, args.seed)
    rehearsal = summary["ab"]["metrics"]["positives_per_impression"]["short"]
    sys.stdout.write(
        f"\n== report ==\n{page} (open in a browser): share of oracle per strategy, "
        "off-policy estimates vs truth, and a rehearsed A/B test (short pages: clicks per "
        f"impression {rehearsal['diff']:+.4f}, p {rehearsal['p_value']:.2g})\n"
    )
    return 0


def call_the_api(root: Path, data: Path, models: Path, user: str) -> str:
    """Serve the world over HTTP on loopback, ask for a page, post an event; what the
    API answered, as text."""
    import secrets
    import socket
    import threading
    import time

    import httpx
    import uvicorn

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
        ready = httpx.get(f"{base}/readyz").json()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    lines = [
        f"\n== the API (http://127.0.0.1:{port}, docs at /docs) ==",
        f"GET /v1/feed?user_id={user}&limit=5 -> {page.status_code}, model "
        f"{body['model_version']}, strategy {body['strategy']}, arm {body['arm']}",
    ]
    lines += [
        f"  {i['rank']}. {i['item_id']}  score {i['score']:.3f}  {i['explanation']}"
        for i in body["items"]
    ]
    lines.append(
        f"POST /v1/events (a click on the first post) -> {posted.status_code} {posted.json()}"
    )
    lines.append(
        f"event log: {ready['event_log']}; next: circlerank serve --data {data} "
        f"--models {models} (CIRCLERANK_API_TOKENS=...)"
    )
    return "\n".join(lines) + "\n"
