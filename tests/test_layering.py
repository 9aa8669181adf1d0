"""Data flows one way: contract tables -> features -> training -> bundle -> ranking ->
serving, with evaluation on top. A lower package importing a higher one (even inside a
function) is a cycle waiting to happen; this reads every import statement."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HIGHER = {
    "features": {"training", "ranking", "serving", "evaluation"},
    "training": {"ranking", "serving", "evaluation"},
    "ranking": {"serving", "evaluation"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(HIGHER))
def test_a_package_imports_nothing_above_it(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    wrong = {
        str(f.relative_to(ROOT)): sorted(_imported_packages(f) & HIGHER[package]) for f in files
    }
    assert {f: p for f, p in wrong.items() if p} == {}
