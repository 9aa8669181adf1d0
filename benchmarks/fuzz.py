"""Fuzzing the API: 0 answers in 5xx expected.

Starts `circlerank serve` on loopback over a small simulated world (500 users x 21
days, an experiment with an exploring arm on the feed), then sends:

- at least --requests requests generated from the server's own OpenAPI schema by
  schemathesis, positive and negative data for every operation (with the API token,
  the admin token on /admin/; every 10th case is sent once more without a token);
- every hand-made hostile request of tests/serving/hostile.py: NUL and other control
  characters, non-ASCII and 10 kB ids, malformed and tampered cursors, deeply nested
  JSON, 5 MB bodies (declared and chunked), non-UTF-8 bodies, 10,001-row batches.

Prints the requests per status class and source, every 5xx and every request left
unanswered (a dropped connection), hostile requests that did not get the status they
must, and the seconds taken; --json prints the same as one JSON object. Exits 1 when
any request answered 5xx, went unanswered or got an unexpected status.

    .venv/bin/python benchmarks/fuzz.py [--requests 10000] [--seed 0] [--json]
        [--world DIR --models DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import httpx  # noqa: E402

from circlerank.local_servers import free_port  # noqa: E402
from tests.serving.hostile import hostile_requests, send  # noqa: E402

TOKEN = "fuzz-api-token-0123"
ADMIN_TOKEN = "fuzz-admin-token-0123"
SPLIT = "2026-03-22T00:00:00+00:00"  # the simulated world's train/serve split (seed 11)
ROUND = 250  # examples per operation and generation mode in one round
UNAUTHENTICATED_EVERY = 10
EXPERIMENTS = """
[experiments.ranker]
surface = "feed"
salt = "fuzz"

[[experiments.ranker.arms]]
name = "control"
share = 0.5
strategy = "community"

[[experiments.ranker.arms]]
name = "explore"
share = 0.5
strategy = "community"
exploration = { kind = "epsilon_greedy", epsilon = 0.5, pool = 12 }
"""


@dataclass
class Tally:
    """Requests per status class, per source, and the ones that went wrong."""

    classes: Counter[str] = field(default_factory=Counter)
    by_source: dict[str, Counter[str]] = field(default_factory=dict)
    server_errors: list[dict[str, Any]] = field(default_factory=list)
    unanswered: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    unsendable: int = 0  # generated requests the HTTP client itself refused to send

    def add(self, source: str, status: int | None, what: dict[str, Any]) -> None:
        kind = "unanswered" if status is None else f"{status // 100}xx"
        self.classes[kind] += 1
        self.by_source.setdefault(source, Counter())[kind] += 1
        if status is None:
            self.unanswered.append(what)
        elif status >= 500:
            self.server_errors.append({**what, "status": status})

    @property
    def requests(self) -> int:
        return sum(self.classes.values())


def build_world(tmp: Path) -> tuple[Path, Path]:
    world, models = tmp / "world", tmp / "models"
    env = os.environ | {"PYTHONPATH": str(HERE.parent)}
    cli = [sys.executable, "-m", "circlerank.cli.main", "-q"]
    simulate = ["simulate", "--out", str(world), "--users", "500", "--days", "21", "--seed", "11"]
    train = ["train", "--data", str(world), "--out", str(models), "--until", SPLIT]
    for step in (simulate, train):
        subprocess.run([*cli, *step], check=True, env=env, stdout=subprocess.DEVNULL)
    return world, models


@contextlib.contextmanager
def serving(world: Path, models: Path, tmp: Path) -> Iterator[str]:
    """A started server's base URL; stopped on exit."""
    experiments = tmp / "experiments.toml"
    experiments.write_text(EXPERIMENTS)
    port = free_port()
    env = os.environ | {
        "CIRCLERANK_API_TOKENS": TOKEN,
        "CIRCLERANK_ADMIN_TOKENS": ADMIN_TOKEN,
        "CIRCLERANK_COMPILE_TREES": "false",
        "PYTHONPATH": str(HERE.parent),
    }
    command = [sys.executable, "-m", "circlerank.cli.main", "-q", "serve"]
    command += ["--data", str(world), "--models", str(models), "--port", str(port)]
    command += ["--snapshot", str(tmp / "snapshot"), "--experiments", str(experiments)]
    command += ["--event-log", f"sqlite:///{tmp / 'events.db'}"]
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        if server.poll() is not None:
            raise SystemExit("the server exited during start-up")
        time.sleep(0.5)
    raise SystemExit("the server was not ready in 600 s")


def _token_for(path: str) -> dict[str, str]:
    token = ADMIN_TOKEN if path.startswith("/admin/") else TOKEN
    return {"Authorization": f"Bearer {token}"}


def generated(base: str, target: int, seed: int, tally: Tally) -> dict[str, int]:
    """Sends at least `target` requests generated from the OpenAPI schema, in rounds of
    ROUND examples per operation and mode (one round for an operation without inputs),
    until every pair is exhausted or the target met; the examples generated per
    operation and mode."""
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    pairs = [(op, mode) for op in operations for mode in schemathesis.GenerationMode]
    examples: Counter[str] = Counter()
    sender = CaseSender(base, tally)
    round_ = 0
    while pairs and tally.requests < target:
        still = []
        for index, (operation, mode) in enumerate(pairs):
            label = f"{operation.method.upper()} {operation.path} {mode.value}"
            drawn = _run_examples(
                operation.as_strategy(generation_mode=mode),
                seed * 1_000_003 + round_ * 1_009 + index,
                lambda case, label=label: sender.send(case, label),
            )
            examples[label] += drawn
            if drawn >= ROUND // 2 and _has_inputs(operation):  # more to draw
                still.append((operation, mode))
            if tally.requests >= target:
                break
        pairs = still
        round_ += 1
    return dict(examples)


