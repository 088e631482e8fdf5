"""Making the data: pure generators, `(plan, shard) → records`, no I/O.

`products` (product and inventory shards, the foundation's categories),
`catalog` (the run's catalog of products that customer shards sell from),
`customers` (customer shards: customers and their addresses), `invoices`
(their invoices and line items), and the vocabularies they draw from,
read from `shardgen/data` at start-up (`vocabulary`, `catalog_vocabulary`).
"""
