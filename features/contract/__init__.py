"""The data contract: schema as data, reading with type coercion, validation with quarantine."""

from .load import ContractData, data_end, load_contract, parse_as_of
from .report import TableReport, ValidationReport
from .schema import TABLE_BY_NAME, TABLE_NAMES, TABLES, Need, TableSpec, table_spec

__all__ = [
    "TABLES",
    "TABLE_BY_NAME",
    "TABLE_NAMES",
    "ContractData",
    "Need",
    "TableReport",
    "TableSpec",
    "ValidationReport",
    "data_end",
    "load_contract",
    "parse_as_of",
    "table_spec",
]
