"""Exports in parallel: each table cut into the plan's shards, each shard's
rows read and rendered in a worker process, and handed to the target's writer
by the coordinator in ID order.

What a worker renders depends on the target (`render.RENDERERS`): CSV text,
JSON lines text, PostgreSQL's binary COPY data; in the export's scratch
folder, an Arrow record batch as an IPC file (Parquet, DuckDB), the leaf
pages of its SQLite table or a small SQLite file of its rows (SQLite); or
the part's own file of a partitioned Parquet dataset, written into the
target's folder. The parts
are the plan's, never the worker count's, and each is rendered the same way
wherever it runs, so a target gets the same data with any number of workers.

The store is read only in the workers, each through its own read-only handle
on the file the export names (`file`). As a worker reads a part it digests
it exactly as verify does; the coordinator combines the parts' digests and,
before the target is finished, compares them with the digest recorded when
the dataset was promoted (which verify recorded after checking every rule).
A store that changed since, a damaged record, or a row outside the plan's
ranges is the damaged-store error, and the target is left as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from ..errors import RunError, ShardgenError, damaged
from ..plan import Plan
from ..run.pool import Coordinator, Pool, coordinator, no_cycle_collection, worker_started
from ..schema import TABLES
from ..store import Identity, Store, digest_array, key, quiet_stderr, reading
from .contract import Meter, Part, Rendered, Writer
from .copydata import copy_data
from .files import (
    ARROW_FILES,
    PARQUET_GROUPS,
    PARQUET_PARTS,
    record_batch,
    shard_rows,
    write_arrow_file,
    write_part_file,
)
from .parquet import write_group
from .postgres import RENDER_COPY, copy_part
from .render import RENDERERS, columns_of, part_text, sqlite_values
from .sqlite import RENDER_PAGES, write_leaves, write_part

#: Parts in flight per worker. The coordinator hands out the next parts only
#: between writes, and a write can take as long as several parts' rendering
#: (a Parquet row group of 100,000 rows, a part copied into SQLite): with the
#: task runner's usual 2, the workers wait for it. 8 took an xl Parquet
#: export from 6.9 s to 6.4 s with 2 workers, and from 9.7 s to 8.7 s with
#: one; a rendered part is at most a few MB.
WINDOW = 8

#: The size of a part's digest (and of each of its shards').
DIGEST = 16


class Source(NamedTuple):
    """The dataset an export reads: its path, which file it is, its plan, and
    the digest recorded at its promotion."""

    path: Path
    file: Identity
    plan: Plan
    promoted: str


def parts(plan: Plan, most: int = 0) -> list[Part]:
    """The tasks of an export: first each table's keys outside the plan's
    range, then every table cut into the plan's shards (a foundation table is
    one part), tables in contract order, parts in ID order. With `most`,
    consecutive shards of a table are one part while they hold at most
    `most` rows together (a shard holding more is a part of its own)."""
    rows = plan.rows()
    found = [Part(table, -1, rows[table] + 1, 0) for table in TABLES]
    for table in TABLES:
        first = 1
        group: list[tuple[int, int]] = []  # (number, rows) of the shards gathered
        held = 0  # their rows
        for number, count in enumerate(shard_rows(plan, table) or [rows[table]]):
            if group and (not most or held + count > most):
                found.append(_group(table, first, group))
                first, group, held = first + held, [], 0
            group.append((number, count))
            held += count
        found.append(_group(table, first, group))
    return found


def _group(table: str, first: int, shards: list[tuple[int, int]]) -> Part:
    counts = tuple(count for _, count in shards)
    return Part(table, shards[0][0], first, sum(counts), counts if len(counts) > 1 else ())


def export_parts(
    source: Source,
    writer: Writer,
    render: str,
    workers: int,
    meter: Meter | None,
    scratch: Path | None = None,
) -> dict[str, int]:
    """Render every part of the dataset in `workers` processes, write them with
    `writer` in task order, check the digest, finish; return rows per table.
    `scratch` is the folder where the sqlite render writes its parts; a
    writer with `task_rows` takes consecutive shards of up to that many rows
    as one part."""
    tasks = parts(source.plan, getattr(writer, "task_rows", 0))
    initargs = (str(source.path), source.file, render, str(scratch or ""), coordinator())

    def broken(_running: list[Part]) -> NoReturn:
        raise RunError(
            "an export worker process died before finishing its part (a damaged store can "
            f"do that: check it with `shardgen verify {source.path}`); run the export again"
        )

    written: dict[str, int] = dict.fromkeys(TABLES, 0)
    digests: dict[str, list[bytes]] = {table: [] for table in TABLES}
    outside: dict[str, bytes] = {}
    waiting: dict[int, tuple[Part, Rendered]] = {}
    order = {task: number for number, task in enumerate(tasks)}
    following = 0
    try:
        with Pool[Part, Rendered](
            workers, len(tasks), "shardgen.exports.parallel", _init, initargs, window=WINDOW
        ) as pool:
            for task, rendered in pool.run(_render, tasks, _nothing, _failed, broken):
                waiting[order[task]] = (task, rendered)
                while following in waiting:
                    done, result = waiting.pop(following)
                    following += 1
                    if done.number < 0:
                        if result.rows:
                            raise damaged(
                                source.path,
                                f"{done.table} has {result.rows} row(s) beyond the plan's "
                                f"{done.first - 1}",
                            )
                        outside[done.table] = result.digest
                        continue
                    digests[done.table] += _split(result.digest)
                    writer.write(done, result.data)
                    written[done.table] += result.rows
                    if meter is not None:
                        meter.add(result.rows)
        _check_digest(source, digests, outside)
        writer.finish()
    finally:
        writer.close()
    return written


def _check_digest(
    source: Source, ranges: dict[str, list[bytes]], outside: dict[str, bytes]
) -> None:
    """The rows read must digest, in verify's order, to the promoted digest."""
    from ..verification import in_task_order, store_digest

    _, digest = store_digest(in_task_order(ranges, outside))
    if digest != source.promoted:
        raise damaged(
            source.path,
            f"its rows digest to {digest}, not to the {source.promoted} recorded when it "
            "was promoted",
        )


