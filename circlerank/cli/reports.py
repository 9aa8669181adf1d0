"""Where a command's JSON and HTML report go: DIR/<name>.json and DIR/<name>.html."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from circlerank.errors import OutputError


def write_outputs(
    directory: Path, name: str, data: dict[str, Any], title: str, sections: list[str], subtitle: str
) -> None:
    from evaluation.report import write_report

    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise OutputError(f"--out {directory}: cannot write ({exc})") from exc
    page = write_report(directory / f"{name}.html", title, sections, subtitle)
    sys.stderr.write(f"wrote {directory / f'{name}.json'} and {page}\n")
