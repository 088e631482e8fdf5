"""Realism checked against the sources themselves, not against shardgen's own tables."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path

import phonenumbers
import zipcodes

import shardgen
from shardgen.make.vocabulary import GEOGRAPHY_FILE, STATE_POPULATION, STATE_TAX_BP, people
from shardgen.pipeline import Summary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from build_geography import build, render


def test_shipped_geography_is_the_pinned_dataset() -> None:
    """The extracted ZIP file equals a fresh extraction from `zipcodes`."""
    assert GEOGRAPHY_FILE.read_text(encoding="utf-8") == render(build())
    source = json.loads(GEOGRAPHY_FILE.read_text())["source"]
    assert source["zipcodes"] == zipcodes.__version__


def test_addresses_are_real_street_zips(large_store: tuple[Path, Summary]) -> None:
    path, _ = large_store
    with shardgen.open(path) as data:
        for address in data.scan("customer_addresses"):
            (row,) = zipcodes.matching(address.zip_code)
            assert row["zip_code_type"] == "STANDARD", address
            assert row["state"] == address.state and row["city"] == address.city, address
            assert row["county"] == address.county, address


def test_phones_are_valid_us_numbers_served_at_the_primary_zip(
    large_store: tuple[Path, Summary],
) -> None:
    path, _ = large_store
    with shardgen.open(path) as data:
        primary = {a.customer_id: a for a in data.scan("customer_addresses") if a.is_primary}
        customers = list(data.scan("customers"))
    good = 0
    for customer in customers:
        number = phonenumbers.parse(customer.phone, "US")
        area = customer.phone[1:4]
        (row,) = zipcodes.matching(primary[customer.id].zip_code)
        if phonenumbers.is_valid_number_for_region(number, "US") and area in row["area_codes"]:
            good += 1
    assert good / len(customers) >= 0.99, good


def test_names_are_people_and_emails_derive_from_them(
    large_store: tuple[Path, Summary],
) -> None:
    vocabulary = people()
    firsts, lasts = set(vocabulary.first_names.values), set(vocabulary.last_names.values)
    with shardgen.open(large_store[0]) as data:
        customers = list(data.scan("customers"))
        products = {p.name for p in data.scan("products")}
    for customer in customers:
        first, last = customer.name.split(" ")
        assert first in firsts and last in lasts, customer
        assert customer.name not in products
        slug = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalnum() or ch == ".")
        assert customer.email.startswith(f"{slug}.{customer.id}@"), customer


def test_customers_follow_state_population(large_store: tuple[Path, Summary]) -> None:
    path, _ = large_store
    with shardgen.open(path) as data:
        states = Counter(a.state for a in data.scan("customer_addresses") if a.is_primary)
    biggest = sorted(STATE_POPULATION, key=STATE_POPULATION.__getitem__, reverse=True)[:4]
    assert {s for s, _ in states.most_common(4)} == set(biggest)
    # Each customer shard is within one customer of its exact share per
    # state, so the plan (two shards here) is within two.
    shards = len(shardgen.make_plan("large").customer_shards)
    total = sum(STATE_POPULATION.values())
    for state, population in STATE_POPULATION.items():
        assert abs(states[state] - 1000 * population / total) < shards, state


def test_tax_rate_is_the_billing_states(large_store: tuple[Path, Summary]) -> None:
    path, _ = large_store
    with shardgen.open(path) as data:
        state_of = {a.id: a.state for a in data.scan("customer_addresses")}
        rates: dict[str, set[int]] = {}
        for invoice in data.scan("invoices"):
            rates.setdefault(state_of[invoice.billing_address_id], set()).add(invoice.tax_rate)
    assert all(rate == {STATE_TAX_BP[state]} for state, rate in rates.items())
    assert rates.get("OR", {0}) == {0} and rates.get("CA") == {725}


def test_invoice_dates_weekends_and_recency(large_store: tuple[Path, Summary]) -> None:
    path, _ = large_store
    with shardgen.open(path) as data:
        as_of = dt.date.fromisoformat(data.meta().plan["as_of"])
        epoch = dt.date(1970, 1, 1)
        days = [epoch + dt.timedelta(days=i.invoice_date) for i in data.scan("invoices")]
    weekend = sum(d.weekday() >= 5 for d in days) / len(days)
    recent = sum((as_of - d).days <= 30 for d in days) / len(days)
    assert weekend < 0.15
    assert abs(recent - 0.40) <= 0.02
    assert all(0 <= (as_of - d).days <= 364 for d in days)


def test_credit_limits_spread_by_type(large_store: tuple[Path, Summary]) -> None:
    path, _ = large_store
    with shardgen.open(path) as data:
        limits = [c.credit_limit for c in data.scan("customers")]
    assert min(limits) < 10_000 * 100 and max(limits) > 50_000 * 100
