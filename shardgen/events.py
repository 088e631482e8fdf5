"""The event log as data: read a store's log, and say each event in a line.

Every run appends typed events (schema.Event: run started, shard committed,
memory sample, verify finished, run promoted, failed, rolled back) to its
store; `log` reads them (in a child process, as every read of a store that may
be damaged is: `store.isolated`), `line` and `record` present one event for
people and for programs. `shardgen log` prints one or the other.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import msgspec

from .schema import AdvanceStarted, DayAdvanced, Event, RunStarted, ShardCommitted, to_builtins
from .store import Store, isolated


def log(path: str | os.PathLike[str]) -> list[tuple[int, Event]]:
    """The event log of the store at `path`: (sequence number, event), in order.

    >>> for seq, event in shardgen.log("shardgen.lmdb"):  # doctest: +SKIP
    ...     print(seq, kind(event))
    """
    return isolated(Path(path), _read, Path(path))


def _read(path: Path) -> list[tuple[int, Event]]:
    with Store.open(path) as store:
        return list(store.events())


def kind(event: Event) -> str:
    """The event's type as the log names it: "run_started", "shard_committed", ..."""
    tag: str = type(event).__struct_config__.tag  # type: ignore[assignment]
    return tag


def record(seq: int, event: Event) -> dict[str, Any]:
    """An event as plain data (`shardgen log --json`): seq, type, then its fields."""
    return {"seq": seq, "type": kind(event), **to_builtins(event)}


def line(seq: int, event: Event) -> str:
    """An event in one line of text (`shardgen log`)."""
    when = dt.datetime.fromtimestamp(event.at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{seq:>6}  {when}  {kind(event):<16} {_detail(event)}"


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _detail(event: Event) -> str:
    if isinstance(event, RunStarted):
        plan = event.plan if isinstance(event.plan, dict) else {}
        detail = (
            f"seed {plan.get('seed')} as_of {plan.get('as_of')} "
            f"customers {_count(plan.get('customers'))} products {_count(plan.get('products'))} "
            f"invoices {_count(plan.get('invoices'))} workers {event.workers} "
            f"shardgen {event.versions.shardgen} faker {event.versions.faker}"
        )
        return detail + (f" executor {event.executor}" if event.executor != "local" else "")
    if isinstance(event, ShardCommitted):
        return (
            f"{event.entity} #{event.shard} ids {event.first_id}-{event.last_id} "
            f"{sum(event.rows.values()):,} rows {event.seconds:.3f} s "
            f"pid {event.pid} digest {event.digest[:12]}"
        )
    if isinstance(event, AdvanceStarted):
        resumed = " (resumed)" if event.resumed else ""
        return (
            f"from {event.from_as_of} to {event.to_as_of}{resumed} "
            f"shardgen {event.versions.shardgen} faker {event.versions.faker}"
        )
    if isinstance(event, DayAdvanced):
        return (
            f"{event.day} inserted {sum(event.inserted.values()):,} "
            f"updated {sum(event.updated.values()):,} rows {event.seconds:.3f} s"
        )
    fields = msgspec.structs.asdict(event)
    fields.pop("at")
    return " ".join(f"{k} {v}" for k, v in fields.items())
