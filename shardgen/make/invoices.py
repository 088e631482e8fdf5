"""Invoices and their line items: a customer shard's sales, a column at a time.

Invoice dates are quotas per age band, dealt to the shard's customers by
status and purchase volume; line items pick products by popularity from the
catalog; payments are settled customer by customer, since they depend on the
customer's balance. The draws come from the shard's numpy generator and its
`random.Random` (customers.py), in the order the customer shard calls these.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from itertools import repeat
from typing import NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from ..plan import EPOCH, LINE_WEIGHTS, CustomerShard, deal, quota
from ..schema import INVOICES, LINE_ITEMS, Invoice, InvoiceLineItem
from .catalog import Catalog
from .products import DAY
from .vocabulary import (
    CREDIT_BASE_MAX,
    CREDIT_LIMIT_MAX_CENTS,
    CUSTOMER_TYPES,
    INVOICE_AGE_BANDS,
    Q4_LIFT,
    QUANTITY_WEIGHTS,
    WEEKEND_WEIGHT,
    CustomerTypeSpec,
)

#: Customer statuses, by index into STATUSES.
ACTIVE, INACTIVE, SUSPENDED = range(3)

#: QUANTITIES[int(u * total weight)] is the quantity a uniform u draws.
QUANTITIES = np.array([q for q, w in enumerate(QUANTITY_WEIGHTS, 1) for _ in range(w)], np.int64)
#: By customer type (index into CUSTOMER_TYPES).
TYPE_DISCOUNT = np.array([t.discount_percentage for t in CUSTOMER_TYPES], np.int64)
TYPE_TERMS = np.array([t.payment_terms_days for t in CUSTOMER_TYPES], np.int64)
NET_TERMS = tuple(f"Net {t.payment_terms_days}" for t in CUSTOMER_TYPES)
TYPE_VOLUME = np.array([t.volume for t in CUSTOMER_TYPES], np.float64)

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
#: Cents, one amount or a column of them.
Cents = TypeVar("Cents", int, Ints)


def line_total(quantity: Cents, unit_price: Cents, discount: Cents) -> Cents:
    """The contract's line total: quantity × unit price less the discount
    percentage, rounded half up to the cent."""
    return (quantity * unit_price * (100 - discount) + 50) // 100


def tax_amount(subtotal: Cents, rate_bp: Cents) -> Cents:
    """The contract's tax: the subtotal × the rate (basis points), rounded
    half up to the cent."""
    return (subtotal * rate_bp + 5_000) // 10_000


#: (relation code, parent id, first child id, children)
Link = tuple[int, int, int, int]


@functools.lru_cache(maxsize=8)
def age_weights(as_of_day: int) -> tuple[tuple[Ints, Floats], ...]:
    """Per invoice age band: the ages (days before as_of) and cumulative weights.

    Fewer invoices on weekends, more in the fourth quarter.
    """
    bands = []
    for low, high, _share in INVOICE_AGE_BANDS:
        ages = tuple(range(low, high + 1))
        weights = []
        for age in ages:
            day = EPOCH + dt.timedelta(days=as_of_day - age)
            weight = WEEKEND_WEIGHT if day.weekday() >= 5 else 1.0
            if day.month >= 10:
                weight *= Q4_LIFT
            weights.append(weight)
        bands.append((np.array(ages, np.int64), np.cumsum(weights)))
    return tuple(bands)


class InvoiceDates(NamedTuple):
    """Each invoice's customer (its position in the shard) and age (days
    before as_of), by customer and oldest first; and each customer's count."""

    owner: Ints
    ages: Ints
    counts: Ints


