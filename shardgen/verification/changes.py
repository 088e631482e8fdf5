"""An advanced store's change feed: a range of it per task, every change a
transition the days may make.

Invoices go pending → overdue, pending or overdue → paid (on a paid day
between their date and as_of); customers active → suspended, inactive →
suspended, suspended → active, active → inactive; an update changes nothing
else of the row but its `updated_at`; an inventory update changes only the
stock. Inserts are rows past the generated plan's. Every change is dated on
a day of an advance, and the days never go back. Rows are decoded only as
far as the fields these rules read.
"""

from __future__ import annotations

import msgspec

from ..plan import GrownPlan
from ..schema import DECODERS, Change
from ..store import key
from .columns import DAY
from .reader import ShardReader

#: Changes per verify task.
CHANGES_PER_TASK = 1 << 18
_CHANGE = msgspec.msgpack.Decoder(Change)
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


def tasks(plan: GrownPlan) -> int:
    """How many tasks the feed takes."""
    return -(-plan.changes // CHANGES_PER_TASK)


def verify_changes(reader: ShardReader, plan: GrownPlan, task: int) -> None:
    """Changes task * CHANGES_PER_TASK + 1 .. (task + 1) * CHANGES_PER_TASK."""
    first = task * CHANGES_PER_TASK + 1
    last = min(first + CHANGES_PER_TASK, plan.changes + 1)
    add = reader.found.add
    low_day, high_day = plan.generated_as_of_day, plan.as_of_day
    counts = plan.rows()
    generated = {s: counts[s] - n for s, n in _grown(plan).items()}
    expected = first
    day = low_day
    for keys, values in reader.pairs("changes", key(first), key(last), last - first):
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
    may = [f for f in (*MAY_CHANGE.get(change.table, ()), "updated_at") if f in fields]
    if msgspec.structs.replace(before, **{f: getattr(after, f) for f in may}) != after:
        moved = {f for f in fields if getattr(before, f) != getattr(after, f)} - set(may)
        return f"changes {', '.join(sorted(moved))}"
    if change.table == "invoices" and (before.status, after.status) not in INVOICE_MOVES:
        return f"invoice {before.status} → {after.status}"
    if change.table == "customers" and (before.status, after.status) not in CUSTOMER_MOVES:
        return f"customer {before.status} → {after.status}"
    if (
        change.table == "invoices"
        and after.status == "paid"
        and after.paid_date != change.ts // DAY
    ):
        return "paid on another day than the change"
    return ""
