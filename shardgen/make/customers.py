"""Customers and everything they own: pure generators, (plan, shard) → records.

A customer shard makes its customers and their addresses here, and their
invoices and the invoices' line items in invoices.py, with the IDs the plan
allocated to it, a column at a time. No I/O and no global state: every draw
comes from the shard's own numpy generator, seeded from (root seed, "lines",
shard index), except payment settling, which goes customer by customer with a
`random.Random` seeded from (root seed, "customers", shard index).

Distribution targets hold by construction: statuses, customer types,
business share, address counts, line-item counts and invoice age bands are
quotas (largest remainder) dealt out by a seeded permutation, not independent
draws.
"""

from __future__ import annotations

import functools
import random
from itertools import repeat
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..plan import (
    ADDRESS_WEIGHTS,
    CustomerShard,
    Plan,
    deal,
    derive_seed,
    generator,
    quota,
    split,
    spread,
)
from ..schema import ADDRESSES, Customer, CustomerAddress, CustomerType, Invoice, InvoiceLineItem
from .catalog import Catalog
from .invoices import Buyers, Link, invoice_dates, invoice_rows
from .products import DAY, foundation_created_at
from .vocabulary import (
    BUSINESS_SHARE,
    CREDIT_BASE_MAX,
    CREDIT_BASE_MIN,
    CREDIT_LIMIT_MAX_CENTS,
    CUSTOMER_TYPES,
    EMAIL_DOMAINS,
    STATE_POPULATION,
    STATE_TAX_BP,
    STATUS_SHARES,
    STATUSES,
    Place,
    Weighted,
    geography,
    people,
)

#: Customers signed up at most this many days before their first invoice.
MAX_TENURE_DAYS = 6 * 365

STATE_CODES = tuple(sorted(STATE_POPULATION))
#: By customer type (index into CUSTOMER_TYPES).
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
    links: list[Link]


def customer_types(plan: Plan) -> list[CustomerType]:
    created = foundation_created_at(plan)
    return [
        CustomerType(
            i + 1, t.name, t.description, t.credit_multiplier, t.discount_percentage,
            t.priority_level, t.payment_terms_days, True, created,
        )
        for i, t in enumerate(CUSTOMER_TYPES)
    ]  # fmt: skip


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
    links: list[Link]


def customer_shard(plan: Plan, shard: CustomerShard, catalog: Catalog) -> CustomerRows:
    """Generate one customer shard: customers, addresses, invoices, line items.

    Every field is drawn or computed as a column; strings are then assembled
    row by row, and records made from the columns.
    """
    rng = random.Random(derive_seed(plan.seed, "customers", shard.index))
    columns = generator(plan.seed, "lines", shard.index)
    n = shard.customers
    statuses = deal(quota(n, STATUS_SHARES), columns)
    types = deal(split(n, [t.share for t in CUSTOMER_TYPES], columns, shard.index), columns)
    dates = invoice_dates(columns, plan.as_of_day, shard.invoices, statuses, types)
    counts = dates.counts
    oldest = np.full(n, -1, np.int64)  # each customer's oldest invoice's age
    oldest[counts > 0] = dates.ages[(np.cumsum(counts) - counts)[counts > 0]]
    people = _people(plan, shard, columns, types, oldest)
    buyers = Buyers(statuses, types, people.tax_bp, people.primary_address, people.limits)
    sales = invoice_rows(plan.as_of_day, shard, catalog, columns, rng, dates, buyers)
    customers = list(
        map(
            Customer,
            range(shard.customer_first, shard.customer_first + n),
            [t + 1 for t in types.tolist()],
            people.names,
            people.companies,
            people.emails,
            people.phones,
            [STATUSES[status] for status in statuses.tolist()],
            sales.limits,
            people.created_at,
            people.updated_at,
        )
    )
    return CustomerRows(
        customers, people.addresses, sales.invoices, sales.line_items, people.links + sales.links
    )


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
    first_ids = shard.customer_first + np.arange(n, dtype=np.int64)
    business = [BUSINESS_SHARE, 100 - BUSINESS_SHARE]
    is_business = deal(split(n, business, columns, shard.index), columns) == 0
    offset = float(columns.random())
    states = deal(spread(n, [STATE_POPULATION[s] for s in STATE_CODES], offset), columns)
    address_counts = deal(split(n, ADDRESS_WEIGHTS, columns, shard.index), columns) + 1
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
    names, companies, emails = _names(shard, columns, firsts, lasts, is_business, u[7], u[8])
    primary, phones = _phones(columns, states, u[3], u[4], u[5])
    addresses, primary_ids = _addresses(
        shard, columns, states, address_counts, primary, created_at, end_of_as_of, firsts, lasts
    )
    return _People(
        names,
        companies,
        emails,
        phones,
        created_at.tolist(),
        updated_at.tolist(),
        _credit_limits(types, u[6]).tolist(),
        primary_ids,
        [STATE_TAX_BP[STATE_CODES[s]] for s in states.tolist()],
        addresses,
        list(zip(repeat(ADDRESSES), first_ids.tolist(), primary_ids, address_counts.tolist())),
    )


