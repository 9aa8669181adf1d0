"""The validation report: per table read / accepted / quarantined and reasons.

`to_dict()` is a public wire format (`circlerank validate --json`); keep its shape:
{"as_of", "tables": {table: {"read", "accepted", "quarantined", "reasons"}},
 "absent": [...], "quarantine_dir"}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class TableReport:
    read: int
    accepted: int
    quarantined: int
    reasons: dict[str, int]

    def __post_init__(self) -> None:
        if self.accepted + self.quarantined != self.read:
            raise AssertionError(f"accepted + quarantined != read in {self}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "reasons": dict(sorted(self.reasons.items())),
        }


@dataclass
class ValidationReport:
    as_of: pd.Timestamp
    quarantine_dir: str
    tables: dict[str, TableReport] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
            "absent": list(self.absent),
            "quarantine_dir": self.quarantine_dir,
        }

    def render_text(self) -> str:
        """A table for people: one line per table, reasons indented below it."""
        lines = [
            f"as of {self.as_of.isoformat()}",
            f"{'table':<15}{'read':>12}{'accepted':>12}{'quarantined':>13}",
        ]
        for name, t in self.tables.items():
            lines.append(f"{name:<15}{t.read:>12,}{t.accepted:>12,}{t.quarantined:>13,}")
            for reason, count in sorted(t.reasons.items()):
                lines.append(f"{'':<4}{reason:<35}{count:>10,}")
        total = self.quarantined
        lines.append(f"absent optional tables: {', '.join(self.absent) or 'none'}")
        if total:
            lines.append(f"{total:,} quarantined rows written to {self.quarantine_dir}")
        else:
            lines.append("no row quarantined")
        return "\n".join(lines)