def _has_inputs(operation: Any) -> bool:
    """Whether the operation takes parameters or a body (else one round is plenty)."""
    raw = operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def _run_examples(strategy: Any, seed_value: int, each: Callable[[Any], None]) -> int:
    """Calls `each` on up to ROUND cases drawn from the strategy; how many were drawn
    (fewer once hypothesis has tried every input an operation has)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded
    from hypothesis.errors import Unsatisfiable

    drawn = 0

    @seeded(seed_value)
    @settings(
        max_examples=ROUND,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal drawn
        drawn += 1
        each(case)

    with contextlib.suppress(Unsatisfiable):  # e.g. no negative data for a bare GET
        run()
    return drawn


class CaseSender:
    """Sends generated cases with the right token, every UNAUTHENTICATED_EVERY-th once
    more without one, and tallies the answers."""

    def __init__(self, base: str, tally: Tally) -> None:
        import requests

        self.base = base
        self.tally = tally
        self.session = requests.Session()
        self.sent = 0

    def send(self, case: Any, label: str) -> None:
        self.sent += 1
        self._call(case, label, _token_for(case.path))
        if self.sent % UNAUTHENTICATED_EVERY == 0:
            self._call(case, label, {})

    def _call(self, case: Any, label: str, headers: dict[str, str]) -> None:
        import requests

        what = {"source": label, "method": case.method, "path": case.formatted_path}
        try:
            response = case.call(
                base_url=self.base, session=self.session, headers=headers, timeout=120
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            self.tally.add("schemathesis", None, {**what, "error": repr(exc)[:300]})
            return
        except (requests.RequestException, ValueError):
            self.tally.unsendable += 1  # e.g. a header value the client cannot encode
            return
        status = response.status_code
        if status >= 500:
            what |= {"query": str(case.query)[:300], "body": str(case.body)[:300]}
            what["response"] = response.text[:300]
        self.tally.add("schemathesis", status, what)


def hostile(base: str, tally: Tally) -> int:
    """Sends every hand-made hostile request; how many there were."""
    with httpx.Client(base_url=base, headers=_token_for("/v1/"), timeout=120) as client:
        user = "u00001"
        page = client.get("/v1/feed", params={"user_id": user, "limit": 2})
        cursor = page.json()["next_cursor"] if page.status_code == 200 else None
        every = hostile_requests(user, cursor)
        for request in every:
            what = {"source": "hostile", "name": request.name}
            try:
                status = send(client, request)
            except httpx.HTTPError as exc:
                tally.add("hostile", None, {**what, "error": repr(exc)[:300]})
                continue
            tally.add("hostile", status, what)
            if request.expect is not None and status != request.expect:
                tally.unexpected.append({**what, "status": status, "expected": request.expect})
    return len(every)


def report(
    tally: Tally, seconds: float, examples: dict[str, int], hostile_count: int
) -> dict[str, Any]:
    return {
        "requests": tally.requests,
        "seconds": round(seconds, 1),
        "status_classes": dict(sorted(tally.classes.items())),
        "by_source": {k: dict(sorted(v.items())) for k, v in tally.by_source.items()},
        "server_errors_5xx": len(tally.server_errors),
        "unanswered": len(tally.unanswered),
        "hostile_requests": hostile_count,
        "hostile_unexpected_status": tally.unexpected,
        "generated_examples": examples,
        "unsendable_generated": tally.unsendable,
        "5xx": tally.server_errors[:50],
        "unanswered_samples": tally.unanswered[:50],
    }


def print_report(figures: dict[str, Any]) -> None:
    print(
        f"{figures['requests']:,} requests in {figures['seconds']:.0f} s "
        f"({figures['requests'] / max(figures['seconds'], 1e-9):.0f}/s)"
    )
    classes = ["2xx", "3xx", "4xx", "5xx", "unanswered"]
    print(f"\n{'source':<14}" + "".join(f"{c:>12}" for c in classes))
    rows = {**figures["by_source"], "all": figures["status_classes"]}
    for source, counts in rows.items():
        print(f"{source:<14}" + "".join(f"{counts.get(c, 0):>12,}" for c in classes))
    print("\ngenerated examples per operation and mode:")
    for label, count in sorted(figures["generated_examples"].items()):
        print(f"  {label:<42} {count:>7,}")
    print(f"  (cases the HTTP client refused to send: {figures['unsendable_generated']:,})")
    print(f"\nhand-made hostile requests: {figures['hostile_requests']:,}")
    print(f"5xx: {figures['server_errors_5xx']}, unanswered: {figures['unanswered']}")
    for sample in figures["5xx"] + figures["unanswered_samples"]:
        print(f"  {sample}")
    for wrong in figures["hostile_unexpected_status"]:
        print(f"  unexpected status: {wrong}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="generated ones, at least")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--world", help="a simulated world (with --models): skip building one")
    parser.add_argument("--models")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crfuzz-") as tmp_name:
        tmp = Path(tmp_name)
        if args.world and args.models:
            world, models = Path(args.world), Path(args.models)
        else:
            world, models = build_world(tmp)
        with serving(world, models, tmp) as base:
            tally = Tally()
            started = time.perf_counter()
            examples = generated(base, args.requests, args.seed, tally)
            hostile_count = hostile(base, tally)
            figures = report(tally, time.perf_counter() - started, examples, hostile_count)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_report(figures)
    failed = (
        figures["server_errors_5xx"]
        or figures["unanswered"]
        or figures["hostile_unexpected_status"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