def _credit_limits(types: Ints, u: Floats) -> Ints:
    """Credit limits in cents: a log-uniform base times the type's multiplier,
    in whole $500."""
    multiplier = TYPE_CREDIT[types]
    base = np.exp(np.log(CREDIT_BASE_MIN) + u * (np.log(CREDIT_BASE_MAX) - np.log(CREDIT_BASE_MIN)))
    dollars = np.maximum(500, np.rint(base * multiplier / 500).astype(np.int64) * 500)
    limits: Ints = np.minimum(dollars * 100, CREDIT_LIMIT_MAX_CENTS)
    return limits


def _names(
    shard: CustomerShard,
    columns: np.random.Generator,
    firsts: list[str],
    lasts: list[str],
    is_business: NDArray[np.bool_],
    u_form: Floats,
    u_domain: Floats,
) -> tuple[list[str], list[str | None], list[str]]:
    """Customers' names, company names (None for a person) and email addresses.

    `lasts` holds three last names a customer: its own, then a partner's and a
    third's, for a firm named after them.
    """
    n = shard.customers
    form = (u_form * 3).astype(np.int64)
    domain = (u_domain * len(EMAIL_DOMAINS)).astype(np.int64)
    suffixes = people().company_suffixes
    company_pick = (columns.random(n) * len(suffixes)).astype(np.int64).tolist()
    names: list[str] = []
    companies: list[str | None] = []
    emails: list[str] = []
    for i, (first, last, other, third, business, kind, domain_at) in enumerate(
        zip(firsts, lasts[:n], lasts[n : 2 * n], lasts[2 * n :], is_business.tolist(),
            form.tolist(), domain.tolist(), strict=True)
    ):  # fmt: skip
        names.append(f"{first} {last}")
        if not business:
            companies.append(None)
        elif kind == 0:
            companies.append(f"{last} {suffixes[company_pick[i]]}")
        elif kind == 1:
            companies.append(f"{last}-{other}")
        else:
            companies.append(f"{last}, {other} and {third}")
        emails.append(f"{_slug(first)}.{_slug(last)}.{shard.customer_first + i}@"
                      f"{EMAIL_DOMAINS[domain_at]}")  # fmt: skip
    return names, companies, emails


def _phones(
    columns: np.random.Generator, states: Ints, u_place: Floats, u_exchange: Floats, u_line: Floats
) -> tuple[list[Place], list[str]]:
    """Each customer's primary address's place (in its state), and a phone
    number with an area code serving it.

    A valid NANP number: an exchange 200-999 that is neither N11 nor the
    fictional 555.
    """
    places = geography()
    place = (u_place * _state_places()[states]).astype(np.int64)
    exchange = 200 + (u_exchange * 800).astype(np.int64)
    exchange += (exchange % 100 == 11) | (exchange == 555)
    line = (u_line * 10_000).astype(np.int64)
    state_codes = [STATE_CODES[s] for s in states.tolist()]
    primary: list[Place] = []
    phones: list[str] = []
    for state, at, exchange_at, line_at, pick in zip(
        state_codes, place.tolist(), exchange.tolist(), line.tolist(),
        (columns.random(len(states))).tolist(), strict=True,
    ):  # fmt: skip
        here = places[state][at]
        primary.append(here)
        area = here.area_codes[int(pick * len(here.area_codes))]
        phones.append(f"({area}) {exchange_at}-{line_at:04d}")
    return primary, phones


def _addresses(
    shard: CustomerShard,
    columns: np.random.Generator,
    states: Ints,
    address_counts: Ints,
    primary: list[Place],
    created_at: Ints,
    end_of_as_of: int,
    firsts: list[str],
    lasts: list[str],
) -> tuple[list[CustomerAddress], list[int]]:
    """Customers' addresses, and the ID of each one's primary billing address.

    The first of each customer is its primary billing address, at its
    `primary` place; the others come later, most in the same state.
    """
    n = shard.customers
    places = geography()
    na = int(address_counts.sum())
    owner = np.repeat(np.arange(n, dtype=np.int64), address_counts)
    start = np.cumsum(address_counts) - address_counts
    number = np.arange(na, dtype=np.int64) - start[owner]  # 0 for the primary
    v = columns.random((9, na))
    moved = (number > 0) & (v[0] >= 0.7)
    other_state = (v[1] * len(STATE_CODES)).astype(np.int64)
    address_state = np.where(moved, other_state, states[owner])
    spot = (v[2] * _state_places()[address_state]).astype(np.int64)
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
    street_suffixes = people().street_suffixes
    suffix = (columns.random(na) * len(street_suffixes)).astype(np.int64)
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
    addresses = list(
        map(
            CustomerAddress,
            range(shard.address_first, shard.address_first + na),
            (shard.customer_first + owner).tolist(),
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
    return addresses, (shard.address_first + start).tolist()


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