def invoice_dates(
    columns: np.random.Generator, as_of_day: int, invoices: int, statuses: Ints, types: Ints
) -> InvoiceDates:
    """The shard's invoice dates and who they belong to.

    Quotas per age band, then days within a band by weekday and season; each
    customer gets its slots, oldest first.
    """
    band_counts = quota(invoices, [b[2] for b in INVOICE_AGE_BANDS])
    drawn = [
        ages[np.searchsorted(cum, columns.random(count) * cum[-1], side="right")]
        for (ages, cum), count in zip(age_weights(as_of_day), band_counts, strict=True)
    ]
    owner, ages = _deal_invoices(columns, statuses, types, np.concatenate(drawn[:-1]), drawn[-1])
    return InvoiceDates(owner, ages, np.bincount(owner, minlength=len(statuses)))


def _deal_invoices(
    columns: np.random.Generator,
    statuses: Ints,
    types: Ints,
    recent_ages: Ints,
    old_ages: Ints,
) -> tuple[Ints, Ints]:
    """Give each customer its invoice dates (ages in days before as_of).

    Inactive customers only buy in the oldest band; every inactive and
    suspended customer gets one old invoice first (a suspended customer's
    becomes its overdue invoice), then every customer gets one, then the rest
    go by purchase volume. Returns each invoice's customer (its position) and
    age, by customer and oldest first.
    """
    n = len(statuses)
    old, recent = columns.permutation(old_ages), columns.permutation(recent_ages)
    owners: list[Ints] = []
    # One old invoice for each inactive and suspended customer, while they last.
    first_old = np.flatnonzero(statuses != ACTIVE)[: len(old)]
    owners.append(first_old)
    given = np.zeros(n, np.bool_)
    given[first_old] = True
    # Then one for each customer still without: recent, except for inactive
    # customers (or when recent ones run out).
    used_old, used_recent = len(first_old), 0
    late_old = []
    late_recent = []
    for i, status in enumerate(statuses.tolist()):
        if given[i]:
            continue
        if status != INACTIVE and used_recent < len(recent):
            late_recent.append(i)
            used_recent += 1
        elif used_old < len(old):
            late_old.append(i)
            used_old += 1
    owners += [np.array(late_old, np.int64), np.array(late_recent, np.int64)]
    # The rest by purchase volume: everyone buys old ones, the inactive no recent ones.
    volume = TYPE_VOLUME[types] * columns.lognormal(0.0, 0.6, n)
    buying = np.flatnonzero(statuses != INACTIVE)
    for candidates, left in (
        (np.arange(n, dtype=np.int64), len(old) - used_old),
        (buying, len(recent) - used_recent),
    ):
        if left > 0 and len(candidates):
            cum = np.cumsum(volume[candidates])
            picked = np.searchsorted(cum, columns.random(left) * cum[-1], side="right")
            owners.append(candidates[np.minimum(picked, len(candidates) - 1)])
    owner = np.concatenate(owners)
    ages = np.concatenate(
        [old[: len(first_old)], old[len(first_old) : used_old], recent[:used_recent],
         old[used_old:], recent[used_recent:]]
    )  # fmt: skip
    if len(owner) != len(ages):
        raise AssertionError("every invoice date goes to a customer")
    order = np.lexsort((-ages, owner))
    return owner[order], ages[order]


class Buyers(NamedTuple):
    """What a shard's invoices need of its customers, by position."""

    statuses: Ints  # index into STATUSES
    types: Ints  # index into CUSTOMER_TYPES
    tax_bp: list[int]  # the billing state's sales tax, in basis points
    primary_address: list[int]  # the primary billing address's id
    limits: list[int]  # credit limits before settling


class InvoiceRows(NamedTuple):
    invoices: list[Invoice]
    line_items: list[InvoiceLineItem]
    #: The customers' credit limits, raised where an unpaid balance needed it.
    limits: list[int]
    #: Customer → invoices, then invoice → line items.
    links: list[Link]


