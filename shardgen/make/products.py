"""Products and inventory: pure generators, (plan, shard) → records.

A product's core (category, name, cost, price, creation day, popularity) is
drawn from its own seed stream, so any process can rebuild the whole catalog
(catalog.py) from the plan without talking to the process that writes the
products. The product shard adds the rest (description, weight, inventory)
from another stream.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..plan import Plan, ProductShard, deal, generator, quota, split
from ..schema import Inventory, Product, ProductCategory
from .catalog_vocabulary import BENEFITS, CATEGORIES, WAREHOUSES

DAY = 86_400
#: Share of products (percent) launched inside the 12-month invoice window.
NEW_PRODUCT_SHARE = 15
#: Older products were launched up to this many days before the window.
CATALOG_AGE_DAYS = 6 * 365
#: Percent of products still active.
ACTIVE_PRODUCT_SHARE = 95
WAREHOUSE_WEIGHTS = (30, 25, 20, 15, 10, 10)
#: Records are stamped between 08:00 and 18:00.
WORKDAY_START = 8 * 3600
WORKDAY = 10 * 3600 + 1
#: Spread of popularity (sigma of a log-normal): a few best sellers.
POPULARITY_SIGMA = 1.3
#: A model code's letter.
MODELS = "ACEGKMRSTVXZ"
#: WAREHOUSE_TABLE[int(u * len)] is the warehouse (index) a uniform u draws.
WAREHOUSE_TABLE = np.repeat(np.arange(len(WAREHOUSE_WEIGHTS)), WAREHOUSE_WEIGHTS)

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


class ProductCore(NamedTuple):
    id: int
    category: int  # index into CATEGORIES
    noun: int  # index into the category's nouns
    name: str
    cost: int
    price: int
    created_day: int
    popularity: float


def foundation_created_at(plan: Plan) -> int:
    """When the foundation rows were set up: before any customer or product."""
    return (plan.as_of_day - 10 * 365) * DAY + 9 * 3600


def product_categories(plan: Plan) -> list[ProductCategory]:
    created = foundation_created_at(plan)
    return [
        ProductCategory(i + 1, c.name, c.description, c.sku_prefix, i + 1, True, created)
        for i, c in enumerate(CATEGORIES)
    ]


def price_for(cost: int, markup_min: int, markup_max: int, u: float) -> int:
    """A price whose markup over cost lies in [min, max] percent, exactly.

    `u` in [0, 1) picks the point in the range. Prefers a price ending in .99
    when one lies in the range.
    """
    low = cost + -(-cost * markup_min // 100)
    high = cost + cost * markup_max // 100
    if low > high:
        raise ValueError(f"no whole-cent price for cost {cost} in {markup_min}-{markup_max} %")
    price = low + int(u * (high - low + 1))
    nice = price // 100 * 100 + 99
    if low <= nice <= high:
        return nice
    if low <= nice - 100 <= high:
        return nice - 100
    return price


class _Nouns(NamedTuple):
    """Every category's nouns, brands and adjectives as flat arrays: entry
    offset[category] + index is a category's index-th."""

    noun_offset: Ints
    noun_count: Ints
    brand_offset: Ints
    brand_count: Ints
    adjective_offset: Ints
    adjective_count: Ints
    nouns: tuple[str, ...]
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    #: "Portable Portable SSD" reads as a typo: (adjective, noun) pairs to skip.
    repeats: frozenset[tuple[str, str]]
    cost_min: Ints
    cost_max: Ints
    weight_min: Floats
    weight_max: Floats
    feature_count: Ints
    markup_min: Ints  # by category
    markup_max: Ints


@functools.cache
def _nouns() -> _Nouns:
    def flat(lists: list[Sequence[Any]]) -> tuple[Ints, Ints, tuple[Any, ...]]:
        count = np.array([len(items) for items in lists], np.int64)
        return np.cumsum(count) - count, count, tuple(x for items in lists for x in items)

    noun_offset, noun_count, nouns = flat([c.nouns for c in CATEGORIES])
    brand_offset, brand_count, brands = flat([c.brands for c in CATEGORIES])
    adjective_offset, adjective_count, adjectives = flat([c.adjectives for c in CATEGORIES])
    return _Nouns(
        noun_offset, noun_count, brand_offset, brand_count, adjective_offset, adjective_count,
        tuple(noun.noun for noun in nouns), brands, adjectives,
        frozenset(
            (adjective, noun.noun)
            for c in CATEGORIES for noun in c.nouns for adjective in c.adjectives
            if adjective in noun.noun.split()
        ),
        np.array([noun.cost_min for noun in nouns], np.int64),
        np.array([noun.cost_max for noun in nouns], np.int64),
        np.array([noun.weight_min for noun in nouns], np.float64),
        np.array([noun.weight_max for noun in nouns], np.float64),
        np.array([len(noun.features) for noun in nouns], np.int64),
        np.array([c.markup_min for c in CATEGORIES], np.int64),
        np.array([c.markup_max for c in CATEGORIES], np.int64),
    )  # fmt: skip


