"""shardgen: realistic, referentially consistent business datasets, generated in
parallel shards into LMDB, reproducibly from a seed.

    >>> import shardgen
    >>> summary = shardgen.generate("small", seed=42, out="demo.lmdb")  # doctest: +SKIP
    >>> shardgen.verify("demo.lmdb").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import sys


def _started_as_command() -> bool:
    """True when this import is the `shardgen` command starting up."""
    return os.path.basename(sys.argv[0]) == "shardgen" or sys.orig_argv[1:3] == ["-m", "shardgen"]


try:  # importing numpy, Faker and LMDB takes a few tenths of a second
    if _started_as_command():  # meanwhile, the worker processes' server starts
        from .run.server import early

        early(sys.argv[1:])
    from .advance.feed import changes
    from .advance.run import AdvanceSummary, advance
    from .errors import (
        DamagedStoreError,
        LockedError,
        NotAStoreError,
        RunError,
        SchemaError,
        ShardgenError,
        StoreError,
        StoreFullError,
        UsageError,
    )
    from .events import log
    from .exports import export
    from .pipeline import Summary, generate, reset
    from .plan import VOLUMES, Plan, make_plan
    from .reports.business import BusinessReport, report
    from .reports.statistics import Stats, stats
    from .store import Store
    from .verification import Report, Violation, verify
    from .versions import __version__
except KeyboardInterrupt:
    if not _started_as_command():
        raise
    # Ctrl-C while the command starts: as quiet as Ctrl-C anywhere else.
    print("shardgen: interrupted; nothing was changed", file=sys.stderr)
    raise SystemExit(130) from None


def open(path: str | os.PathLike[str]) -> Store:
    """Open a store read-only: typed records, get by id, children of a parent.

    >>> with shardgen.open("demo.lmdb") as data:  # doctest: +SKIP
    ...     customer = data.get("customers", 1)
    ...     invoices = data.children("invoices", customer.id)
    """
    return Store.open(path)


__all__ = [
    "VOLUMES",
    "AdvanceSummary",
    "BusinessReport",
    "DamagedStoreError",
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
    "advance",
    "changes",
    "export",
    "generate",
    "log",
    "make_plan",
    "open",
    "report",
    "reset",
    "stats",
    "verify",
]
