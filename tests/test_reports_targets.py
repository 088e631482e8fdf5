"""Realism targets judged on hand-made measures: tolerances, small data, large-only targets."""

from __future__ import annotations

from collections import Counter

import msgspec

from shardgen.reports.statistics import AGING_BUCKETS
from shardgen.reports.targets import LARGE_NOTE, Measures, Target, targets


def measures(customers: int, invoices: int) -> Measures:
    """Measures that meet every target exactly, for this many customers and invoices."""
    return Measures(
        customers=customers,
        invoices=invoices,
        customer_status=Counter(
            active=customers * 75 // 100,
            inactive=customers * 15 // 100,
            suspended=customers * 10 // 100,
        ),
        addresses_per_customer=Counter({1: customers // 2, 2: customers // 3, 3: customers // 6}),
        lines_per_invoice=Counter(
            {1: invoices // 3, 2: invoices // 3, 3: invoices // 6, 4: invoices // 6}
        ),
        age_bands=[invoices * 40 // 100, invoices * 30 // 100, invoices * 30 // 100],
        weekend_invoices=invoices // 10,
        suspended_with_overdue=customers * 10 // 100,
        inactive_who_bought=0,
        best_sellers_share=60.0,
        states=[("CA", 40), ("TX", 30), ("FL", 20), ("NY", 10), ("VT", 1)],
        aging=dict.fromkeys(AGING_BUCKETS, 3),
        phone_served=customers,
    )


def by_name(m: Measures) -> dict[str, Target]:
    return {t.name: t for t in targets(m)}


def test_exact_measures_meet_every_target() -> None:
    for customers, invoices in ((12_000, 60_000), (10, 25)):
        found = targets(measures(customers, invoices))
        assert len(found) == 20
        assert all(t.ok for t in found), [t for t in found if not t.ok]


def test_a_share_holds_within_the_tolerance_or_one_row_when_small() -> None:
    large = measures(12_000, 60_000)
    large.customer_status["active"] -= 12_000 * 3 // 100  # 3 points off
    assert not by_name(large)["customers active %"].ok
    small = measures(20, 25)
    small.customer_status["active"] -= 1  # one customer off: still holds
    active = by_name(small)["customers active %"]
    assert active.ok and active.target == "75 ± 1 customer (below 100 customers)"
    small.customer_status["active"] -= 1
    assert not by_name(small)["customers active %"].ok


def test_skew_and_content_targets_are_required_from_large_up() -> None:
    def broken(customers: int, invoices: int) -> Measures:
        m = measures(customers, invoices)
        return m._replace(
            aging={**m.aging, "90+": 0},
            best_sellers_share=30.0,
            states=[("VT", 50), *m.states],
        )

    large = by_name(broken(12_000, 60_000))
    small = by_name(broken(10, 25))
    names = [name for name, t in large.items() if not t.ok]
    assert len(names) == 3, names
    for name in names:
        assert small[name].ok and small[name].target.endswith(LARGE_NOTE)
        assert not large[name].target.endswith(LARGE_NOTE)
    assert large["aging buckets with unpaid invoices"].actual == 4.0


def test_customer_statuses_are_borne_out_by_invoices() -> None:
    m = measures(1_000, 5_000)
    found = by_name(m._replace(suspended_with_overdue=95, inactive_who_bought=2))
    overdue = found["suspended customers with an overdue invoice %"]
    assert (overdue.actual, overdue.ok) == (95.0, False)
    inactive = found["inactive customers who bought in the last 90 days"]
    assert (inactive.actual, inactive.ok) == (2, False)
    assert msgspec.json.encode(inactive).endswith(b'"actual":2,"target":"= 0","ok":false}')
    none_suspended = m._replace(customer_status=Counter(active=1_000))
    assert by_name(none_suspended)["suspended customers with an overdue invoice %"].ok
