from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardgen.errors import UsageError
from shardgen.plan import VOLUMES, derive_seed, make_plan, quota


@given(st.integers(0, 10_000), st.lists(st.integers(0, 1_000), min_size=1, max_size=60))
def test_quota_sums_and_stays_within_one(total: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        return
    parts = quota(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - total * weight / sum(weights)) < 1


def test_quota_is_exact_for_small_counts() -> None:
    assert quota(10, [75, 15, 10]) == [8, 1, 1]
    assert quota(25, [2, 2, 1, 1]) == [9, 8, 4, 4]


def test_derive_seed_is_stable_and_distinct() -> None:
    # Pinned: a change here changes every dataset.
    assert derive_seed(42, "customers", 0) == derive_seed(42, "customers", 0)
    assert derive_seed(42, "customers", 0) != derive_seed(42, "customers", 1)
    assert derive_seed(42, "customers", 0) != derive_seed(43, "customers", 0)
    assert derive_seed(1, "x") == int.from_bytes(
        __import__("hashlib").blake2b(b"1:x", digest_size=8).digest(), "big"
    )


@pytest.mark.parametrize("volume", list(VOLUMES))
def test_presets_allocate_contiguous_id_ranges(volume: str) -> None:
    plan = make_plan(volume, seed=1, as_of="2026-01-31")
    customers, products, invoices = VOLUMES[volume]
    assert (plan.customers, plan.products, plan.invoices) == (customers, products, invoices)
    for field, count in (("customer", "customers"), ("address", "addresses"),
                         ("invoice", "invoices"), ("line", "lines")):  # fmt: skip
        next_id = 1
        for shard in plan.customer_shards:
            assert getattr(shard, f"{field}_first") == next_id
            next_id += getattr(shard, count)
    assert sum(s.invoices for s in plan.customer_shards) == invoices
    assert sum(s.products for s in plan.product_shards) == products
    # 1-3 addresses and 1-4 lines per parent, on average near the weights' means.
    assert 1.5 < plan.addresses / customers < 1.8
    assert 2.0 < plan.line_items / invoices < 2.3


def test_shards_do_not_depend_on_anything_but_the_plan_inputs() -> None:
    assert make_plan("large", seed=3, as_of="2026-01-31") == make_plan(
        "large", seed=3, as_of="2026-01-31"
    )


def test_explicit_counts_override_the_preset() -> None:
    plan = make_plan("small", invoices=40, seed=0, as_of="2026-01-31")
    assert (plan.customers, plan.products, plan.invoices) == (10, 50, 40)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"volume": "huge"}, "unknown volume"),
        ({"customers": 0}, "at least 1"),
        ({"customers": -5}, "at least 1"),
        ({"products": 0}, "at least 1"),
        ({"invoices": -1}, "at least 1"),
        ({"customers": 10**12}, "more than"),
        ({"customers": 1, "invoices": 10**6}, "more than"),
        ({"seed": -1}, "--seed"),
        ({"as_of": "2026-02-30"}, "not a valid date"),
        ({"as_of": "yesterday"}, "not a valid date"),
        ({"as_of": "1890-01-01"}, "out of range"),
    ],
)
def test_bad_plans_are_usage_errors(options: dict[str, object], message: str) -> None:
    volume = options.pop("volume", "small")
    with pytest.raises(UsageError, match=message):
        make_plan(volume, **options)  # type: ignore[arg-type]
