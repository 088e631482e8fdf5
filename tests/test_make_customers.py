"""Customer shards: ID ranges, links, customer types, the spread of states."""

from __future__ import annotations

from collections import Counter

from shardgen.make.catalog import catalog_for
from shardgen.make.customers import customer_shard, customer_types, spread
from shardgen.plan import make_plan
from shardgen.schema import ADDRESSES, INVOICES, LINE_ITEMS

from .conftest import AS_OF


def test_a_shard_keeps_its_id_ranges_and_links() -> None:
    plan = make_plan("medium", seed=3, as_of=AS_OF)
    shard = plan.customer_shards[0]
    rows = customer_shard(plan, shard, catalog_for(plan))
    assert [c.id for c in rows.customers] == list(
        range(shard.customer_first, shard.customer_first + shard.customers)
    )
    assert len(rows.addresses) == shard.addresses and len(rows.invoices) == shard.invoices
    assert len(rows.line_items) == shard.lines
    relations = Counter(code for code, _, _, _ in rows.links)
    assert relations[ADDRESSES] == shard.customers
    assert relations[INVOICES] == len({i.customer_id for i in rows.invoices})
    assert relations[LINE_ITEMS] == shard.invoices


def test_customer_types_and_spread() -> None:
    plan = make_plan("small", seed=1, as_of=AS_OF)
    assert [t.name for t in customer_types(plan)] == ["Premium", "Standard", "Basic"]
    parts = spread(100, [75, 15, 10], 0.5)
    assert sum(parts) == 100 and parts == [75, 15, 10]
