"""shardgen: realistic, referentially consistent business datasets, generated in
parallel shards into LMDB, reproducibly from a seed.

    >>> import shardgen
    >>> summary = shardgen.generate("small", seed=42, out="demo.lmdb")  # doctest: +SKIP
    >>> shardgen.verify("demo.lmdb").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os

from .errors import (
    LockedError,
    NotAStoreError,
    RunError,
    SchemaError,
    ShardgenError,
    StoreError,
    StoreFullError,
    UsageError,
)
from .export import export
from .generate import Summary, generate
from .plan import VOLUMES, Plan, make_plan
from .report import report
from .stats import Stats, stats
from .store import Store
from .verify import Report, Violation, verify
from .versions import __version__


def open(path: str | os.PathLike[str]) -> Store:
    """Open a store read-only: typed records, get by id, children of a parent.

    >>> with shardgen.open("demo.lmdb") as data:  # doctest: +SKIP
    ...     customer = data.get("customers", 1)
    ...     invoices = data.children("invoices", customer.id)
    """
    return Store.open(path)


__all__ = [
    "VOLUMES",
    "LockedError",
    "NotAStoreError",
    "Plan",
    "Report",
    "RunError",
    "SchemaError",
    "ShardgenError",
    "Stats",
    "Store",
    "StoreError",
    "StoreFullError",
    "Summary",
    "UsageError",
    "Violation",
    "__version__",
    "export",
    "generate",
    "make_plan",
    "open",
    "report",
    "stats",
    "verify",
]
