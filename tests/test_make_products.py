"""Products and inventory: prices, cores, and rows that match the catalog."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from shardgen.make.catalog import build_catalog
from shardgen.make.catalog_vocabulary import CATEGORIES
from shardgen.make.products import (
    CATALOG_AGE_DAYS,
    NEW_PRODUCT_SHARE,
    price_for,
    prices_for,
    product_cores,
    product_shard,
)
from shardgen.plan import make_plan

PLAN = make_plan("large", seed=3, as_of="2026-06-30")


@given(st.integers(100, 10**7), st.sampled_from(CATEGORIES), st.floats(0, 1, exclude_max=True))
def test_price_markup_is_always_in_the_category_range(
    cost: int, category: object, u: float
) -> None:
    low, high = category.markup_min, category.markup_max  # type: ignore[attr-defined]
    price = price_for(cost, low, high, u)
    assert price > cost
    assert cost * (100 + low) <= price * 100 <= cost * (100 + high)


@given(
    st.lists(
        st.tuples(st.integers(100, 10**7), st.sampled_from(CATEGORIES),
                  st.floats(0, 1, exclude_max=True)),
        min_size=1, max_size=50,
    )
)  # fmt: skip
def test_prices_of_many_products_equal_one_at_a_time(cases: list[tuple[int, Any, float]]) -> None:
    cost = np.array([c for c, _, _ in cases], np.int64)
    low = np.array([k.markup_min for _, k, _ in cases], np.int64)
    high = np.array([k.markup_max for _, k, _ in cases], np.int64)
    u = np.array([x for _, _, x in cases], np.float64)
    expected = [price_for(c, k.markup_min, k.markup_max, x) for c, k, x in cases]
    assert prices_for(cost, low, high, u).tolist() == expected


def test_vocabulary_costs_leave_room_for_every_markup() -> None:
    # From 100 cents up, every category's markup range holds a whole-cent price.
    assert min(noun.cost_min for c in CATEGORIES for noun in c.nouns) >= 100


def test_cores_are_pure_and_match_the_written_products() -> None:
    shard = PLAN.product_shards[0]
    assert product_cores(PLAN, shard) == product_cores(PLAN, shard)
    products, inventory = product_shard(PLAN, shard)
    catalog = build_catalog(PLAN)
    for product, item in zip(products, inventory, strict=True):
        price, name, created_day = catalog.product(product.id)
        assert (price, name) == (product.price, product.name)
        assert item.product_id == product.id
        assert created_day == product.created_at // 86_400


def test_new_products_share_and_product_one_predates_the_window() -> None:
    cores = [c for s in PLAN.product_shards for c in product_cores(PLAN, s)]
    window_start = PLAN.as_of_day - 364
    new = sum(c.created_day >= window_start for c in cores)
    assert new == round(len(cores) * NEW_PRODUCT_SHARE / 100)
    assert cores[0].id == 1 and cores[0].created_day < window_start
    # IDs follow launch order, over the six years before the window and the window.
    days = [c.created_day for c in cores]
    assert days == sorted(days)
    assert days[0] == window_start - 1 - CATALOG_AGE_DAYS and days[-1] <= PLAN.as_of_day
    tiny = make_plan(products=1, customers=1, invoices=1, seed=5, as_of="2026-06-30")
    assert product_cores(tiny, tiny.product_shards[0])[0].created_day < window_start
