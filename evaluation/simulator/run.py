"""`simulate`: build a world, run the logs, write the contract tables and the truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from circlerank.errors import OutputError
from circlerank.progress import step

from .config import SimConfig
from .loop import Policies, run_logs
from .truth import build_truth, truth_tables
from .world import build_world
from .writer import world_tables, write_json, write_parquet


@dataclass(frozen=True)
class SimResult:
    """What `simulate` wrote: rows per table (no merchants and payments in a world
    without payments), the split time, where the truth is, and the scenario."""

    out_dir: Path
    truth_dir: Path
    split_time: pd.Timestamp
    row_counts: dict[str, int]
    truth_counts: dict[str, int]
    scenario: str = "baseline"


def truth_dir_for(out_dir: Path) -> Path:
    """The truth lives beside the world: DIR -> DIR_truth."""
    return out_dir.parent / f"{out_dir.name}_truth"


def simulate(config: SimConfig, out_dir: Path | str, policies: Policies | None = None) -> SimResult:
    """Write a synthetic world in the data contract to `out_dir` (one Parquet file per
    table) and its ground truth at the split time to `<out_dir>_truth/`.

    The same config writes byte-identical files. `policies` replaces the default
    epsilon-greedy logging policy of each surface.
    """
    out = Path(out_dir)
    truth_dir = truth_dir_for(out)
    for d in (out, truth_dir):
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {d}: {exc}") from exc
    world = build_world(config)
    with step("simulate: logged days"):
        logs = run_logs(world, policies)
    with step("simulate: truth at the split"):
        truth = build_truth(world, logs)
    with step(f"simulate: writing {out}"):
        tables = world_tables(world, logs)
        for name, df in tables.items():
            write_parquet(df, out / f"{name}.parquet")
        extra = truth_tables(world, logs, truth)
        for name, df in extra.items():
            write_parquet(df, truth_dir / f"{name}.parquet")
    rows = {name: len(df) for name, df in tables.items()}
    truth_rows = {name: len(df) for name, df in extra.items()}
    split = config.split_ts
    write_json(
        {
            "split_time": split.isoformat().replace("+00:00", "Z"),
            "seed": config.seed,
            "scenario": config.scenario,
            "config": config.to_dict(),
            "row_counts": rows,
            "truth_row_counts": truth_rows,
            "truth_users": len(truth.users),
        },
        truth_dir / "meta.json",
    )
    return SimResult(out, truth_dir, split, rows, truth_rows, config.scenario)