def invoice_rows(
    as_of: int,
    shard: CustomerShard,
    catalog: Catalog,
    columns: np.random.Generator,
    rng: random.Random,
    dates: InvoiceDates,
    buyers: Buyers,
) -> InvoiceRows:
    """A shard's invoices and line items, a column at a time, settled."""
    ni = shard.invoices
    owner = dates.owner
    kind = buyers.types[owner]
    lines = _lines(columns, catalog, as_of, ni, dates.ages, kind)
    subtotal = np.add.reduceat(lines.total, lines.start) if ni else lines.total[:0]
    tax_bp = np.array(buyers.tax_bp, np.int64)[owner]
    tax = tax_amount(subtotal, tax_bp)
    day = as_of - dates.ages

    invoice_counts = dates.counts.tolist()
    days, totals = day.tolist(), (subtotal + tax).tolist()
    paid, limits = _payments(rng, as_of, buyers, invoice_counts, days, totals)

    invoice_ids = np.arange(shard.invoice_first, shard.invoice_first + ni, dtype=np.int64)
    due = (day + TYPE_TERMS[kind]).tolist()
    created = day * DAY + 8 * 3600 + (columns.random(ni) * 36_000).astype(np.int64)
    ids = invoice_ids.tolist()
    invoices = list(
        map(
            Invoice,
            ids,
            (owner + shard.customer_first).tolist(),
            np.array(buyers.primary_address, np.int64)[owner].tolist(),
            [f"INV-{i:08d}" for i in ids],
            days,
            due,
            [NET_TERMS[k] for k in kind.tolist()],
            [
                "paid" if p is not None else "overdue" if d < as_of else "pending"
                for p, d in zip(paid, due, strict=True)
            ],
            paid,
            subtotal.tolist(),
            tax_bp.tolist(),
            tax.tolist(),
            totals,
            created.tolist(),
        )
    )

    line_ids = np.arange(shard.line_first, shard.line_first + len(lines.at), dtype=np.int64)
    items = _line_items(catalog, lines, line_ids, invoice_ids)
    links: list[Link] = []
    first_invoice = shard.invoice_first
    for i, count in enumerate(invoice_counts):
        if count:
            links.append((INVOICES, shard.customer_first + i, first_invoice, count))
            first_invoice += count
    links += zip(repeat(LINE_ITEMS), ids, line_ids[lines.start].tolist(), lines.counts.tolist())
    return InvoiceRows(invoices, items, limits, links)


class _Lines(NamedTuple):
    """A shard's line items as columns, by position."""

    counts: Ints  # lines per invoice
    start: Ints  # each invoice's first line
    invoice: Ints  # each line's invoice
    number: Ints  # each line's number on its invoice, from 1
    at: Ints  # each line's product, by position (product ID − 1)
    price: Ints
    quantity: Ints
    discount: Ints
    total: Ints


def _lines(
    columns: np.random.Generator, catalog: Catalog, as_of: int, ni: int, ages: Ints, kind: Ints
) -> _Lines:
    """The line items of `ni` invoices of the given ages and customer types.

    Products by popularity among those on sale on the invoice date; a product
    already on the invoice is drawn again, once, which makes repeats rare.
    """
    lines = deal(quota(ni, LINE_WEIGHTS), columns) + 1
    line_start = np.cumsum(lines) - lines  # each invoice's first line, by position
    nl = int(lines.sum())
    line_invoice = np.repeat(np.arange(ni, dtype=np.int64), lines)
    number = np.arange(nl, dtype=np.int64) - line_start[line_invoice] + 1

    oldest_age = INVOICE_AGE_BANDS[-1][1]
    # By invoice age: how many products are on sale that day.
    sellable_at = catalog.sellable_on(as_of - np.arange(oldest_age + 1, dtype=np.int64))
    sellable = sellable_at[ages[line_invoice]]
    at = catalog.picks(columns.random(nl), sellable)
    repeated = np.zeros(nl, np.bool_)
    for back in (1, 2, 3):
        repeated[back:] |= (number[back:] > back) & (at[back:] == at[:-back])
    again = np.flatnonzero(repeated)
    if len(again):
        at[again] = catalog.picks(columns.random(len(again)), sellable[again])

    price = catalog.prices[at]
    quantity = QUANTITIES[(columns.random(nl) * len(QUANTITIES)).astype(np.int64)]
    line_discount = TYPE_DISCOUNT[kind][line_invoice]
    return _Lines(
        lines, line_start, line_invoice, number, at, price, quantity, line_discount,
        line_total(quantity, price, line_discount),
    )  # fmt: skip


