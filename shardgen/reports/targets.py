"""Realism targets: the shares, skews and content DESIGN.md promises, and whether
the measures of a store keep them.

`stats` (reports/statistics.py) counts; the functions here judge the counts. A
share holds within TOLERANCE_POINTS of its target at volume, or within one row
on small data; the skew and content targets are required from the "large"
volume up, and say so below it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import msgspec

from ..make.vocabulary import INVOICE_AGE_BANDS, STATE_POPULATION, STATUS_SHARES, STATUSES
from ..plan import ADDRESS_WEIGHTS, LINE_WEIGHTS

#: Percentage points a share may stray from its target at volume.
TOLERANCE_POINTS = 2.0
#: Below these counts a share holds when it is within one row of its target.
SMALL_CUSTOMERS = 100
SMALL_INVOICES = 100
SMALL_INVOICES_FOR_AGE = 500
#: Volumes from which the skew and content targets are required ("large").
LARGE_CUSTOMERS = 1_000
LARGE_INVOICES = 10_000
WEEKEND_MAX = 15.0
BEST_SELLER_FRACTION = 0.2
BEST_SELLER_MIN = 50.0
AREA_CODE_MIN = 99.0
LEADING_STATES = 4
LARGE_NOTE = "(checked at large and up)"
#: "low-high" days before as_of, one per INVOICE_AGE_BANDS band.
AGE_BAND_LABELS = tuple(f"{low}-{high}" for low, high, _share in INVOICE_AGE_BANDS)
#: Suspended customers have overdue invoices; inactive ones stopped buying.
SUSPENDED_OVERDUE_MIN = 99.0
QUIET_DAYS = 90


class Target(msgspec.Struct):
    """One realism target: what was measured, what was wanted, and whether it holds."""

    name: str
    actual: float
    target: str
    ok: bool


class Measures(NamedTuple):
    """What the targets are judged on: counts from one pass over each table."""

    customers: int
    invoices: int
    customer_status: Counter[str]
    addresses_per_customer: Counter[int]
    lines_per_invoice: Counter[int]
    #: Invoices per INVOICE_AGE_BANDS band.
    age_bands: Sequence[int]
    weekend_invoices: int
    suspended_with_overdue: int
    inactive_who_bought: int
    #: Percentage of line items that the best-selling BEST_SELLER_FRACTION of products carry.
    best_sellers_share: float
    #: (state, customers) by primary address, most customers first.
    states: Sequence[tuple[str, int]]
    #: Unpaid invoices by aging bucket, every bucket present.
    aging: Mapping[str, int]
    #: Customers whose phone's area code serves their primary ZIP.
    phone_served: int


def percentage(part: float, whole: float) -> float:
    """part / whole in percent, 0 when whole is 0."""
    return 100.0 * part / whole if whole else 0.0


def targets(m: Measures) -> list[Target]:
    """Every target, the shares first."""
    return [*share_targets(m), *content_targets(m)]


def _share_target(
    name: str, count: int, total: int, share: float, small_below: int, unit: str
) -> Target:
    """A share within TOLERANCE_POINTS of `share` percent, or within one row when small."""
    actual = percentage(count, total)
    if total >= small_below:
        return Target(
            name,
            round(actual, 2),
            f"{share:.3g} ± {TOLERANCE_POINTS:g}",
            abs(actual - share) <= TOLERANCE_POINTS,
        )
    return Target(
        name,
        round(actual, 2),
        f"{share:.3g} ± 1 {unit} (below {small_below:,} {unit}s)",
        abs(count - total * share / 100) <= 1,
    )


def share_targets(m: Measures) -> list[Target]:
    """The share targets: customer statuses, addresses per customer, line items per
    invoice, invoice ages."""
    found: list[Target] = []
    for status, share in zip(STATUSES, STATUS_SHARES, strict=True):
        found.append(
            _share_target(
                f"customers {status} %", m.customer_status[status], m.customers, share,
                SMALL_CUSTOMERS, "customer",
            )
        )  # fmt: skip
    for k, weight in enumerate(ADDRESS_WEIGHTS, start=1):
        found.append(
            _share_target(
                f"customers with {k} address{'es' if k > 1 else ''} %",
                m.addresses_per_customer[k], m.customers,
                100 * weight / sum(ADDRESS_WEIGHTS), SMALL_CUSTOMERS, "customer",
            )
        )  # fmt: skip
    for k, weight in enumerate(LINE_WEIGHTS, start=1):
        found.append(
            _share_target(
                f"invoices with {k} line item{'s' if k > 1 else ''} %",
                m.lines_per_invoice[k], m.invoices,
                100 * weight / sum(LINE_WEIGHTS), SMALL_INVOICES, "invoice",
            )
        )  # fmt: skip
    for label, count, (_low, _high, share) in zip(
        AGE_BAND_LABELS, m.age_bands, INVOICE_AGE_BANDS, strict=True
    ):
        found.append(
            _share_target(
                f"invoices dated {label} days before as_of %", count, m.invoices, share,
                SMALL_INVOICES_FOR_AGE, "invoice",
            )
        )  # fmt: skip
    return found


def content_targets(m: Measures) -> list[Target]:
    """The skew and content targets: few weekend invoices, customer statuses borne
    out by invoices, best sellers, populous states, every aging bucket, area codes."""
    found: list[Target] = []
    weekend_share = percentage(m.weekend_invoices, m.invoices)
    found.append(
        Target("weekend invoices %", round(weekend_share, 2), f"< {WEEKEND_MAX:g}",
               weekend_share < WEEKEND_MAX)
    )  # fmt: skip
    suspended = m.customer_status["suspended"]
    overdue_share = percentage(m.suspended_with_overdue, suspended) if suspended else 100.0
    found.append(
        Target("suspended customers with an overdue invoice %", round(overdue_share, 2),
               f">= {SUSPENDED_OVERDUE_MIN:g}", overdue_share >= SUSPENDED_OVERDUE_MIN)
    )  # fmt: skip
    found.append(
        Target(f"inactive customers who bought in the last {QUIET_DAYS} days",
               m.inactive_who_bought, "= 0", not m.inactive_who_bought)
    )  # fmt: skip
    large_invoices = m.invoices >= LARGE_INVOICES
    large_customers = m.customers >= LARGE_CUSTOMERS
    best_name = f"line items of the best-selling {BEST_SELLER_FRACTION * 100:g} % of products %"
    found.append(
        Target(
            best_name,
            round(m.best_sellers_share, 2),
            f">= {BEST_SELLER_MIN:g}" + ("" if large_invoices else f" {LARGE_NOTE}"),
            m.best_sellers_share >= BEST_SELLER_MIN or not large_invoices,
        )
    )
    populous = sorted(STATE_POPULATION, key=lambda s: -STATE_POPULATION[s])[:LEADING_STATES]
    leaders = {state for state, _count in m.states[:LEADING_STATES]}
    leading = len(leaders & set(populous))
    found.append(
        Target(
            f"{', '.join(populous)} among the top {LEADING_STATES} states by customers",
            float(leading),
            f"= {LEADING_STATES}" + ("" if large_customers else f" {LARGE_NOTE}"),
            leading == LEADING_STATES or not large_customers,
        )
    )
    filled = sum(1 for count in m.aging.values() if count)
    found.append(
        Target(
            "aging buckets with unpaid invoices",
            float(filled),
            f"= {len(m.aging)}" + ("" if large_invoices else f" {LARGE_NOTE}"),
            filled == len(m.aging) or not large_invoices,
        )
    )
    served = percentage(m.phone_served, m.customers)
    found.append(
        Target("phone area code serves the primary ZIP %", round(served, 2),
               f">= {AREA_CODE_MIN:g}", served >= AREA_CODE_MIN)
    )  # fmt: skip
    return found
