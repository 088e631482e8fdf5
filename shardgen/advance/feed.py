"""The change feed as JSON lines: every row an advance inserted or updated,
in commit order, in the shape change-data-capture tools use.

    {"seq": 1, "ts": "2026-07-01T10:00:00Z", "op": "u", "table": "invoices",
     "key": {"id": 10001}, "before": {...}, "after": {...}}

Row values are exactly what the JSON lines export writes for the row
(`exports.render.part_text`). `since` and `until` select the days: the
changes made after the end of `since`, up to the end of `until`, which are
what turn an export of the store as of `since` into one as of `until`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from ..errors import UsageError
from ..exports.render import part_text, timestamps
from ..make.products import DAY
from ..plan import parse_day
from ..schema import Change, array_header
from ..store import Store, key, reading

#: Changes read and rendered at a time.
BATCH = 4096
#: Batches between drops of the page mappings (`Store.release`): the pages
#: of the feed read so far leave this process's memory (about 130 MB of the
#: feed at xl between drops).
RELEASE_EVERY = 128
_CHANGE = msgspec.msgpack.Decoder(Change)


def changes(
    path: str | os.PathLike[str],
    *,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
) -> Iterator[str]:
    """The change feed of the store at `path` as JSON lines (no newline),
    in commit order, for the days after `since` up to `until` (both
    optional, as YYYY-MM-DD).

    >>> for line in shardgen.changes("demo.lmdb", since="2026-06-30"):  # doctest: +SKIP
    ...     print(line)
    """
    low = _day(since, "--since")
    high = _day(until, "--until")
    if low is not None and high is not None and high < low:
        raise UsageError(f"--until {until} is before --since {since}: swap them")
    with Store.open(path) as store:
        if "changes" not in store.dbs:
            return
        with reading(store.path):
            yield from _lines(store, low, high)


def write_changes(lines: Iterator[str], out: IO[str]) -> int:
    """Write feed lines, one per line; return how many."""
    count = 0
    for line in lines:
        out.write(line)
        out.write("\n")
        count += 1
    return count


def _day(value: str | dt.date | None, option: str) -> int | None:
    return None if value is None else parse_day(value, option)


def _lines(store: Store, low: int | None, high: int | None) -> Iterator[str]:
    batch: list[tuple[int, Change]] = []
    batches = 0
    with store.env.begin() as txn, txn.cursor(db=store.dbs["changes"]) as cursor:
        if not _first_after(cursor, low):
            return
        for k, value in cursor.iternext():
            change = _CHANGE.decode(value)
            day = change.ts // DAY  # never below the first's (`_first_after`)
            if high is not None and day > high:
                break
            batch.append((int.from_bytes(k, "big"), change))
            if len(batch) == BATCH:
                yield from _render(batch)
                batch = []
                batches += 1
                if batches % RELEASE_EVERY == 0:
                    store.release(trim=False)
    yield from _render(batch)


def _first_after(cursor: Any, low: int | None) -> bool:
    """Put the cursor on the first change made after day `low` (on the
    first of all when None); False if there is none.

    The days come in order, and each day's changes carry times of that day,
    so their days never go back as the sequence numbers grow: the first is
    found by halving the feed's range of numbers, a few dozen reads however
    long the feed (`--since yesterday` on a year's feed reads a day's
    changes, not the year's)."""
    if low is None:
        return bool(cursor.set_range(key(1)))
    if not cursor.last():
        return False
    # Every change numbered below `lo` is of day `low` or before; every one
    # from `hi` on is of a later day.
    lo, hi = 1, int.from_bytes(cursor.key(), "big") + 1
    while lo < hi:
        mid = (lo + hi) // 2
        cursor.set_range(key(mid))  # mid is at most the last: found
        if _CHANGE.decode(cursor.value()).ts // DAY <= low:
            lo = int.from_bytes(cursor.key(), "big") + 1
        else:
            hi = mid
    return bool(cursor.set_range(key(lo)))


def _render(batch: list[tuple[int, Change]]) -> Iterator[str]:
    """A batch of changes as JSON lines, their rows rendered a table at a time."""
    rows: dict[str, list[bytes]] = {}
    for _, change in batch:
        values = rows.setdefault(change.table, [])
        if change.op == "u":
            values.append(bytes(change.before))
        values.append(bytes(change.after))
    rendered = {
        table: iter(
            part_text("jsonl", table, array_header(len(v)) + b"".join(v)).decode().splitlines()
        )
        for table, v in rows.items()
    }
    stamps = timestamps([change.ts for _, change in batch])
    for (seq, change), ts in zip(batch, stamps, strict=True):
        lines = rendered[change.table]
        before = next(lines) if change.op == "u" else "null"
        yield (
            f'{{"seq":{seq},"ts":"{ts}","op":"{change.op}","table":"{change.table}",'
            f'"key":{{"id":{change.key}}},"before":{before},"after":{next(lines)}}}'
        )
