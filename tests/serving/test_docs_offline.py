"""/docs works without the internet: Swagger UI's files come from the app itself.

The browser test starts a real `circlerank serve` and opens /docs in headless Chromium
that can reach nothing but loopback, then checks that Swagger UI's JavaScript ran and
drew the API's operations. CI installs Chromium (.ci/run); elsewhere it must be on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import ServedWorld
from .server_process import free_port, start_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# every host but loopback resolves to nothing, and a proxy that is not there catches
# whatever would get past that: the page has only what the app serves
OFFLINE = [
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]


def test_docs_page_loads_nothing_from_elsewhere_and_needs_no_token(api) -> None:
    with api() as client:
        page = client.get("/docs")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        fetched = {url: client.get(url) for url in assets}
        redoc = client.get("/redoc")
        made_up = [client.get(f"/docs/assets/nothing-{n}.js") for n in range(3)]
        metrics = client.get("/metrics").text
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert sorted(assets) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
    ]
    assert all(r.status_code == 200 and r.content for r in fetched.values()), fetched
    assert redoc.status_code == 404  # ReDoc would load from a CDN: it is off
    assert [r.status_code for r in made_up] == [404, 404, 404]
    # a path under the mount is any string a client makes up: as a metrics label of its
    # own each would be a new time series
    routes = {
        s.labels["route"]
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "circlerank_requests_total"
    }
    assert routes and not any(route.startswith("/docs/assets/") for route in routes), routes


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true", reason="Chromium is not installed"
)
def test_docs_render_in_chromium_without_the_internet(
    served_world: ServedWorld, tmp_path: Path
) -> None:
    assert CHROMIUM is not None, "CI must install Chromium (.ci/run)"
    port = free_port()
    server = start_server(served_world, f"sqlite:///{tmp_path / 'events.db'}", port)
    try:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", *OFFLINE]
        flags += [f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=10000"]
        dom = subprocess.run(
            [CHROMIUM, *flags, "--dump-dom", f"http://127.0.0.1:{port}/docs"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Swagger UI's JavaScript draws one `opblock` element per operation, its path inside
    blocks = dom.split('class="opblock opblock-')[1:]
    assert blocks, f"Swagger UI drew no operation; the page was:\n{dom[:2000]}"
    paths = {m[1] for block in blocks if (m := re.search(r'data-path="([^"]+)"', block))}
    assert {"/v1/feed", "/v1/circles/suggestions", "/v1/events", "/readyz"} <= paths, paths
