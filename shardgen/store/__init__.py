"""The store: a single LMDB file, one named database per table.

Layout (plus LMDB's `-lock` file while the store is written):

    meta                 b"meta" → Meta (schema version, shardgen version, plan)
    events               seq (8-byte big-endian) → Event
    links                relation (1 byte) + parent id (8) → first child id, count
    <table> × 8          id (8-byte big-endian) → record (msgpack array)

and what `advance` keeps (not part of the data contract; generate writes the
first three, and each advanced day updates them in its one transaction):

    agenda               day (4) + kind (1) + id (8) → b"": what falls due that day
    accounts             customer id → Account (unpaid, overdue, last invoice day)
    stock                product id → Stock (the inventory ledger)
    later                customer id + invoice id → b"": invoices advance issued
    changes              seq (8) → Change: the change feed

Keys are big-endian so cursors return rows in ID order, and the children of a
parent, which get consecutive IDs, are one `links` lookup away. A generate run
writes into `<target>.staging` and renames it over the target once verified:
the rename is atomic, so readers see the old dataset or the new one, never a
half-written one.

`database` holds all LMDB access (the `Store`; `snapshot` its `Snapshot`s,
which read a key range's values straight from LMDB's leaf pages with
`_leaves.c` where it was built; `keys` how keys are laid out); `files`
what is known of a store's files without LMDB: the files beside it, which
file a path names, its header pages, and reading it in a child process.
"""

from __future__ import annotations

from .database import (
    DATABASES,
    REMAP_EVERY,
    STATE_DATABASES,
    Store,
    check_present,
    digest_array,
    digest_batch,
    digest_batches,
    digest_joined,
    encode_links,
    encode_table,
    reading,
)
from .files import (
    DEFAULT_MAP_SIZE,
    MAX_MAP_SIZE,
    MIN_MAP_SIZE,
    Identity,
    catalog_path,
    check_file,
    companions,
    disk_full,
    identity,
    is_lmdb,
    isolated,
    lmdb_files,
    lock_path,
    pinned,
    quiet_stderr,
    recorded_map_size,
    staging_path,
)
from .keys import BATCH, LINK, LINK_ARRAY, LINK_KEY, LINK_KEY_ARRAY, key, span
from .snapshot import Snapshot, later_invoices

__all__ = [
    "BATCH",
    "DATABASES",
    "DEFAULT_MAP_SIZE",
    "LINK",
    "LINK_ARRAY",
    "LINK_KEY",
    "LINK_KEY_ARRAY",
    "MAX_MAP_SIZE",
    "MIN_MAP_SIZE",
    "REMAP_EVERY",
    "STATE_DATABASES",
    "Identity",
    "Snapshot",
    "Store",
    "catalog_path",
    "check_file",
    "check_present",
    "companions",
    "digest_array",
    "digest_batch",
    "digest_batches",
    "digest_joined",
    "disk_full",
    "encode_links",
    "encode_table",
    "identity",
    "is_lmdb",
    "isolated",
    "key",
    "later_invoices",
    "lmdb_files",
    "lock_path",
    "pinned",
    "quiet_stderr",
    "reading",
    "recorded_map_size",
    "span",
    "staging_path",
]
