"""The HTML report opens in headless Chromium: it parses, draws every plot, and a
screenshot is taken. CI installs Chromium (.ci/run); elsewhere the test needs it on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from evaluation import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _page(tmp_path: Path) -> Path:
    sections = [
        report.section(
            "bars", report.interval_bars(["a", "b"], [0.2, -0.1], [0.1, -0.3], [0.3, 0.05], 0.0)
        ),
        report.section(
            "lines",
            report.lines(
                {"x": ([1, 2, 3], [0.1, 0.2, 0.15])},
                bands={"band": ([1, 2, 3], [0.0, 0.1, 0.05], [0.2, 0.3, 0.25])},
            ),
        ),
        report.section("lorenz", report.lines({"s": report.lorenz([0, 1, 5, 10])}, diagonal=True)),
        report.section("table", report.table(["name", "value"], [["<b>x</b>", 1.5], ["y", None]])),
    ]
    return report.write_report(tmp_path / "report.html", "Test report", sections)


def test_the_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    page = _page(tmp_path).read_text()
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    assert "&lt;b&gt;x&lt;/b&gt;" in page and page.count("<svg") == 3


@pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true", reason="Chromium is not installed"
)
def test_the_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM is not None, "CI must install Chromium (.ci/run)"
    page = _page(tmp_path)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1000,1400"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count("<svg") == 3 and "Test report" in dom and "polyline" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
