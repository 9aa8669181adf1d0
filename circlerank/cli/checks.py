"""Checks of paths given on the command line, before any work, in errors that name the
flag and say how to get what it should point at."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from circlerank.errors import ConfigError, ModelError
from circlerank.progress import step

if TYPE_CHECKING:
    from features.contract import ContractData


def data_dir(value: str, flag: str = "--data") -> str:
    """`value` unchanged when it is a directory; ConfigError otherwise."""
    if not Path(value).is_dir():
        raise ConfigError(
            f"{flag} {value}: no such directory; give the directory of contract tables, "
            "e.g. demo/world (written by `circlerank demo` or `circlerank simulate --out DIR`)"
        )
    return value


def bundle_dir(value: str, flag: str = "--models") -> Path:
    """The bundle directory MODELS points at (following MODELS/current); a ModelError
    naming the flag and how to train one otherwise."""
    from training.bundle import resolve

    try:
        return resolve(value)
    except ModelError as exc:
        raise ModelError(
            f"{flag} {exc}; train one first, e.g. circlerank train --data demo/world --out {value}"
        ) from None


def read_data(value: str, as_of: str | None = None, quarantine: str | None = None) -> ContractData:
    """The contract tables in the directory `--data` names, read and validated as one
    progress stage (each table a nested step)."""
    from features.contract import load_contract

    with step(f"reading and validating {value}"):
        return load_contract(data_dir(value), as_of=as_of, quarantine_dir=quarantine)


def whole_number(value: str) -> int:
    """An argparse type: an integer, in an error with an example otherwise (argparse
    prefixes the flag)."""
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a whole number; give digits only, e.g. 5"
        ) from None


def number(value: str) -> float:
    """An argparse type: a number, in an error with an example otherwise."""
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number; e.g. 24 or 0.5") from None
