"""An advanced store's change feed: a range of it per task, every change a
transition the days may make.

Invoices go pending → overdue, pending or overdue → paid (on a paid day
between their date and as_of); customers active → suspended, inactive →
suspended, suspended → active, active → inactive; an update changes nothing
else of the row but its `updated_at`; an inventory update changes only the
stock. Inserts are rows past the generated plan's. Every change is dated on
a day of an advance, and the days never go back.

A batch of changes is checked at once (`_clean`: the changes decoded in one
call, each table's rows before and after in one call each, the rules
compared a column at a time); a batch where anything may be amiss is
checked again change by change, which says what and where.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from ..plan import GrownPlan
from ..schema import BATCH_DECODERS, DECODERS, Change, array_header
from ..store import key
from .columns import DAY
from .reader import ShardReader

#: Changes per verify task.
CHANGES_PER_TASK = 1 << 18
_CHANGE = msgspec.msgpack.Decoder(Change)
_CHANGES = msgspec.msgpack.Decoder(list[Change])
INVOICE_MOVES = frozenset((("pending", "overdue"), ("pending", "paid"), ("overdue", "paid")))
CUSTOMER_MOVES = frozenset(
    (("active", "suspended"), ("inactive", "suspended"), ("suspended", "active"),
     ("active", "inactive"))
)  # fmt: skip
#: What an update may change, by table (besides `updated_at`).
MAY_CHANGE = {
    "invoices": frozenset(("status", "paid_date")),
    "customers": frozenset(("status",)),
    "inventory": frozenset(
        ("quantity_on_hand", "reserved_quantity", "last_received_date", "last_received_quantity")
    ),
}
RULE = "the change feed holds only the days' transitions"
#: The status moves of a table whose rows have one.
MOVES = {"invoices": INVOICE_MOVES, "customers": CUSTOMER_MOVES}


def _may_change(table: str, fields: tuple[str, ...]) -> list[str]:
    """The fields of a table's row that an update may change."""
    return [f for f in (*MAY_CHANGE.get(table, ()), "updated_at") if f in fields]