def prices_for(cost: Ints, markup_min: Ints, markup_max: Ints, u: Floats) -> Ints:
    """`price_for` of many products at once."""
    low = cost + -(-cost * markup_min // 100)
    high = cost + cost * markup_max // 100
    if (low > high).any():
        raise ValueError("no whole-cent price for a cost in its markup range")
    price = low + (u * (high - low + 1)).astype(np.int64)
    nice = price // 100 * 100 + 99
    fits = (low <= nice) & (nice <= high)
    below = (low <= nice - 100) & (nice - 100 <= high)
    chosen: Ints = np.where(fits, nice, np.where(below, nice - 100, price))
    return chosen


def product_cores(plan: Plan, shard: ProductShard) -> list[ProductCore]:
    """The cores of a shard's products, a column at a time."""
    columns = generator(plan.seed, "product-core", shard.index)
    n = shard.products
    vocabulary = _nouns()
    category = deal(split(n, [c.share for c in CATEGORIES], columns, shard.index), columns)
    u = columns.random((7, n))
    noun = vocabulary.noun_offset[category] + (u[0] * vocabulary.noun_count[category]).astype(
        np.int64
    )
    brand = vocabulary.brand_offset[category] + (u[1] * vocabulary.brand_count[category]).astype(
        np.int64
    )
    adjective = vocabulary.adjective_offset[category] + (
        u[2] * vocabulary.adjective_count[category]
    ).astype(np.int64)
    model = (u[3] * len(MODELS)).astype(np.int64) * 1000 + (u[4] * 990).astype(np.int64) + 10
    nouns, brands, adjectives = vocabulary.nouns, vocabulary.brands, vocabulary.adjectives
    repeats = vocabulary.repeats
    names = []
    for b, a, w, m in zip(brand.tolist(), adjective.tolist(), noun.tolist(), model.tolist(),
                          strict=True):  # fmt: skip
        brand_name, adjective_name, noun_name = brands[b], adjectives[a], nouns[w]
        code = f"{MODELS[m // 1000]}{m % 1000}"
        if (adjective_name, noun_name) in repeats:
            names.append(f"{brand_name} {noun_name} {code}")
        else:
            names.append(f"{brand_name} {adjective_name} {noun_name} {code}")
    low, high = vocabulary.cost_min[noun], vocabulary.cost_max[noun]
    cost = low + (u[5] * (high - low + 1)).astype(np.int64)
    price = prices_for(cost, vocabulary.markup_min[category], vocabulary.markup_max[category], u[6])
    # IDs follow launch order, as a database's serial keys would: the oldest
    # products first, spread evenly over CATALOG_AGE_DAYS before the invoice
    # window, then the new ones over the window. Product 1 predates every
    # invoice, and the products on sale on a day are a prefix of the IDs.
    old, new = quota(plan.products, [100 - NEW_PRODUCT_SHARE, NEW_PRODUCT_SHARE])
    window_start = plan.as_of_day - 364
    oldest = window_start - 1 - CATALOG_AGE_DAYS
    k = shard.product_first - 1 + np.arange(n, dtype=np.int64)
    jitter = columns.random(n)
    created = np.where(
        k < old,
        oldest + ((k + jitter) * (CATALOG_AGE_DAYS + 1) / max(old, 1)).astype(np.int64),
        window_start + ((k - old + jitter) * 365 / max(new, 1)).astype(np.int64),
    )
    popularity = np.exp(columns.normal(0.0, POPULARITY_SIGMA, n))
    return list(
        map(
            ProductCore,
            range(shard.product_first, shard.product_first + n),
            category.tolist(),
            (noun - vocabulary.noun_offset[category]).tolist(),
            names,
            cost.tolist(),
            price.tolist(),
            created.tolist(),
            popularity.tolist(),
        )
    )


def product_shard(
    plan: Plan, shard: ProductShard, cores: list[ProductCore] | None = None
) -> tuple[list[Product], list[Inventory]]:
    """The products of one shard and their inventory rows (from the shard's
    `product_cores`, computed here unless given), a column at a time."""
    if cores is None:
        cores = product_cores(plan, shard)
    columns = generator(plan.seed, "products", shard.index)
    n = len(cores)
    inactive = deal(quota(n, [ACTIVE_PRODUCT_SHARE, 100 - ACTIVE_PRODUCT_SHARE]), columns) == 1
    # Rows 0-6 make the products, rows 7-12 their inventory.
    u = columns.random((13, n))
    ids = [c.id for c in cores]
    created_day = np.fromiter((c.created_day for c in cores), np.int64, n)
    created_at = created_day * DAY + WORKDAY_START + (u[4] * WORKDAY).astype(np.int64)
    products = _products(plan.as_of_day, cores, ids, created_day, created_at, inactive, u)
    return products, _inventory(plan.as_of_day, cores, ids, created_day, created_at, u)


def _products(
    as_of: int,
    cores: list[ProductCore],
    ids: list[int],
    created_day: Ints,
    created_at: Ints,
    inactive: NDArray[np.bool_],
    u: Floats,
) -> list[Product]:
    """The product rows of a shard's cores, from rows 0-6 of its draws."""
    n = len(cores)
    vocabulary = _nouns()
    category = np.fromiter((c.category for c in cores), np.int64, n)
    noun = vocabulary.noun_offset[category] + np.fromiter((c.noun for c in cores), np.int64, n)

    # Two different features of the noun, and a benefit.
    features = vocabulary.feature_count[noun]
    first = (u[0] * features).astype(np.int64)
    second = (u[1] * (features - 1)).astype(np.int64)
    second += second >= first
    benefit = (u[2] * len(BENEFITS)).astype(np.int64)
    weight_min, weight_max = vocabulary.weight_min[noun], vocabulary.weight_max[noun]
    weight = np.round(weight_min + (weight_max - weight_min) * u[3], 2)
    updated_day = created_day + (u[5] * (as_of - created_day + 1)).astype(np.int64)
    updated_at = np.maximum(
        created_at, updated_day * DAY + WORKDAY_START + (u[6] * WORKDAY).astype(np.int64)
    )
    descriptions = []
    for c, w, f1, f2, b in zip(
        category.tolist(), (noun - vocabulary.noun_offset[category]).tolist(), first.tolist(),
        second.tolist(), benefit.tolist(), strict=True,
    ):  # fmt: skip
        spec = CATEGORIES[c].nouns[w]
        descriptions.append(
            f"{spec.noun} with {spec.features[f1]} and {spec.features[f2]}. {BENEFITS[b]}"
        )
    prefixes = [CATEGORIES[c].sku_prefix for c in category.tolist()]
    return list(
        map(
            Product,
            ids,
            (category + 1).tolist(),
            [c.name for c in cores],
            [f"{prefix}-{i:06d}" for prefix, i in zip(prefixes, ids, strict=True)],
            descriptions,
            [c.price for c in cores],
            [c.cost for c in cores],
            weight.tolist(),
            (~inactive).tolist(),
            created_at.tolist(),
            updated_at.tolist(),
        )
    )


def _inventory(
    as_of: int,
    cores: list[ProductCore],
    ids: list[int],
    created_day: Ints,
    created_at: Ints,
    u: Floats,
) -> list[Inventory]:
    """The inventory rows of a shard's cores, from rows 7-12 of its draws.

    Stock follows popularity: best sellers are held in depth and restocked
    recently.
    """
    popularity = np.fromiter((c.popularity for c in cores), np.float64, len(cores))
    reorder_point = np.maximum(5, np.rint(popularity * 12).astype(np.int64))
    reorder_quantity = np.maximum(
        10, np.rint(reorder_point * (1.5 + 1.5 * u[7]) / 10).astype(np.int64) * 10
    )
    low = reorder_point // 2
    on_hand = low + (u[8] * (reorder_point + reorder_quantity - low + 1)).astype(np.int64)
    reserved = (u[9] * (on_hand // 4 + 1)).astype(np.int64)
    recency = np.maximum(7, np.rint(120 / (1 + popularity)).astype(np.int64))
    recent = np.maximum(created_day, as_of - recency)
    received = recent + (u[10] * (as_of - recent + 1)).astype(np.int64)
    warehouse = WAREHOUSE_TABLE[(u[11] * len(WAREHOUSE_TABLE)).astype(np.int64)]
    received_at = np.maximum(
        received * DAY + WORKDAY_START + (u[12] * WORKDAY).astype(np.int64), created_at
    )
    return list(
        map(
            Inventory,
            ids,
            ids,
            [WAREHOUSES[w] for w in warehouse.tolist()],
            on_hand.tolist(),
            reserved.tolist(),
            reorder_point.tolist(),
            reorder_quantity.tolist(),
            received.tolist(),
            reorder_quantity.tolist(),
            received_at.tolist(),
        )
    )
