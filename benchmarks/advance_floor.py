#!/usr/bin/env python3
"""The floor of an advance: LMDB taking in the rows and the change feed the days wrote.

An advance of N days must at least put each row the days inserted or updated
in its table and append each change to the feed, one transaction a day, in a
store of the size it advances. This process does only that, with no draw,
no read of the rows, no state of its own and no verify: given a fresh copy of
the generated store (FRESH) and the store an advance left (ADVANCED), it
reads ADVANCED's feed (not timed), then puts each row a day inserted or
updated once, as the day left it, a table at a time (the new rows appended
in key order), and appends the day's feed records, each day in one
transaction of FRESH, with no sync per commit and one at the end, as
shardgen writes. It prints as JSON the seconds that took, the changes and
the days. Of the ways tried, two are the fastest, and the benchmark runs
both and counts the faster: the rows in the feed's order (the default), and,
with `--writemap`, in key order through a writable map (in single runs the
faster: xl + 30 days 5.36 s against 6.00, + 1 day 0.40-0.48 s against
0.47-0.55). Rows in key order without a writable map took longer than both.
Imports are lmdb and msgspec only, so the process's own start-up is a floor
too.

    $ python benchmarks/advance_floor.py fresh.lmdb advanced.lmdb

The result is in the same store as a real advance's, table by table: the
benchmark compares the digests (`--check` asks this script to compare each
table's rows with ADVANCED's, after the timing).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import lmdb
import msgspec

#: A change as the `changes` database holds it (shardgen.schema.Change).
Change = tuple[int, str, str, int, msgspec.Raw, msgspec.Raw]
DECODE = msgspec.msgpack.Decoder(tuple[int, str, str, int, msgspec.Raw, msgspec.Raw])
DAY = 86_400
#: Databases the store holds (shardgen.store.DATABASES has them all).
MAX_DBS = 32


def key(row_id: int) -> bytes:
    return row_id.to_bytes(8, "big")  # shardgen.store.key


def open_store(path: Path, readonly: bool, writemap: bool = False) -> lmdb.Environment:
    """Open as shardgen opens a store it writes (no sync per commit);
    `writemap` writes through the map, LMDB's fastest way to take in writes."""
    return lmdb.open(
        str(path), subdir=False, readonly=readonly, lock=not readonly, max_dbs=MAX_DBS,
        map_size=0 if readonly else 64 << 30, sync=False, metasync=False, meminit=False,
        writemap=writemap,
    )  # fmt: skip


def read_feed(path: Path) -> list[tuple[int, list[tuple[bytes, bytes]], list[Change]]]:
    """ADVANCED's feed, by day: each day's (seq key, record) pairs and changes."""
    env = open_store(path, readonly=True)
    days: dict[int, tuple[list[tuple[bytes, bytes]], list[Change]]] = defaultdict(lambda: ([], []))
    with env.begin(db=env.open_db(b"changes", create=False)) as txn:
        for seq, value in txn.cursor():
            change = DECODE.decode(value)
            records, changes = days[change[0] // DAY]
            records.append((bytes(seq), bytes(value)))
            changes.append(change)
    env.close()
    return [(day, *days[day]) for day in sorted(days)]


def take_in(
    path: Path, feed: list[tuple[int, list[tuple[bytes, bytes]], list[Change]]], writemap: bool
) -> float:
    """Write the feed's days into the store at `path`; return the seconds."""
    started = time.perf_counter()
    env = open_store(path, readonly=False, writemap=writemap)
    names = {c[2] for _, _, changes in feed for c in changes} | {"changes"}
    dbs: dict[str, Any] = {name: env.open_db(name.encode(), create=False) for name in names}
    for _, records, changes in feed:
        with env.begin(write=True) as txn:
            # Each row once, as the day left it (an insert and an update of
            # it the same day are one row); the day's new rows appended.
            rows: dict[str, dict[int, bytes]] = defaultdict(dict)
            new: dict[str, set[int]] = defaultdict(set)
            for _, op, table, row_id, _, after in changes:
                rows[table][row_id] = after
                if op == "c":
                    new[table].add(row_id)
            for table, last in rows.items():
                # Through a writable map in key order; else in the feed's order.
                ids = sorted(last) if writemap else list(last)
                with txn.cursor(db=dbs[table]) as cursor:
                    cursor.putmulti([(key(i), last[i]) for i in ids if i not in new[table]])
                    added = [(key(i), last[i]) for i in sorted(new[table])]
                    if cursor.putmulti(added, append=True)[1] != len(added):
                        raise SystemExit(f"{table}: the day's new rows are not past the last")
            with txn.cursor(db=dbs["changes"]) as cursor:
                cursor.putmulti(records, append=True)
    env.sync(True)
    env.close()
    return time.perf_counter() - started


def same_tables(fresh: Path, advanced: Path, tables: list[str]) -> list[str]:
    """The tables whose rows differ between the two stores (read side by side)."""
    differ = []
    one, two = open_store(fresh, readonly=True), open_store(advanced, readonly=True)
    for table in tables:
        a = one.open_db(table.encode(), create=False)
        b = two.open_db(table.encode(), create=False)
        with one.begin(db=a) as t1, two.begin(db=b) as t2:
            rows = itertools.zip_longest(t1.cursor().iternext(), t2.cursor().iternext())
            if any(x != y for x, y in rows):
                differ.append(table)
    one.close()
    two.close()
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("fresh", type=Path, help="a fresh copy of the generated store")
    parser.add_argument("advanced", type=Path, help="the store an advance of it left")
    parser.add_argument(
        "--writemap", action="store_true", help="rows in key order, through a writable map"
    )
    parser.add_argument("--check", action="store_true", help="compare the tables afterwards")
    args = parser.parse_args(argv)
    feed = read_feed(args.advanced)
    seconds = take_in(args.fresh, feed, args.writemap)
    result: dict[str, Any] = {
        "seconds": round(seconds, 4),
        "days": len(feed),
        "changes": sum(len(changes) for _, _, changes in feed),
        "writemap": args.writemap,
    }
    if args.check:
        tables = sorted({c[2] for _, _, changes in feed for c in changes})
        result["tables_differ"] = same_tables(args.fresh, args.advanced, tables)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
