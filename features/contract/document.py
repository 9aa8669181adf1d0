"""The data contract as a Markdown page, rendered from the schema so the two cannot drift.

Regenerate docs/data-contract.md after changing schema.py:

    .venv/bin/python -m features.contract.document > docs/data-contract.md

tests/contract/test_contract_page.py fails while the page and the schema differ.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

from .coerce import FALSE_TEXT, TRUE_TEXT
from .load import QUARANTINE_SUBDIR
from .rules import DUPLICATE_KEY
from .schema import TABLE_BY_NAME, TABLES, Allowed, Column, ForeignKey, Need, Range, TableSpec

REGENERATE = ".venv/bin/python -m features.contract.document > docs/data-contract.md"

# (in the overview table, under the table's heading)
NEED_TEXT = {
    Need.ALWAYS: ("always", "Always required."),
    Need.FEED: ("for the feed", "Optional, but the feed surface needs it."),
    Need.OPTIONAL: ("no", "Optional: without it, the features it carries are off."),
}

KIND_TEXT = {
    "id": "an opaque string, compared as text: never assume it is a number. Integers read"
    " as their decimal text; a CSV keeps leading zeros",
    "str": "text; an empty string is null",
    "ts": "an instant, timezone-aware in UTC. In CSV: ISO 8601; a value without a time zone"
    " is read as UTC",
    "int": "a whole number",
    "float": "a number",
    "bool": f"true or false. In text: {', '.join(f'`{w}`' for w in TRUE_TEXT)} or"
    f" {', '.join(f'`{w}`' for w in FALSE_TEXT)}, in any case",
}

# in the order rules.py gives a row its one reason (tests/contract checks it)
REASONS = (
    ("missing:<column>", "a required column is null or an empty string"),
    ("out_of_range:<column>", "a number outside the column's range"),
    ("unknown_value:<column>", "a value not in the column's list"),
    ("after_as_of:<column>", "a timestamp after the run's as-of time"),
    ("unknown_id:<column>", "an id that names no accepted row of the table it refers to"),
    (DUPLICATE_KEY, "an earlier row that passed every other rule has the same primary key"),
)


def _code(text: str) -> str:
    return f"`{text}`"


def _codes(values: Iterable[str], last: str = ", ") -> str:
    names = [_code(v) for v in values]
    return ", ".join(names[:-1]) + last + names[-1] if len(names) > 1 else "".join(names)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _key(spec: TableSpec) -> str:
    names = [_code(c) for c in spec.primary_key]
    return names[0] if len(names) == 1 else f"({', '.join(names)})"


def _required_by(spec: TableSpec) -> list[str]:
    return [t.name for t in TABLES if spec.name in t.requires]


def _needed(spec: TableSpec) -> tuple[str, str]:
    """(overview cell, sentence) saying when the table must be in a data directory."""
    needers = _required_by(spec)
    if spec.need is Need.OPTIONAL and needers:
        names = _codes(needers, " or ")
        return f"with {names}", f"Optional, but required whenever {names} is present."
    return NEED_TEXT[spec.need]


def _range(rule: Range) -> str:
    column = _code(rule.column)
    below = "<" if rule.low_open else "<="
    above = "<" if rule.high_open else "<="
    if rule.low is not None and rule.high is not None:
        return f"{rule.low:g} {below} {column} {above} {rule.high:g}"
    if rule.low is not None:
        return f"{column} {below.replace('<', '>')} {rule.low:g}"
    return f"{column} {above} {rule.high:g}"


def _allowed(rule: Allowed) -> list[str]:
    if rule.by is None:
        return [f"{_code(rule.column)} is one of {_codes(sorted(rule.values))}"]
    return [
        f"{_code(rule.column)} where {_code(rule.by)} is {_code(group)}: one of"
        f" {_codes(sorted(values))}"
        for group, values in rule.values_by.items()
    ]


def _reference(key: ForeignKey) -> str:
    parent = TABLE_BY_NAME[key.parent]
    target = _code(f"{key.parent}.{parent.primary_key[0]}")
    when = f" where {_code(key.when[0])} is {_code(key.when[1])}" if key.when else ""
    return f"{_code(key.column)} names a row of {target}{when}"


def _rules(spec: TableSpec) -> list[str]:
    rules = [f"{_key(spec)} is unique → `{DUPLICATE_KEY}`"]
    rules += [f"{_reference(k)} → `unknown_id:{k.column}`" for k in spec.foreign_keys]
    rules += [f"{_range(r)} → `out_of_range:{r.column}`" for r in spec.ranges]
    rules += [f"{t} → `unknown_value:{a.column}`" for a in spec.allowed for t in _allowed(a)]
    rules += [f"needs {_code(n)} in the same data directory" for n in spec.requires]
    return [f"- {rule}" for rule in rules]


def _column_row(column: Column) -> tuple[str, str, str, str]:
    return (_code(column.name), column.kind, "yes" if column.required else "", column.meaning)


def _section(spec: TableSpec) -> list[str]:
    lines = [f"## {spec.name}", "", f"{spec.about} {_needed(spec)[1]}", ""]
    header = ("column", "type", "required", "meaning")
    lines += _table(header, [_column_row(c) for c in spec.columns])
    return [*lines, "", *_rules(spec), ""]


def _intro() -> list[str]:
    always = _codes([t.name for t in TABLES if t.need is Need.ALWAYS], " and ")
    feed = _codes([t.name for t in TABLES if t.need is Need.FEED], " and ")
    overview = [(f"[{t.name}](#{t.name})", _needed(t)[0], _key(t)) for t in TABLES]
    kinds = [(_code(kind), text) for kind, text in KIND_TEXT.items()]
    return [
        "# Data contract (v1)",
        "",
        "> Rendered from `features/contract/schema.py`, where every table, column and"
        " rule is declared once. Do not edit this page: change the schema, then run"
        f" `{REGENERATE}` (a test fails while the page and the schema differ).",
        "",
        "The engine reads a *data directory*: one file per table, named"
        " `<table>.parquet`, or `<table>.csv` with a header row (Parquet wins when both"
        " exist). It is the only input the engine accepts; the simulator, the importers"
        " of public data sets and every external producer write exactly this. Columns"
        " not listed here are ignored; an optional column that is absent reads as all"
        " null.",
        "",
        f"Always required: {always}. The feed surface also needs {feed}. Every other"
        " table is a signal: when it is absent the engine runs without the features it"
        " carries, and its report says so.",
        "",
        *_table(("table", "required", "primary key"), overview),
        "",
        "Column types:",
        "",
        *_table(("type", "what it holds"), kinds),
        "",
        "Under each table come the rules its rows must meet, each with the reason a row"
        " that breaks it is quarantined with (see [Quarantine](#quarantine)).",
        "",
    ]


def _bullets(items: Iterable[str]) -> list[str]:
    return [f"- {item}" for item in items]


def _general_rules() -> list[str]:
    reasons = [(_code(code), when) for code, when in REASONS]
    return [
        "## Rules",
        "",
        "### Time",
        "",
        *_bullets(
            [
                "Every timestamp is an instant in UTC (see the `ts` type above).",
                "A run has an *as-of* time (`--as-of`, default: now). A row with any"
                " timestamp after it is quarantined (`after_as_of:<column>`).",
                "Point in time: a feature or label for a decision at time t uses only rows"
                " with a timestamp strictly before t.",
            ]
        ),
        "",
        "### Ids and keys",
        "",
        *_bullets(
            [
                "Ids are opaque strings (the `id` type): `007` and `7` are two ids.",
                "A primary key is unique: of the rows that share one, the first that passes"
                " every other rule is kept and the later ones are quarantined"
                f" (`{DUPLICATE_KEY}`).",
                "A reference (e.g. `posts.circle_id`) must name an *accepted* row of the"
                " table it refers to, so a row quarantined there takes the rows that refer"
                " to it along. A null reference passes; a reference into an absent table"
                " names no row.",
            ]
        ),
        "",
        "### Quarantine",
        "",
        "Bad rows are never silently dropped and never stop the run. Each goes to"
        f" `<data>/{QUARANTINE_SUBDIR}/<table>.parquet` (or `--quarantine DIR`) with a"
        " `reason` and its 0-based `row` in the file, and the run's report (`circlerank"
        " validate --data DIR`) gives each table's rows read, accepted and quarantined:"
        " accepted + quarantined = read, always. A row gets one reason, the first of"
        " these that applies:",
        "",
        *_table(("reason", "when"), reasons),
        "",
        "A file the engine cannot use stops the run with an error that names the file"
        " and what is wrong (the column and an offending value, where there is one): a"
        " required table or column that is missing, a value of the wrong type in any"
        " column (e.g. `abc` in an `int` column), a file that does not parse.",
    ]


def render() -> str:
    """The whole page, ending in one newline."""
    lines = _intro()
    for spec in TABLES:
        lines += _section(spec)
    lines += _general_rules()
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