def _split(digests: bytes) -> list[bytes]:
    """A part's digests, one for each of the plan's shards it holds."""
    return [digests[at : at + DIGEST] for at in range(0, len(digests), DIGEST)]


def _nothing() -> None:
    pass


def _failed(part: Part, exc: Exception) -> ShardgenError:
    if isinstance(exc, OSError):
        # A worker writing its part into the scratch folder (the sqlite
        # render) fails as the target's own writes do: `guard.writing` says
        # it in one line (a full disk among them).
        raise exc
    return RunError(
        f"exporting {part.table} part {part.number} failed ({type(exc).__name__}: {exc})"
    )


# -- in a worker process -------------------------------------------------------


class _Reading(NamedTuple):
    store: Store
    render: str
    scratch: str


_reading: _Reading | None = None


def _init(path: str, file: Identity, render: str, scratch: str, watched: Coordinator) -> None:
    global _reading  # noqa: PLW0603 - one store handle per worker process
    worker_started(watched)
    quiet_stderr()
    _reading = _Reading(Store.open(Path(path), file=file), render, scratch)


def _render(part: Part) -> Rendered:
    """A part's digests and rows, and the part as the target takes it."""
    assert _reading is not None, "worker not initialised"
    store = _reading.store
    with no_cycle_collection(), reading(store.path):
        if part.number < 0:
            return _outside(store, part)
        digests: list[bytes] = []
        shards = _shards(store, part, digests)
        if _reading.render.startswith(PARQUET_GROUPS):  # a row group's file, for the coordinator
            batches = [record_batch(part.table, packed) for packed in shards]
            compression, most = _reading.render.removeprefix(PARQUET_GROUPS).split(":")
            data = write_group(Path(_reading.scratch), part, batches, compression, int(most))
        else:
            (packed,) = shards
            data = _data(_reading, part, packed)
    # Remapped every few shards, so only a few shards' pages stay mapped here.
    for _ in part.shards or (part.rows,):
        store.shard_done()
    return Rendered(b"".join(digests), part.rows, data)


def _data(source: _Reading, part: Part, packed: bytes) -> Any:
    if source.render == ARROW_FILES:
        return write_arrow_file(Path(source.scratch), part, record_batch(part.table, packed))
    if source.render.startswith(PARQUET_PARTS):  # a partitioned dataset's file, written here
        compression = source.render.removeprefix(PARQUET_PARTS)
        write_part_file(Path(source.scratch), part, record_batch(part.table, packed), compression)
        return None
    if source.render.startswith(RENDER_COPY):  # loaded into PostgreSQL here
        return copy_part(source.render, part.table, copy_data(part.table, packed))
    if source.render == RENDER_PAGES:
        return write_leaves(Path(source.scratch), part, packed)
    if source.render == "sqlite":
        return write_part(Path(source.scratch), part, sqlite_values(part.table, packed))
    if source.render in ("csv", "jsonl"):
        return part_text(source.render, part.table, packed)
    return RENDERERS[source.render](part.table, columns_of(part.table, packed))


def _outside(store: Store, part: Part) -> Rendered:
    """The keys of a table outside the plan's range, digested as verify does."""
    digest = hashlib.blake2b(digest_size=DIGEST)
    count = 0
    with store.snapshot() as view:
        for k, v in view.outside(part.table, [(key(1), key(part.first))]):
            digest.update(k)
            digest.update(v)
            count += 1
    return Rendered(digest.digest(), count, None)


def _shards(store: Store, part: Part, digests: list[bytes]) -> Iterator[bytes]:
    """Each of the plan's shards a part holds, its rows as one msgpack array
    of records (`Snapshot.values`), digested as verify digests it (the keys
    and then the values of each batch, `store.digest_array`), the digest
    appended to `digests`. The keys must be the part's."""
    first = part.first
    # A part of several shards (a Parquet row group, ~100,000 rows) drops its
    # pages of the store as it reads them, as verify does.
    with store.snapshot(release=bool(part.shards)) as view:
        for rows in part.shards or (part.rows,):
            digest = hashlib.blake2b(digest_size=DIGEST)
            try:
                packed, ends = view.values(part.table, first, rows)
            except LookupError as exc:
                raise damaged(store.path, str(exc)) from None
            digest_array(digest, first, rows, packed, ends)
            digests.append(digest.digest())
            yield packed
            first += rows
