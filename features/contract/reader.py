"""Finding and reading contract table files: Parquet, or CSV with a header (Parquet wins).

Reading returns every contract column of the table in its canonical dtype, in the
contract's column order, with absent optional columns present as all-null. Extra
columns are ignored, as the contract says.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from circlerank.errors import ContractError, MissingColumnError

from .coerce import COERCERS, EMPTY_DTYPES
from .schema import TableSpec


def table_file(data_dir: Path, table: str) -> Path | None:
    """The file holding `table` in `data_dir`, or None when the table is absent."""
    for suffix in (".parquet", ".csv"):
        path = data_dir / f"{table}{suffix}"
        if path.is_file():
            return path
    return None


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise ContractError(f"{path}: empty CSV file, expected a header row")
    return [name.strip() for name in header]


def _read_csv(path: Path, wanted: list[str]) -> pd.DataFrame:
    header = _csv_header(path)
    keep = [name for name in header if name in wanted]
    # every column is read as text so that ids keep leading zeros; coercion types them
    options = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        include_columns=keep,
        strings_can_be_null=True,
        null_values=[""],
        quoted_strings_can_be_null=True,
    )
    try:
        table = pacsv.read_csv(path, convert_options=options)
    except pa.ArrowInvalid as exc:
        raise ContractError(f"{path}: cannot parse CSV: {exc}") from exc
    return table.to_pandas()


def _read_parquet(path: Path, wanted: list[str]) -> pd.DataFrame:
    try:
        present = pq.read_schema(path).names
        columns = [name for name in present if name in wanted]
        return pd.read_parquet(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ContractError(f"{path}: cannot read Parquet: {exc}") from exc


def read_table(path: Path, spec: TableSpec) -> pd.DataFrame:
    """Read one table file and coerce its columns to the contract's types."""
    wanted = [c.name for c in spec.columns]
    raw = _read_csv(path, wanted) if path.suffix == ".csv" else _read_parquet(path, wanted)
    for col in spec.required_columns:
        if col.name not in raw.columns:
            raise MissingColumnError(str(path), col.name, list(raw.columns))
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        if col.name in raw.columns:
            out[col.name] = COERCERS[col.kind](raw[col.name], str(path), col.name)
        else:
            out[col.name] = pd.Series(None, index=raw.index, dtype=EMPTY_DTYPES[col.kind])
    frame = pd.DataFrame(out)
    frame.index = pd.RangeIndex(len(frame))
    return frame
