"""Customers and everything they own: pure generators, (plan, shard) → records.

A customer shard makes its customers, their addresses, their invoices and the
invoices' line items, with the IDs the plan allocated to it, a column at a
time. No I/O and no global state: every draw comes from the shard's own numpy
generator, seeded from (root seed, "lines", shard index), except payment
settling, which goes customer by customer with a `random.Random` seeded from
(root seed, "customers", shard index).

Distribution targets hold by construction: statuses, customer types,
business share, address counts, line-item counts and invoice age bands are
quotas (largest remainder) dealt out by a seeded permutation, not independent
draws.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from itertools import accumulate, repeat
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..plan import (
    ADDRESS_WEIGHTS,
    EPOCH,
    LINE_WEIGHTS,
    CustomerShard,
    Plan,
    deal,
    derive_seed,
    generator,
    quota,
)
from ..schema import (
    ADDRESSES,
    INVOICES,
    LINE_ITEMS,
    Customer,
    CustomerAddress,
    CustomerType,
    Invoice,
    InvoiceLineItem,
)
from .catalog import Catalog
from .products import DAY, foundation_created_at
from .vocabulary import (
    BUSINESS_SHARE,
    CREDIT_BASE_MAX,
    CREDIT_BASE_MIN,
    CREDIT_LIMIT_MAX_CENTS,
    CUSTOMER_TYPES,
    EMAIL_DOMAINS,
    INVOICE_AGE_BANDS,
    Q4_LIFT,
    QUANTITY_WEIGHTS,
    STATE_POPULATION,
    STATE_TAX_BP,
    STATUS_SHARES,
    STATUSES,
    WEEKEND_WEIGHT,
    CustomerTypeSpec,
    Weighted,
    geography,
    people,
)

ACTIVE, INACTIVE, SUSPENDED = range(3)
#: Customers signed up at most this many days before their first invoice.
MAX_TENURE_DAYS = 6 * 365

#: QUANTITIES[int(u * total weight)] is the quantity a uniform u draws.
QUANTITIES = np.array([q for q, w in enumerate(QUANTITY_WEIGHTS, 1) for _ in range(w)], np.int64)
STATE_CODES = tuple(sorted(STATE_POPULATION))
#: By customer type (index into CUSTOMER_TYPES).
TYPE_DISCOUNT = np.array([t.discount_percentage for t in CUSTOMER_TYPES], np.int64)
TYPE_TERMS = np.array([t.payment_terms_days for t in CUSTOMER_TYPES], np.int64)
NET_TERMS = tuple(f"Net {t.payment_terms_days}" for t in CUSTOMER_TYPES)
TYPE_VOLUME = np.array([t.volume for t in CUSTOMER_TYPES], np.float64)
TYPE_CREDIT = np.array([t.credit_multiplier for t in CUSTOMER_TYPES], np.float64)
UNIT_KINDS = ("Apt.", "Suite", "Unit")

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


class CustomerRows(NamedTuple):
    customers: list[Customer]
    addresses: list[CustomerAddress]
    invoices: list[Invoice]
    line_items: list[InvoiceLineItem]
    #: (relation code, parent id, first child id, children)
    links: list[tuple[int, int, int, int]]


def customer_types(plan: Plan) -> list[CustomerType]:
    created = foundation_created_at(plan)
    return [
        CustomerType(
            i + 1, t.name, t.description, t.credit_multiplier, t.discount_percentage,
            t.priority_level, t.payment_terms_days, True, created,
        )
        for i, t in enumerate(CUSTOMER_TYPES)
    ]  # fmt: skip


def spread(total: int, weights: list[int] | tuple[int, ...], offset: float) -> list[int]:
    """Split `total` by `weights`, each part within one of its exact share.

    Systematic rounding from a random `offset` in [0, 1): unlike largest
    remainder, the rounding does not repeat identically in every shard, so
    totals over many shards stay close to the exact shares for small weights too.
    """
    weight_sum = sum(weights)
    parts = []
    previous = 0
    for cum in accumulate(weights):
        edge = math.floor(total * cum / weight_sum + offset)
        parts.append(edge - previous)
        previous = edge
    parts[-1] += total - previous
    return parts


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


@functools.lru_cache(maxsize=8192)
def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


class _People(NamedTuple):
    """A shard's customers before their invoices are settled, and their addresses."""

    names: list[str]
    companies: list[str | None]
    emails: list[str]
    phones: list[str]
    created_at: list[int]
    updated_at: list[int]
    limits: list[int]
    primary_address: list[int]  # the primary billing address's id
    tax_bp: list[int]  # the billing state's sales tax, in basis points
    addresses: list[CustomerAddress]
    links: list[tuple[int, int, int, int]]


