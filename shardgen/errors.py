"""shardgen's exceptions.

    ShardgenError            every error shardgen raises on purpose
    ├── UsageError           bad arguments: exit status 2
    ├── StoreError           the store cannot be opened, read or written
    │   ├── NotAStoreError   the path holds something that is not a shardgen store
    │   ├── SchemaError      the store was written by a newer schema version
    │   ├── DamagedStoreError the store is damaged (or differs from what was promoted)
    │   └── StoreFullError   the disk or the LMDB map is full
    ├── LockedError          another run holds the target
    └── RunError             a run failed (a worker died, verify failed, resume mismatch)

Verification findings are not exceptions: `verify()` returns a report.
Each message says what happened and what to do about it.
"""

from __future__ import annotations


class ShardgenError(Exception):
    """The root of every error shardgen raises on purpose."""

    exit_code = 1


class UsageError(ShardgenError):
    """An argument is out of range or inconsistent with the others."""

    exit_code = 2


class StoreError(ShardgenError):
    """The store cannot be opened, read or written."""


class NotAStoreError(StoreError):
    """The path exists but does not hold a shardgen store."""


class SchemaError(StoreError):
    """The store was written with a schema this version cannot read: an
    older one (`newer` false: regenerate it) or a newer one (upgrade)."""

    newer = False


class DamagedStoreError(StoreError):
    """The store's file is damaged: a read failed, or its data differs from
    what was promoted. Its message is always of one form (`damaged`)."""


def damaged(path: object, detail: str) -> DamagedStoreError:
    """The one error for a damaged store, whatever the command."""
    detail = " ".join(detail.split()) or "unreadable"
    return DamagedStoreError(
        f"the store at {path} is damaged: {detail}; regenerate it or restore a copy"
    )


def no_store(path: object) -> StoreError:
    """The one error for a store that is not there."""
    return StoreError(f"no store at {path}: run `shardgen generate --out {path}` first")


class StoreFullError(StoreError):
    """The disk or the LMDB map filled up during a write."""


class LockedError(ShardgenError):
    """Another generate run holds the target path."""


class RunError(ShardgenError):
    """A generate run failed and was rolled back."""