def _line_items(
    catalog: Catalog, lines: _Lines, line_ids: Ints, invoice_ids: Ints
) -> list[InvoiceLineItem]:
    """The line item rows, each product's name read from the catalog once."""
    sold, where = np.unique(lines.at, return_inverse=True)
    names = catalog.names_at(sold)
    return list(
        map(
            InvoiceLineItem,
            line_ids.tolist(),
            invoice_ids[lines.invoice].tolist(),
            lines.number.tolist(),
            (lines.at + 1).tolist(),
            [names[i] for i in where.tolist()],
            lines.quantity.tolist(),
            lines.price.tolist(),
            lines.discount.tolist(),
            lines.total.tolist(),
        )
    )


def _payments(
    rng: random.Random,
    as_of: int,
    buyers: Buyers,
    invoice_counts: list[int],
    days: list[int],
    totals: list[int],
) -> tuple[list[int | None], list[int]]:
    """Each invoice's paid day (None: unpaid), and each customer's credit limit
    after settling: customer by customer, as they depend on its balance."""
    status_of, type_of = buyers.statuses.tolist(), buyers.types.tolist()
    paid: list[int | None] = []
    limits = []
    end = 0
    for i, count in enumerate(invoice_counts):
        start, end = end, end + count
        settled, limit = _settle(
            rng, status_of[i], CUSTOMER_TYPES[type_of[i]], days[start:end], totals[start:end],
            buyers.limits[i], as_of,
        )  # fmt: skip
        paid += settled
        limits.append(limit)
    return paid, limits


def _settle(
    rng: random.Random,
    status: int,
    kind: CustomerTypeSpec,
    days: list[int],
    totals: list[int],
    limit: int,
    as_of: int,
) -> tuple[list[int | None], int]:
    """Decide which invoices are paid and when; return paid days and the limit.

    Statuses follow from these dates. A suspended customer keeps its oldest
    past-due invoice unpaid. If the unpaid balance exceeds the credit limit,
    the limit rises within the type's range and then the oldest invoices are
    paid on time until it fits.
    """
    terms = kind.payment_terms_days
    on_time = kind.pay_on_time * (0.6 if status == SUSPENDED else 1.0)
    late = kind.pay_late
    early = kind.pay_early
    # random() scaled by hand: randint() costs ten times as much.
    r = rng.random
    paid: list[int | None] = []
    for day in days:
        due = day + terms
        paid_day: int | None = None
        if due < as_of:
            u = r()
            if u < on_time:
                paid_day = day + int(r() * (terms + 1))
            elif u < on_time + late:
                paid_day = due + 1 + int(rng.expovariate(1 / 20))
                if paid_day > as_of:
                    paid_day = None
        elif r() < early:
            paid_day = day + int(r() * (as_of - day + 1))
        paid.append(paid_day)
    reserved = -1
    if status == SUSPENDED:
        for j, day in enumerate(days):
            if day + terms < as_of:
                paid[j] = None
                reserved = j
                break
    unpaid = 0
    for total, paid_day in zip(totals, paid, strict=True):
        if paid_day is None:
            unpaid += total
    if unpaid > limit:
        ceiling = min(CREDIT_LIMIT_MAX_CENTS, round(CREDIT_BASE_MAX * kind.credit_multiplier) * 100)
        limit = max(limit, min(ceiling, -(-unpaid // 50_000) * 50_000))
    for only_reserved in (False, True):
        if unpaid <= limit:
            break
        for j, day in enumerate(days):
            if unpaid <= limit:
                break
            if paid[j] is None and (j != reserved or only_reserved):
                paid[j] = day + int(r() * (min(day + terms, as_of) - day + 1))
                unpaid -= totals[j]
    return paid, limit