def customer_shard(plan: Plan, shard: CustomerShard, catalog: Catalog) -> CustomerRows:
    """Generate one customer shard: customers, addresses, invoices, line items.

    Every field is drawn or computed as a column; strings are then assembled
    row by row, and records made from the columns.
    """
    rng = random.Random(derive_seed(plan.seed, "customers", shard.index))
    columns = generator(plan.seed, "lines", shard.index)
    as_of = plan.as_of_day
    n = shard.customers

    statuses = deal(quota(n, STATUS_SHARES), columns)
    types = deal(quota(n, [t.share for t in CUSTOMER_TYPES]), columns)

    # Invoice dates: quotas per age band, then days within a band by weekday
    # and season; each customer gets its slots, oldest first.
    band_counts = quota(shard.invoices, [b[2] for b in INVOICE_AGE_BANDS])
    drawn = [
        ages[np.searchsorted(cum, columns.random(count) * cum[-1], side="right")]
        for (ages, cum), count in zip(age_weights(plan.as_of_day), band_counts, strict=True)
    ]
    owner, invoice_ages = _deal_invoices(
        columns, statuses, types, np.concatenate(drawn[:-1]), drawn[-1]
    )
    counts = np.bincount(owner, minlength=n)
    oldest = np.full(n, -1, np.int64)  # each customer's oldest invoice's age
    oldest[counts > 0] = invoice_ages[(np.cumsum(counts) - counts)[counts > 0]]
    invoice_counts, status_of, type_of = counts.tolist(), statuses.tolist(), types.tolist()

    people = _people(plan, shard, columns, types, oldest)

    # -- invoices and line items, a column at a time -----------------------------
    ni = shard.invoices
    kind = types[owner]
    lines = deal(quota(ni, LINE_WEIGHTS), columns) + 1
    line_start = np.cumsum(lines) - lines  # each invoice's first line, by position
    nl = int(lines.sum())
    line_invoice = np.repeat(np.arange(ni, dtype=np.int64), lines)
    number = np.arange(nl, dtype=np.int64) - line_start[line_invoice] + 1

    # Products by popularity among those on sale on the invoice date; a
    # product already on the invoice is drawn again, once, which makes
    # repeats rare.
    oldest_age = INVOICE_AGE_BANDS[-1][1]
    # By invoice age: how many products are on sale that day.
    sellable_at = catalog.sellable_on(as_of - np.arange(oldest_age + 1, dtype=np.int64))
    sellable = sellable_at[invoice_ages[line_invoice]]
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
    line_total = (quantity * price * (100 - line_discount) + 50) // 100
    subtotal = np.add.reduceat(line_total, line_start) if ni else line_total[:0]
    tax_bp = np.array(people.tax_bp, np.int64)[owner]
    tax = (subtotal * tax_bp + 5_000) // 10_000
    day = as_of - invoice_ages

    # Payments, customer by customer: they depend on the customer's balance.
    days, totals = day.tolist(), (subtotal + tax).tolist()
    paid: list[int | None] = []
    limits = people.limits
    end = 0
    for i, count in enumerate(invoice_counts):
        start, end = end, end + count
        settled, limits[i] = _settle(
            rng, status_of[i], CUSTOMER_TYPES[type_of[i]], days[start:end], totals[start:end],
            limits[i], as_of,
        )  # fmt: skip
        paid += settled

    invoice_ids = np.arange(shard.invoice_first, shard.invoice_first + ni, dtype=np.int64)
    due = (day + TYPE_TERMS[kind]).tolist()
    created = day * DAY + 8 * 3600 + (columns.random(ni) * 36_000).astype(np.int64)
    ids = invoice_ids.tolist()
    invoices = list(
        map(
            Invoice,
            ids,
            (owner + shard.customer_first).tolist(),
            np.array(people.primary_address, np.int64)[owner].tolist(),
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

    sold, where = np.unique(at, return_inverse=True)
    names = catalog.names_at(sold)
    line_ids = np.arange(shard.line_first, shard.line_first + nl, dtype=np.int64)
    items = list(
        map(
            InvoiceLineItem,
            line_ids.tolist(),
            invoice_ids[line_invoice].tolist(),
            number.tolist(),
            (at + 1).tolist(),
            [names[i] for i in where.tolist()],
            quantity.tolist(),
            price.tolist(),
            line_discount.tolist(),
            line_total.tolist(),
        )
    )

    customers = list(
        map(
            Customer,
            range(shard.customer_first, shard.customer_first + n),
            [t + 1 for t in type_of],
            people.names,
            people.companies,
            people.emails,
            people.phones,
            [STATUSES[status] for status in status_of],
            limits,
            people.created_at,
            people.updated_at,
        )
    )
    links = people.links
    first_invoice = shard.invoice_first
    for i, count in enumerate(invoice_counts):
        if count:
            links.append((INVOICES, shard.customer_first + i, first_invoice, count))
            first_invoice += count
    links += zip(repeat(LINE_ITEMS), ids, line_ids[line_start].tolist(), lines.tolist())
    return CustomerRows(customers, people.addresses, invoices, items, links)


def _people(
    plan: Plan,
    shard: CustomerShard,
    columns: np.random.Generator,
    types: Ints,
    oldest: Ints,
) -> _People:
    """Customers' names, contacts, dates and credit limits, and their addresses:
    every draw a column, then the strings row by row."""
    as_of = plan.as_of_day
    n = shard.customers
    vocabulary = people()
    places = geography()
    first_ids = shard.customer_first + np.arange(n, dtype=np.int64)
    is_business = deal(quota(n, [BUSINESS_SHARE, 100 - BUSINESS_SHARE]), columns) == 0
    offset = float(columns.random())
    states = deal(spread(n, [STATE_POPULATION[s] for s in STATE_CODES], offset), columns)
    address_counts = deal(quota(n, ADDRESS_WEIGHTS), columns) + 1
    firsts = _choose(vocabulary.first_names, n, columns)
    lasts = _choose(vocabulary.last_names, 3 * n, columns)  # own, partner, third
    u = columns.random((9, n))

    # Signed up before the first invoice (within MAX_TENURE_DAYS), or any time.
    tenure = columns.triangular(0, 0, MAX_TENURE_DAYS, n).astype(np.int64)
    created_day = np.where(
        oldest >= 0,
        as_of - oldest - tenure,
        as_of - (u[0] * (MAX_TENURE_DAYS + 1)).astype(np.int64),
    )
    created_at = created_day * DAY + 8 * 3600 + (u[1] * 36_000).astype(np.int64)
    end_of_as_of = as_of * DAY + 18 * 3600
    updated_at = created_at + (u[2] * (end_of_as_of - created_at + 1)).astype(np.int64)
    # The primary address is in the customer's state.
    state_places = _state_places()
    in_state = state_places[states]
    place = (u[3] * in_state).astype(np.int64)
    # A valid NANP number: an area code serving the primary ZIP, an exchange
    # 200-999 that is neither N11 nor the fictional 555.
    exchange = 200 + (u[4] * 800).astype(np.int64)
    exchange += (exchange % 100 == 11) | (exchange == 555)
    line = (u[5] * 10_000).astype(np.int64)
    multiplier = TYPE_CREDIT[types]
    base = np.exp(
        np.log(CREDIT_BASE_MIN) + u[6] * (np.log(CREDIT_BASE_MAX) - np.log(CREDIT_BASE_MIN))
    )
    dollars = np.maximum(500, np.rint(base * multiplier / 500).astype(np.int64) * 500)
    limits = np.minimum(dollars * 100, CREDIT_LIMIT_MAX_CENTS)
    form = (u[7] * 3).astype(np.int64)
    domain = (u[8] * len(EMAIL_DOMAINS)).astype(np.int64)

    out = _People([], [], [], [], created_at.tolist(), updated_at.tolist(), limits.tolist(),
                  [], [STATE_TAX_BP[STATE_CODES[s]] for s in states.tolist()], [], [])  # fmt: skip
    suffixes = vocabulary.company_suffixes
    company_pick = (columns.random(n) * len(suffixes)).astype(np.int64).tolist()
    state_codes = [STATE_CODES[s] for s in states.tolist()]
    primary = []
    for i, (first, last, other, third, business, kind, domain_at) in enumerate(
        zip(firsts, lasts[:n], lasts[n : 2 * n], lasts[2 * n :], is_business.tolist(),
            form.tolist(), domain.tolist(), strict=True)
    ):  # fmt: skip
        out.names.append(f"{first} {last}")
        if not business:
            out.companies.append(None)
        elif kind == 0:
            out.companies.append(f"{last} {suffixes[company_pick[i]]}")
        elif kind == 1:
            out.companies.append(f"{last}-{other}")
        else:
            out.companies.append(f"{last}, {other} and {third}")
        out.emails.append(f"{_slug(first)}.{_slug(last)}.{shard.customer_first + i}@"
                          f"{EMAIL_DOMAINS[domain_at]}")  # fmt: skip
    for state, at, exchange_at, line_at, pick in zip(
        state_codes, place.tolist(), exchange.tolist(), line.tolist(),
        (columns.random(n)).tolist(), strict=True,
    ):  # fmt: skip
        here = places[state][at]
        primary.append(here)
        area = here.area_codes[int(pick * len(here.area_codes))]
        out.phones.append(f"({area}) {exchange_at}-{line_at:04d}")

    # Addresses: the first of each customer is its primary billing address;
    # the others come later, most in the same state.
    na = int(address_counts.sum())
    owner = np.repeat(np.arange(n, dtype=np.int64), address_counts)
    start = np.cumsum(address_counts) - address_counts
    number = np.arange(na, dtype=np.int64) - start[owner]  # 0 for the primary
    v = columns.random((9, na))
    moved = (number > 0) & (v[0] >= 0.7)
    other_state = (v[1] * len(STATE_CODES)).astype(np.int64)
    address_state = np.where(moved, other_state, states[owner])
    spot = (v[2] * state_places[address_state]).astype(np.int64)
    shipping = (number == 1) | ((number > 1) & (v[3] < 0.5))
    since = np.where(
        number > 0,
        created_at[owner] + (v[4] * (end_of_as_of - created_at[owner] + 1)).astype(np.int64),
        created_at[owner],
    )
    street_last = (v[5] * len(lasts)).astype(np.int64)
    street_first = (v[5] * n).astype(np.int64)
    use_last = v[6] < 0.5
    street2_kind = np.where(v[7] < 0.2, (v[7] * 15).astype(np.int64), -1)  # 0-2: Apt., Suite, Unit
    street_number = (v[8] * 9999).astype(np.int64) + 1
    unit = (columns.random(na) * 999).astype(np.int64) + 1
    street_suffixes = vocabulary.street_suffixes
    suffix = (columns.random(na) * len(street_suffixes)).astype(np.int64)
    address_ids = range(shard.address_first, shard.address_first + na)
    states_of = [STATE_CODES[s] for s in address_state.tolist()]
    streets, seconds, cities, zips, counties = [], [], [], [], []
    for state, at, primary_of, by_last, last_at, first_at, kind2, num, unit_at, sfx in zip(
        states_of, spot.tolist(), np.where(number == 0, owner, -1).tolist(),
        use_last.tolist(), street_last.tolist(), street_first.tolist(),
        street2_kind.tolist(), street_number.tolist(), unit.tolist(), suffix.tolist(),
        strict=True,
    ):  # fmt: skip
        here = primary[primary_of] if primary_of >= 0 else places[state][at]
        name = lasts[last_at] if by_last else firsts[first_at]
        streets.append(f"{num} {name} {street_suffixes[sfx]}")
        seconds.append(None if kind2 < 0 else f"{UNIT_KINDS[kind2]} {unit_at}")
        cities.append(here.city)
        zips.append(here.zip_code)
        counties.append(here.county)
    out.addresses.extend(
        map(
            CustomerAddress,
            address_ids,
            (first_ids[owner]).tolist(),
            np.where(shipping, "shipping", "billing").tolist(),
            streets,
            seconds,
            cities,
            states_of,
            zips,
            counties,
            repeat("US"),
            (number == 0).tolist(),
            since.tolist(),
        )
    )
    primary_ids = (shard.address_first + start).tolist()
    out.primary_address.extend(primary_ids)
    out.links.extend(
        zip(repeat(ADDRESSES), first_ids.tolist(), primary_ids, address_counts.tolist())
    )
    return out


def _choose(weighted: Weighted, k: int, columns: np.random.Generator) -> list[str]:
    """k values drawn by weight (as random.choices would)."""
    cum = weighted.cum_weights
    at = np.searchsorted(cum, columns.random(k) * cum[-1], side="right")
    values = weighted.values
    return [values[i] for i in np.minimum(at, len(values) - 1).tolist()]


@functools.cache
def _state_places() -> Ints:
    """How many street-address ZIPs each state has (by index into STATE_CODES)."""
    return np.array([len(geography()[s]) for s in STATE_CODES], np.int64)


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
