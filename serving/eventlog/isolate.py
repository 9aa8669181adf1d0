"""One refused row never blocks the others: a batch the backend refuses because of a
row's values (RowRefusedError) is split in halves until each refused row stands alone;
those go to the dead-letter table with the backend's reason, the rest are stored.

k refused rows in a batch of n cost about 2·k·log2(n) extra writes; a batch that fails
for any other reason (an outage) raises at once, so nothing is dead-lettered for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence

import pandas as pd

from circlerank.errors import RowRefusedError

from .base import Appended, DeadLetter, DeadLetterHook, LoggedEvent, event_json, printable

log = logging.getLogger(__name__)

Insert = Callable[[Sequence[LoggedEvent]], int]
InsertDeadLetters = Callable[[list[tuple[object, ...]]], None]


def append_isolating(
    insert: Insert,
    insert_dead_letters: InsertDeadLetters,
    events: Sequence[LoggedEvent],
    on_dead_lettered: DeadLetterHook | None = None,
) -> Appended:
    """Store `events` with `insert` (one transaction per call), bisecting around the rows
    it refuses, which `insert_dead_letters` stores (rows in DEAD_LETTER_KIND order)."""
    refused: list[DeadLetter] = []
    new = _insert_or_bisect(insert, events, 0, refused)
    if refused:
        at_us = pd.Timestamp.now(tz="UTC").value // 1000
        insert_dead_letters([dead_letter_row(events[d.index], d.reason, at_us) for d in refused])
        _report(events, refused, on_dead_lettered)
    return Appended(new, tuple(refused))


def _insert_or_bisect(
    insert: Insert, events: Sequence[LoggedEvent], offset: int, refused: list[DeadLetter]
) -> int:
    try:
        return insert(events)
    except RowRefusedError as exc:
        if len(events) == 1:
            refused.append(DeadLetter(offset, events[0].event_id, str(exc)))
            return 0
    half = len(events) // 2
    return _insert_or_bisect(insert, events[:half], offset, refused) + _insert_or_bisect(
        insert, events[half:], offset + half, refused
    )


def dead_letter_row(event: LoggedEvent, reason: str, at_us: int) -> tuple[object, ...]:
    """The dead_letters row of a refused event (DEAD_LETTER_KIND order)."""
    stored = event_json(event)
    reason = printable(reason)
    key = hashlib.sha256(f"{stored}\n{reason}".encode()).hexdigest()
    return (key, at_us, printable(event.origin), printable(event.event_id), reason, stored)


def _report(
    events: Sequence[LoggedEvent], refused: list[DeadLetter], hook: DeadLetterHook | None
) -> None:
    first = refused[0]
    log.error(
        "event log refused %d of %d rows, dead-lettered (e.g. event_id %s: %s)",
        len(refused),
        len(events),
        printable(first.event_id),
        printable(first.reason),
    )
    if hook is not None:
        for origin, n in Counter(events[d.index].origin for d in refused).items():
            hook(origin, n)