def tasks(plan: GrownPlan) -> int:
    """How many tasks the feed takes (the changes not verified before)."""
    return -(-(plan.changes - plan.changes_checked) // CHANGES_PER_TASK)


def verify_changes(reader: ShardReader, plan: GrownPlan, task: int) -> None:
    """Changes task * CHANGES_PER_TASK + 1 .. (task + 1) * CHANGES_PER_TASK
    of those after the first `plan.changes_checked`."""
    first = plan.changes_checked + task * CHANGES_PER_TASK + 1
    last = min(first + CHANGES_PER_TASK, plan.changes + 1)
    add = reader.found.add
    low_day, high_day = plan.generated_as_of_day, plan.as_of_day
    counts = plan.rows()
    generated = {s: counts[s] - n for s, n in _grown(plan).items()}
    expected = first
    day = low_day
    for keys, values in reader.pairs("changes", key(first), key(last), last - first):
        latest = _clean(keys, values, expected, day, (low_day, high_day), generated)
        if latest is not None:
            expected = int.from_bytes(keys[-1], "big") + 1
            day = latest
            reader.rows["changes"] += len(keys)
            continue
        for k, v in zip(keys, values, strict=True):
            seq = int.from_bytes(k, "big")
            if seq != expected:
                add("changes", expected, RULE, f"seq {seq} follows {expected - 1}")
            expected = seq + 1
            try:
                change = _CHANGE.decode(v)
            except msgspec.DecodeError as exc:
                add("changes", seq, RULE, str(exc))
                continue
            when = change.ts // DAY
            if not low_day < when <= high_day or when < day:
                add("changes", seq, RULE, "dated on no day of an advance, or out of order")
            day = max(day, when)
            problem = _problem(change, generated)
            if problem:
                add("changes", seq, RULE, problem)
            reader.rows["changes"] += 1
    if expected != last:
        add("changes", expected, RULE, f"{last - expected} changes missing")


def _clean(
    keys: list[bytes],
    values: list[bytes],
    expected: int,
    day: int,
    days: tuple[int, int],
    generated: dict[str, int],
) -> int | None:
    """The latest day of a batch of changes that breaks no rule, following
    change `expected - 1` of day `day`; None if any change may break one
    (each is then checked on its own)."""
    count = len(keys)
    if int.from_bytes(keys[0], "big") != expected:
        return None
    if int.from_bytes(keys[-1], "big") != expected + count - 1:  # keys sorted and unique
        return None
    try:
        changes: list[Change] = _CHANGES.decode(array_header(count) + b"".join(values))
        when = np.fromiter(map(attrgetter("ts"), changes), np.int64, count) // DAY
    except (msgspec.DecodeError, OverflowError):
        return None
    low, high = days
    if when.min() <= low or when.max() > high or when[0] < day or (np.diff(when) < 0).any():
        return None
    by_table: dict[str, list[int]] = {}
    for row, change in enumerate(changes):
        by_table.setdefault(change.table, []).append(row)
    for table, rows in by_table.items():
        picked = [changes[i] for i in rows]
        if not _rows_clean(table, picked, when[rows].tolist(), generated):
            return None
    return int(when[-1])


def _rows_clean(
    table: str, changes: list[Change], when: list[int], generated: dict[str, int]
) -> bool:
    """Do a table's changes surely break no rule (what `_problem` checks)?"""
    decode = BATCH_DECODERS.get(table)
    if decode is None:
        return False
    inserted = [c for c in changes if c.op == "c"]
    updated = [(c, day) for c, day in zip(changes, when, strict=True) if c.op == "u"]
    if len(inserted) + len(updated) != len(changes):
        return False
    try:
        after = _decoded(decode, [c.after for c in inserted])
        moved = [c for c, _ in updated]
        new, old = (
            _decoded(decode, [c.after for c in moved]),
            _decoded(decode, [c.before for c in moved]),
        )
    except msgspec.DecodeError:
        return False
    keys = attrgetter("key")
    if list(map(attrgetter("id"), after)) != list(map(keys, inserted)):
        return False
    last_generated = generated.get(table, 0)
    if any(k <= last_generated for k in map(keys, inserted)):
        return False
    if not moved:
        return True
    ids = list(map(keys, moved))
    if list(map(attrgetter("id"), new)) != ids or list(map(attrgetter("id"), old)) != ids:
        return False
    fields = type(new[0]).__struct_fields__
    may = _may_change(table, fields)
    kept = attrgetter(*[f for f in fields if f not in may])
    if list(map(kept, old)) != list(map(kept, new)):
        return False
    moves = MOVES.get(table)
    if moves is not None:
        status = attrgetter("status")
        if not moves.issuperset(zip(map(status, old), map(status, new), strict=True)):
            return False
    if table == "invoices":
        paid = attrgetter("status", "paid_date")
        for (state, paid_date), (_, day) in zip(map(paid, new), updated, strict=True):
            if state == "paid" and paid_date != day:
                return False
    return True


def _decoded(decode: msgspec.msgpack.Decoder[Any], encoded: list[msgspec.Raw]) -> list[Any]:
    """Records from their encodings, in one call."""
    if not encoded:
        return []
    return list(decode.decode(array_header(len(encoded)) + b"".join(encoded)))


def _grown(plan: GrownPlan) -> dict[str, int]:
    customers, products = plan.customer_shards[-1], plan.product_shards[-1]
    return {
        "customers": customers.customers,
        "customer_addresses": customers.addresses,
        "invoices": customers.invoices,
        "invoice_line_items": customers.lines,
        "products": products.products,
        "inventory": products.products,
    }


def _problem(change: Change, generated: dict[str, int]) -> str:
    """What is wrong with one change ("" if nothing)."""
    decode = DECODERS.get(change.table)
    if decode is None or change.op not in ("c", "u"):
        return f"{change.op} of {change.table}"
    try:
        after = decode.decode(change.after)
        before = decode.decode(change.before) if change.op == "u" else None
    except msgspec.DecodeError as exc:
        return str(exc)
    if after.id != change.key:
        return "key and row differ"
    if before is None:
        return "" if change.key > generated.get(change.table, 0) else "inserts a generated row"
    if before.id != after.id:
        return "key and row differ"
    fields = type(after).__struct_fields__
    may = _may_change(change.table, fields)
    if msgspec.structs.replace(before, **{f: getattr(after, f) for f in may}) != after:
        moved = {f for f in fields if getattr(before, f) != getattr(after, f)} - set(may)
        return f"changes {', '.join(sorted(moved))}"
    moves = MOVES.get(change.table)
    if moves is not None and (before.status, after.status) not in moves:
        return f"{change.table.removesuffix('s')} {before.status} → {after.status}"
    if (
        change.table == "invoices"
        and after.status == "paid"
        and after.paid_date != change.ts // DAY
    ):
        return "paid on another day than the change"
    return ""
