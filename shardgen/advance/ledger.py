"""What generate records for advance, and the keys advance keeps it under.

For a customer shard: each unpaid invoice's days on the agenda (the day it
is paid, the day it turns overdue, the day it is more than 60 days overdue),
each customer's account (unpaid balance, overdue invoices, last invoice day)
and the day it will have been quiet for 180 days; for a product shard, each
product's stock ledger; for both, what the shard created recently (the
recent daily rates: invoices over the 30 days up to as_of, customers and
products over the year up to it). Written with the shard, in its one
transaction; none of it is part of the data contract or the digest.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..make.products import DAY
from ..plan import Plan
from ..schema import ENCODER, Account, Recent, Stock
from .fates import NEVER, pay_days, uniforms

#: The agenda's kinds, in the order a day handles them.
PAY, OVERDUE, DELINQUENT, QUIET, RESTOCK = range(5)
AGENDA_KEY = struct.Struct(">IBQ")  # day, kind, id
#: An invoice more than this many days past due suspends its customer.
DELINQUENT_DAYS = 60
#: The days over which the invoices generate left more than 60 days overdue
#: suspend their customers.
CATCH_UP_DAYS = 30
#: A customer with no invoice for this many days may go inactive.
QUIET_DAYS = 180
#: An active product generate left below its reorder point has its delivery
#: on the way: it arrives on one of this many days after the generated as_of.
RESTOCK_DAYS = 14
#: The windows the recent daily rates are taken over: invoices over the last
#: 30 days; customers and products, which generate spreads over years, over
#: the last year.
RECENT_DAYS = 30
RECENT_SIGNUP_DAYS = 365
STATUS_INDEX = {"active": 0, "inactive": 1, "suspended": 2}
Pairs = list[tuple[bytes, bytes]]


def agenda_key(day: int, kind: int, row_id: int) -> bytes:
    return AGENDA_KEY.pack(day, kind, row_id)


def recent_key(entity: str, shard: int) -> bytes:
    return f"recent:{entity}:{shard:08d}".encode()


def invoice_agenda(
    invoice_id: int, pay_day: int, due: int, today: int, catch_up: int = 1
) -> list[tuple[int, int, int]]:
    """The agenda entries (day, kind, id) of an invoice unpaid at the end of
    `today`: its payment, and the days it turns overdue and delinquent if it
    is unpaid by then. One already more than 60 days overdue (at generation)
    is delinquent `catch_up` days after `today`."""
    entries = []
    if pay_day != NEVER:
        entries.append((pay_day, PAY, invoice_id))
    delinquent = due + DELINQUENT_DAYS + 1
    if delinquent <= today:
        delinquent = today + catch_up
    for kind, day in ((OVERDUE, due + 1), (DELINQUENT, delinquent)):
        if day > today and (pay_day == NEVER or pay_day >= day):
            entries.append((day, kind, invoice_id))
    return entries


def restock_agenda(seed: int, product_ids: Sequence[int], as_of: int) -> list[tuple[int, int, int]]:
    """The agenda entries (day, RESTOCK, id) of the deliveries on their way
    at the generated `as_of` to products below their reorder point: each on a
    day of the RESTOCK_DAYS after it, from the product's own seed."""
    ids = np.array(product_ids, np.int64)
    lead = (uniforms(seed, "restock", ids, 1)[:, 0] * RESTOCK_DAYS).astype(np.int64)
    return [(as_of + 1 + d, RESTOCK, i) for d, i in zip(lead.tolist(), ids.tolist(), strict=True)]


def quiet_day(last_day: int, today: int) -> int:
    """The day a customer whose last invoice is dated `last_day` has been
    quiet for QUIET_DAYS (at the earliest, tomorrow)."""
    return max(last_day + QUIET_DAYS, today + 1)


def shard_state(
    plan: Plan, entity: str, shard: int, tables: dict[str, Sequence[Any]]
) -> tuple[tuple[str, Pairs], ...]:
    """What a generated shard records for advance: (database, pairs)."""
    today = plan.as_of_day
    since = today - RECENT_SIGNUP_DAYS
    if entity == "products":
        stock = [
            (r.id.to_bytes(8, "big"), ENCODER.encode(Stock(r.quantity_on_hand, today, 0)))
            for r in tables["inventory"]
        ]
        new = sum(1 for p in tables["products"] if p.created_at // DAY > since)
        return (("stock", stock), ("meta", [(recent_key(entity, shard), _recent(0, new, 0))]))
    if entity != "customers":
        return ()
    return _customer_state(plan, shard, tables, today)


def _recent(customers: int, products: int, invoices: int) -> bytes:
    return ENCODER.encode(Recent(customers, products, invoices))


def _customer_state(
    plan: Plan, shard: int, tables: dict[str, Sequence[Any]], today: int
) -> tuple[tuple[str, Pairs], ...]:
    customers, invoices = tables["customers"], tables["invoices"]
    first = customers[0].id if customers else 0
    n = len(customers)
    status = np.array([STATUS_INDEX[c.status] for c in customers], np.int64)
    types = np.array([c.customer_type_id - 1 for c in customers], np.int64)
    last = np.array([c.created_at // DAY for c in customers], np.int64)
    unpaid = np.zeros(n, np.int64)
    overdue = np.zeros(n, np.int64)
    owner = np.array([i.customer_id - first for i in invoices], np.int64)
    day = np.array([i.invoice_date for i in invoices], np.int64)
    if len(owner):
        np.maximum.at(last, owner, day)
    open_ = np.array([i.paid_date is None for i in invoices], np.bool_)
    ids = np.array([i.id for i in invoices], np.int64)[open_]
    due = np.array([i.due_date for i in invoices], np.int64)[open_]
    total = np.array([i.total for i in invoices], np.int64)[open_]
    who = owner[open_]
    np.add.at(unpaid, who, total)
    np.add.at(overdue, who, due < today)
    pays = pay_days(plan.seed, ids, types[who], status[who] == 2, due, today)
    # Invoices generate left more than 60 days overdue suspend their customers
    # over the first CATCH_UP_DAYS advanced, each on a day from its own seed,
    # rather than all on the first.
    catch_up = 1 + (uniforms(plan.seed, "catch-up", ids, 1)[:, 0] * CATCH_UP_DAYS).astype(np.int64)
    agenda = [
        (day_, kind, row)
        for row, pay, d, c in zip(
            ids.tolist(), pays.tolist(), due.tolist(), catch_up.tolist(), strict=True
        )
        for day_, kind, row in invoice_agenda(row, pay, d, today, c)
    ]
    agenda += [
        (quiet_day(last_day, today), QUIET, first + i)
        for i, last_day in enumerate(last.tolist())
        if status[i] == 0
    ]
    accounts = [
        ((first + i).to_bytes(8, "big"), ENCODER.encode(Account(u, o, d)))
        for i, (u, o, d) in enumerate(
            zip(unpaid.tolist(), overdue.tolist(), last.tolist(), strict=True)
        )
    ]
    recent = _recent(
        sum(1 for c in customers if c.created_at // DAY > today - RECENT_SIGNUP_DAYS),
        0,
        int(np.count_nonzero(day > today - RECENT_DAYS)),
    )
    return (
        ("agenda", [(agenda_key(*entry), b"") for entry in sorted(agenda)]),
        ("accounts", accounts),
        ("meta", [(recent_key("customers", shard), recent)]),
    )
