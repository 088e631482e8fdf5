"""Customers and everything they own: pure generators, (plan, shard) → records.

A customer shard makes its customers, their addresses, their invoices and the
invoices' line items, with the IDs the plan allocated to it. No I/O and no
global state: every draw comes from the shard's own `random.Random`, seeded
from (root seed, "customers", shard index).

Distribution targets hold by construction: statuses, customer types,
business share, address counts, line-item counts and invoice age bands are
quotas (largest remainder) dealt out by a seeded shuffle, not independent
draws.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from bisect import bisect_right
from itertools import accumulate
from typing import NamedTuple

from .catalog import DAY, NAME_BYTES, Catalog, foundation_created_at
from .plan import (
    ADDRESS_WEIGHTS,
    EPOCH,
    LINE_WEIGHTS,
    CustomerShard,
    Plan,
    dealt,
    derive_seed,
    quota,
    shuffle,
)
from .schema import Customer, CustomerAddress, CustomerType, Invoice, InvoiceLineItem
from .vocab import (
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
    geography,
    people,
)

ACTIVE, INACTIVE, SUSPENDED = range(3)
#: Customers signed up at most this many days before their first invoice.
MAX_TENURE_DAYS = 6 * 365

#: QUANTITY_TABLE[int(u * total weight)] is the quantity a uniform u draws.
QUANTITY_TABLE = tuple(q for q, w in enumerate(QUANTITY_WEIGHTS, 1) for _ in range(w))
STATE_CODES = tuple(sorted(STATE_POPULATION))


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


def spread(total: int, weights: list[int] | tuple[int, ...], rng: random.Random) -> list[int]:
    """Split `total` by `weights`, each part within one of its exact share.

    Systematic rounding from a random offset: unlike largest remainder, the
    rounding does not repeat identically in every shard, so totals over many
    shards stay close to the exact shares for small weights too.
    """
    weight_sum = sum(weights)
    offset = rng.random()
    parts = []
    previous = 0
    for cum in accumulate(weights):
        edge = math.floor(total * cum / weight_sum + offset)
        parts.append(edge - previous)
        previous = edge
    parts[-1] += total - previous
    return parts


@functools.lru_cache(maxsize=8)
def age_weights(as_of_day: int) -> tuple[tuple[tuple[int, ...], tuple[float, ...]], ...]:
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
        bands.append((ages, tuple(accumulate(weights))))
    return tuple(bands)


@functools.lru_cache(maxsize=8192)
def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isascii() and ch.isalnum())


def _sellable_by_age(catalog: Catalog, as_of: int) -> list[tuple[int, float]]:
    """For each invoice age (days before as_of): how many products are on sale
    that day and their cumulative popularity."""
    cum = catalog.cum_popularity
    oldest = INVOICE_AGE_BANDS[-1][1]
    sellable = [catalog.sellable(as_of - age) for age in range(oldest + 1)]
    return [(count, cum[count - 1]) for count in sellable]


def customer_shard(plan: Plan, shard: CustomerShard, catalog: Catalog) -> CustomerRows:
    """Generate one customer shard: customers, addresses, invoices, line items."""
    rng = random.Random(derive_seed(plan.seed, "customers", shard.index))
    as_of = plan.as_of_day
    n = shard.customers
    vocabulary = people()
    places = geography()

    statuses = dealt(quota(n, STATUS_SHARES), rng)
    types = dealt(quota(n, [t.share for t in CUSTOMER_TYPES]), rng)
    is_business = dealt(quota(n, [BUSINESS_SHARE, 100 - BUSINESS_SHARE]), rng)
    states = dealt(spread(n, [STATE_POPULATION[s] for s in STATE_CODES], rng), rng)
    address_counts = dealt(quota(n, ADDRESS_WEIGHTS), rng)
    firsts = rng.choices(vocabulary.first_names.values, vocabulary.first_names.cum_weights, k=n)
    lasts = rng.choices(vocabulary.last_names.values, vocabulary.last_names.cum_weights, k=2 * n)

    # Invoice dates: quotas per age band, then days within a band by weekday
    # and season; each customer gets its slots below.
    band_counts = quota(shard.invoices, [b[2] for b in INVOICE_AGE_BANDS])
    bands = age_weights(as_of)
    recent_ages: list[int] = []
    old_ages: list[int] = []
    for band, ((band_ages, band_cum), count) in enumerate(zip(bands, band_counts, strict=True)):
        drawn = rng.choices(band_ages, cum_weights=band_cum, k=count)
        (old_ages if band == len(bands) - 1 else recent_ages).extend(drawn)
    ages_of: list[list[int]] = [[] for _ in range(n)]
    _deal_invoices(rng, statuses, types, recent_ages, old_ages, ages_of)

    lines_left = dealt(quota(shard.invoices, LINE_WEIGHTS), rng)
    customers: list[Customer] = []
    addresses: list[CustomerAddress] = []
    invoices: list[Invoice] = []
    items: list[InvoiceLineItem] = []
    links: list[tuple[int, int, int, int]] = []
    next_address = shard.address_first
    next_invoice = shard.invoice_first
    next_line = shard.line_first
    # Hot loop: random() scaled by hand costs a third of randint()/choice().
    r = rng.random
    position = catalog.position
    # By invoice age: how many products are on sale, and their total popularity.
    sellable_at = _sellable_by_age(catalog, as_of)
    cum, bounds = catalog.cum_popularity, catalog.bounds
    prices, names = catalog.prices, catalog.names
    total_popularity, slices = cum[-1], len(bounds)
    quantity_total = len(QUANTITY_TABLE)
    company_suffixes = vocabulary.company_suffixes
    street_suffixes = vocabulary.street_suffixes
    end_of_as_of = as_of * DAY + 18 * 3600
    for i in range(n):
        customer_id = shard.customer_first + i
        kind = CUSTOMER_TYPES[types[i]]
        first, last = firsts[i], lasts[2 * i]
        name = f"{first} {last}"
        company = None
        if is_business[i]:
            other = lasts[2 * i + 1]
            form = int(r() * 3)
            if form == 0:
                company = f"{last} {company_suffixes[int(r() * len(company_suffixes))]}"
            elif form == 1:
                company = f"{last}-{other}"
            else:
                company = f"{last}, {other} and {lasts[int(r() * len(lasts))]}"
        domain = EMAIL_DOMAINS[int(r() * len(EMAIL_DOMAINS))]
        email = f"{_slug(first)}.{_slug(last)}.{customer_id}@{domain}"

        ages = sorted(ages_of[i], reverse=True)  # oldest first
        if ages:
            created_day = as_of - ages[0] - int(rng.triangular(0, MAX_TENURE_DAYS, 0))
        else:
            created_day = as_of - int(r() * (MAX_TENURE_DAYS + 1))
        created_at = created_day * DAY + 8 * 3600 + int(r() * 36_000)
        updated_at = created_at + int(r() * (end_of_as_of - created_at + 1))

        # Addresses: the first is the primary billing address, in the
        # customer's state; the others come later.
        state = STATE_CODES[states[i]]
        in_state = places[state]
        place = in_state[int(r() * len(in_state))]
        primary_id = next_address
        links.append((1, customer_id, next_address, address_counts[i] + 1))
        for k in range(address_counts[i] + 1):
            if k:
                here_state = state if r() < 0.7 else STATE_CODES[int(r() * len(STATE_CODES))]
                there = places[here_state]
                here = there[int(r() * len(there))]
                kind_of = "shipping" if k == 1 or r() < 0.5 else "billing"
                since = created_at + int(r() * (end_of_as_of - created_at + 1))
            else:
                here_state, here, kind_of, since = state, place, "billing", created_at
            street_name = lasts[int(r() * len(lasts))] if r() < 0.5 else firsts[int(r() * n)]
            street2 = None
            if r() < 0.2:
                street2 = f"{('Apt.', 'Suite', 'Unit')[int(r() * 3)]} {int(r() * 999) + 1}"
            suffix = street_suffixes[int(r() * len(street_suffixes))]
            addresses.append(
                CustomerAddress(
                    next_address, customer_id, kind_of,
                    f"{int(r() * 9999) + 1} {street_name} {suffix}",
                    street2, here.city, here_state, here.zip_code, here.county, "US",
                    k == 0, since,
                )
            )  # fmt: skip
            next_address += 1

        # A valid NANP number: an area code serving the primary ZIP, an
        # exchange 200-999 that is neither N11 nor the fictional 555.
        exchange = 200 + int(r() * 800)
        if exchange % 100 == 11 or exchange == 555:
            exchange += 1
        area = place.area_codes[int(r() * len(place.area_codes))]
        phone = f"({area}) {exchange}-{int(r() * 10_000):04d}"

        limit = _credit_limit(kind.credit_multiplier, rng)
        tax_bp = STATE_TAX_BP[state]
        terms = kind.payment_terms_days
        discount = kind.discount_percentage
        keep = 100 - discount
        net_terms = f"Net {terms}"
        # Draft the invoices oldest first, then settle payments. Line items
        # are made here already: their ids and their invoice's id follow in order.
        days: list[int] = []
        subtotals: list[int] = []
        invoice_id = next_invoice
        for age in ages:
            day = as_of - age
            sellable, scale = sellable_at[age]
            # pick(), inlined: the guide narrows the bisect to a few entries.
            chosen: list[int] = []
            subtotal = 0
            count = lines_left.pop() + 1
            for number in range(1, count + 1):
                x = r() * scale
                low, high = bounds[int(x / total_popularity * slices)]
                at = bisect_right(cum, x, low, high if high < sellable else sellable)
                if at >= sellable:
                    at = sellable - 1
                if at in chosen:  # one more draw makes repeats rare
                    at = position(r(), sellable)
                chosen.append(at)
                price = prices[at]
                start = at * NAME_BYTES  # catalog.name(at), inlined
                product_name = str(names[start + 1 : start + 1 + names[start]], "utf-8")
                quantity = QUANTITY_TABLE[int(r() * quantity_total)]
                line_total = (quantity * price * keep + 50) // 100
                items.append(
                    InvoiceLineItem(
                        next_line, invoice_id, number, at + 1, product_name, quantity,
                        price, discount, line_total,
                    )
                )  # fmt: skip
                next_line += 1
                subtotal += line_total
            links.append((3, invoice_id, next_line - count, count))
            invoice_id += 1
            days.append(day)
            subtotals.append(subtotal)
        taxes = [(subtotal * tax_bp + 5_000) // 10_000 for subtotal in subtotals]
        paid, limit = _settle(
            rng,
            statuses[i],
            kind,
            days,
            [s + t for s, t in zip(subtotals, taxes, strict=True)],
            limit,
            as_of,
        )
        first_invoice = next_invoice
        for day, subtotal, tax, paid_day in zip(days, subtotals, taxes, paid, strict=True):
            due = day + terms
            if paid_day is not None:
                status = "paid"
            elif due < as_of:
                status = "overdue"
            else:
                status = "pending"
            invoices.append(
                Invoice(
                    next_invoice, customer_id, primary_id, f"INV-{next_invoice:08d}", day, due,
                    net_terms, status, paid_day, subtotal, tax_bp, tax, subtotal + tax,
                    day * DAY + 8 * 3600 + int(r() * 36_000),
                )
            )  # fmt: skip
            next_invoice += 1
        if next_invoice > first_invoice:
            links.append((2, customer_id, first_invoice, next_invoice - first_invoice))

        customers.append(
            Customer(
                customer_id, types[i] + 1, name, company,
                email, phone, STATUSES[statuses[i]], limit, created_at, updated_at,
            )
        )  # fmt: skip
    links.sort()
    return CustomerRows(customers, addresses, invoices, items, links)


def _deal_invoices(
    rng: random.Random,
    statuses: list[int],
    types: list[int],
    recent_ages: list[int],
    old_ages: list[int],
    ages_of: list[list[int]],
) -> None:
    """Give each customer its invoice dates (ages in days before as_of).

    Inactive customers only buy in the oldest band; every inactive and
    suspended customer gets one old invoice first (a suspended customer's
    becomes its overdue invoice), then every customer gets one, then the rest
    go by purchase volume.
    """
    n = len(statuses)
    shuffle(old_ages, rng)
    shuffle(recent_ages, rng)
    for i in range(n):
        if statuses[i] != ACTIVE and old_ages:
            ages_of[i].append(old_ages.pop())
    for i in range(n):
        if not ages_of[i]:
            pool = recent_ages if statuses[i] != INACTIVE and recent_ages else old_ages
            if pool:
                ages_of[i].append(pool.pop())
    volume = [CUSTOMER_TYPES[t].volume * rng.lognormvariate(0.0, 0.6) for t in types]
    everyone = list(range(n))
    buying = [i for i in everyone if statuses[i] != INACTIVE]
    everyone_cum = list(accumulate(volume[i] for i in everyone))
    buying_cum = list(accumulate(volume[i] for i in buying))
    for i in rng.choices(everyone, cum_weights=everyone_cum, k=len(old_ages)):
        ages_of[i].append(old_ages.pop())
    for i in rng.choices(buying, cum_weights=buying_cum, k=len(recent_ages)):
        ages_of[i].append(recent_ages.pop())


def _credit_limit(multiplier: float, rng: random.Random) -> int:
    """Log-uniform base times the type's multiplier, in whole $500, as cents."""
    base = math.exp(rng.uniform(math.log(CREDIT_BASE_MIN), math.log(CREDIT_BASE_MAX)))
    dollars = max(500, round(base * multiplier / 500) * 500)
    return min(dollars * 100, CREDIT_LIMIT_MAX_CENTS)


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
