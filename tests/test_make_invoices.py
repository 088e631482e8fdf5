"""Invoices: dates dealt by status, money that adds up, balances within limits."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np

from shardgen.make.catalog import catalog_for
from shardgen.make.customers import customer_shard
from shardgen.make.invoices import (
    INACTIVE,
    age_weights,
    invoice_dates,
)
from shardgen.make.vocabulary import (
    CUSTOMER_TYPES,
    INVOICE_AGE_BANDS,
    Q4_LIFT,
    STATUS_SHARES,
    WEEKEND_WEIGHT,
)
from shardgen.plan import EPOCH, deal, generator, make_plan, quota

from .conftest import AS_OF


def test_money_adds_up_and_dates_follow_parents() -> None:
    plan = make_plan("medium", seed=4, as_of=AS_OF)
    rows = customer_shard(plan, plan.customer_shards[0], catalog_for(plan))
    created = {c.id: c.created_at // 86_400 for c in rows.customers}
    totals = Counter[int]()
    for line in rows.line_items:
        totals[line.invoice_id] += line.line_total
    for invoice in rows.invoices:
        assert invoice.subtotal == totals[invoice.id]
        assert invoice.total == invoice.subtotal + invoice.tax_amount
        assert created[invoice.customer_id] <= invoice.invoice_date <= plan.as_of_day
        assert (invoice.status == "paid") == (invoice.paid_date is not None)


def test_invoice_dates_go_oldest_first_and_inactive_customers_buy_only_old() -> None:
    plan = make_plan("medium", seed=5, as_of=AS_OF)
    shard = plan.customer_shards[0]
    columns = generator(plan.seed, "lines", shard.index)
    statuses = deal(quota(shard.customers, STATUS_SHARES), columns)
    types = deal(quota(shard.customers, [t.share for t in CUSTOMER_TYPES]), columns)
    dates = invoice_dates(columns, plan.as_of_day, shard.invoices, statuses, types)
    assert len(dates.owner) == len(dates.ages) == shard.invoices
    assert dates.counts.tolist() == np.bincount(dates.owner, minlength=shard.customers).tolist()
    assert (dates.counts > 0).all()
    # By customer, and each customer's oldest first.
    same = dates.owner[1:] == dates.owner[:-1]
    assert (dates.owner[1:] >= dates.owner[:-1]).all()
    assert (dates.ages[1:][same] <= dates.ages[:-1][same]).all()
    # Exact quotas per age band; the inactive only in the oldest band.
    bands = [
        ((dates.ages >= low) & (dates.ages <= high)).sum() for low, high, _ in INVOICE_AGE_BANDS
    ]
    assert bands == quota(shard.invoices, [share for _, _, share in INVOICE_AGE_BANDS])
    inactive = statuses[dates.owner] == INACTIVE
    assert (dates.ages[inactive] >= INVOICE_AGE_BANDS[-1][0]).all()


def test_age_weights_favour_weekdays_and_the_fourth_quarter() -> None:
    as_of_day = make_plan("small", seed=1, as_of=AS_OF).as_of_day
    for ages, cum in age_weights(as_of_day):
        weights = np.diff(cum, prepend=0.0)
        for age, weight in zip(ages.tolist(), weights.tolist(), strict=True):
            day = EPOCH + dt.timedelta(days=as_of_day - age)
            lift = Q4_LIFT if day.month >= 10 else 1.0
            expected = (WEEKEND_WEIGHT if day.weekday() >= 5 else 1.0) * lift
            assert abs(weight - expected) < 1e-9


def test_settling_keeps_every_unpaid_balance_within_the_credit_limit() -> None:
    plan = make_plan("medium", seed=6, as_of=AS_OF)
    rows = customer_shard(plan, plan.customer_shards[0], catalog_for(plan))
    unpaid = Counter[int]()
    for invoice in rows.invoices:
        if invoice.paid_date is None:
            unpaid[invoice.customer_id] += invoice.total
            overdue = invoice.due_date < plan.as_of_day
            assert invoice.status == ("overdue" if overdue else "pending")
        else:
            assert invoice.invoice_date <= invoice.paid_date <= plan.as_of_day
    for customer in rows.customers:
        assert unpaid[customer.id] <= customer.credit_limit


def test_fewer_invoices_than_customers_go_one_each_recent_ones_first() -> None:
    columns = np.random.default_rng(1)
    statuses = np.zeros(20, np.int64)  # all active
    dates = invoice_dates(columns, 20_000, 10, statuses, np.ones(20, np.int64))
    assert sorted(dates.counts.tolist()) == [0] * 10 + [1] * 10
    # The first customers take the recent dates; when those run out, old ones.
    old = dates.ages >= INVOICE_AGE_BANDS[-1][0]
    assert dates.owner[~old].tolist() == list(range(7))
    assert dates.owner[old].tolist() == [7, 8, 9]
