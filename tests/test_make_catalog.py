"""The catalog customer shards sell from: picks, launch dates, the shared file."""

from __future__ import annotations

import random
from bisect import bisect_right
from pathlib import Path

from shardgen.make.catalog import CatalogFile, build_catalog, catalog_chunk
from shardgen.make.products import product_cores
from shardgen.plan import make_plan

PLAN = make_plan("large", seed=3, as_of="2026-06-30")


def test_pick_equals_a_plain_bisect() -> None:
    catalog = build_catalog(PLAN)
    rng = random.Random(1)
    cum = catalog.cum_popularity
    for _ in range(20_000):
        u, sellable = rng.random(), rng.randint(1, catalog.products)
        expected = min(bisect_right(cum, u * cum[sellable - 1], 0, sellable), sellable - 1) + 1
        assert catalog.pick(u, sellable) == expected


def test_picks_respect_launch_dates() -> None:
    catalog = build_catalog(PLAN)
    rng = random.Random(2)
    for day in range(PLAN.as_of_day - 364, PLAN.as_of_day + 1, 7):
        sellable = catalog.sellable(day)
        assert sellable >= 1
        for _ in range(50):
            assert catalog.product(catalog.pick(rng.random(), sellable))[2] <= day


def test_catalog_file_placed_by_shards_in_any_order_equals_the_built_catalog(
    tmp_path: Path,
) -> None:
    built = build_catalog(PLAN)
    shared = CatalogFile(tmp_path / "run.catalog", PLAN.products)
    shared.create()
    for shard in reversed(PLAN.product_shards):
        shared.place(catalog_chunk(product_cores(PLAN, shard)))
    shared.finish()
    opened = shared.open()
    assert bytes(opened.buffer) == bytes(built.buffer)
    for product_id in (1, 2, PLAN.products // 2, PLAN.products):
        assert opened.product(product_id) == built.product(product_id)
    shared.remove()
    assert not shared.path.exists()
