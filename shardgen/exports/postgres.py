"""Export to PostgreSQL: loaded over several connections into a staging
schema, keys built after the load, then swapped into `public` by one
transaction.

`PostgresTarget` is the writer: `check` (refuse existing tables unless
forced), `open` (a fresh staging schema `shardgen_staging_<hex>` holding the
contract's tables without keys; leftovers of killed exports dropped),
`write` (one part's COPY data, loaded by one of the connections) or
`loaded` (a part an export's worker loaded itself, `copy_part`), `finish`
(keys and indexes built in parallel, ANALYZE, counts checked, the swap) and
`close` (without `finish`: the staging schema dropped). Until the swap
commits, `public` is untouched, so a failed or killed export leaves the
database as it was; what a killed export left behind the next one removes.

A part's data is binary COPY (`copydata.copy_columns`, rendered by the
export's workers), or the CSV export's
text without its header (`format="csv"`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import RunError, UsageError
from ..schema import TABLES
from . import ddl
from .contract import Part
from .copydata import copy_statement

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[tuple[Any, ...]]

#: How the export's sessions name themselves (pg_stat_activity.application_name).
APPLICATION = "shardgen export"
#: The staging schemas' names begin so; `open` drops those of dead exports.
STAGING = "shardgen_staging_"
#: The advisory lock a live export holds on its staging schema: this number
#: in the high 32 bits, the schema's OID in the low ones.
LOCK_SPACE = 0x53484447  # "SHDG"
#: Parts queued or being loaded, per connection: what bounds the memory.
QUEUED = 2
#: maintenance_work_mem of the connections that build the indexes (at least).
SORT_MEMORY = "256MB"


def default_connections() -> int:
    """Connections that load (`write`) and build the keys: one per CPU, 2 to 4."""
    return max(2, min(os.cpu_count() or 2, 4))


# -- the URL ------------------------------------------------------------------


def check_url(url: str) -> None:
    example = "postgresql://user@localhost:5432/dbname"
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(f"--to {url!r} is not a PostgreSQL URL: give one such as {example}")
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        _ = urlsplit(url).port  # a bad port or bracket raises here
        conninfo_to_dict(url)
    except (ValueError, psycopg.Error) as exc:
        raise UsageError(
            f"--to {redact(url)} is not a valid PostgreSQL URL ({_message(exc)}): give one "
            f"such as {example}"
        ) from None


def redact(url: str) -> str:
    """The URL without its password, fit to print (even one too malformed to parse)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}" if "@" in rest else url
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _message(exc: BaseException) -> str:
    """A driver error as one line: the server's message and its detail, if any."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:  # raised by the client (no connection): its own text
        return " ".join(str(exc).split())
    detail = getattr(diag, "message_detail", None)
    return f"{primary} ({' '.join(detail.split())})" if detail else primary


# -- the target -------------------------------------------------------------------


class PostgresTarget:
    """The PostgreSQL database at `url` as an export's target (see the module).

    Use: `check()`, `open()`, `write(table, data, rows)` for each part (the
    parts of a table in ID order or not), `finish()` → rows per table, and
    always `close()` (or `with`). Errors are one line, the password never in
    it; `public` stays as it was unless `finish` returns.
    """

    def __init__(
        self,
        url: str,
        *,
        force: bool = False,
        connections: int | None = None,
        format: str = "binary",
    ) -> None:
        assert format in ("binary", "csv"), format
        self.url = url
        self.where = redact(url)
        self.force = force
        self.connections = connections or default_connections()
        self.format = format
        self.schema = f"{STAGING}{secrets.token_hex(6)}"
        self.control: Connection | None = None
        self.loaders: list[Connection] = []
        self.free: queue.SimpleQueue[Connection] = queue.SimpleQueue()
        self.pool: ThreadPoolExecutor | None = None
        self.slots = threading.Semaphore(QUEUED * self.connections)
        self.guard = threading.Lock()
        self.failure: BaseException | None = None
        self.written: dict[str, int] = dict.fromkeys(TABLES, 0)  # rows given to `write`
        self.copied: dict[str, int] = dict.fromkeys(TABLES, 0)  # rows COPY reported
        self.lock_key: int | None = None  # held while the staging schema is ours
        self.finished = False

    def __enter__(self) -> PostgresTarget:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def check(self) -> None:
        """Connect; refuse a database that has the contract's tables, unless forced."""
        self.control = self._connect()
        with self._said():
            found = [
                name
                for (name,) in self.control.execute(
                    "SELECT t FROM unnest(%s::text[]) AS t "
                    "WHERE to_regclass('public.' || quote_ident(t)) IS NOT NULL",
                    [list(TABLES)],
                )
            ]
        if found and not self.force:
            raise UsageError(
                f"{self.where} already has table(s) {', '.join(found)}: pass --force to drop "
                "and replace them, or export into another database"
            )

    def open(self) -> None:
        """Drop what killed exports left; create the staging schema (locked as
        ours in the transaction that creates it) with the tables, no keys; open
        the loading connections, each in one transaction until `finish`."""
        control = self.control
        assert control is not None, "check() first"
        with self._said():
            self._clear_leftovers()
            with control.transaction():
                control.execute(f"CREATE SCHEMA {self.schema}")
                row = control.execute("SELECT %s::regnamespace::oid", [self.schema]).fetchone()
                assert row is not None
                self.lock_key = (LOCK_SPACE << 32) | int(row[0])
                control.execute("SELECT pg_advisory_lock(%s)", [self.lock_key])
                control.execute(f"SET LOCAL search_path TO {self.schema}")
                control.execute(ddl.create_tables("postgres"))
            self.pool = ThreadPoolExecutor(self.connections, thread_name_prefix="postgres")
            for _ in range(self.connections):
                loader = self._connect()
                self.loaders.append(loader)
                loader.execute(f"SET search_path TO {self.schema}")
                # Index builds sort in memory up to this (the default, 64 MB,
                # spills the large tables' sorts to disk); a larger setting stays.
                loader.execute(
                    "SELECT set_config('maintenance_work_mem', %s, false) WHERE "
                    "pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(%s)",
                    [SORT_MEMORY, SORT_MEMORY],
                )
                loader.autocommit = False
                self.free.put(loader)

    def write(self, table: str, data: bytes, rows: int) -> None:
        """Load one part (`rows` rows of `table` as COPY data) on a free
        connection; waits while `QUEUED` parts per connection are pending."""
        assert self.pool is not None, "open() first"
        self._raise_failure()
        self.slots.acquire()
        self.written[table] += rows
        try:
            self.pool.submit(self._copy, table, data)
        except BaseException:
            self.slots.release()
            raise

    def _copy(self, table: str, data: bytes) -> None:
        """On a pool thread: COPY one part, its count noted, a failure kept."""
        try:
            if self.failure is not None:
                return  # the export has failed: drop the rest
            loader = self.free.get()
            try:
                with loader.cursor() as cursor:
                    with cursor.copy(copy_statement(self.schema, table, self.format)) as copy:
                        copy.write(data)
                    count = cursor.rowcount
            finally:
                self.free.put(loader)
            with self.guard:
                self.copied[table] += count
        except BaseException as exc:  # raised on the caller's thread
            with self.guard:
                self.failure = self.failure or exc
        finally:
            self.slots.release()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            with self._said():
                raise self.failure

    def finish(self) -> dict[str, int]:
        """Wait for the loads; build the keys and indexes and ANALYZE, on all
        connections at once; check the counts; swap the tables into `public`.
        Returns the rows COPY loaded into each table."""
        control = self.control
        assert control is not None and self.pool is not None, "open() first"
        for _ in range(QUEUED * self.connections):  # every part loaded
            self.slots.acquire()
        self._raise_failure()
        with self._said():
            for loader in self.loaders:
                loader.commit()
                loader.autocommit = True
            if self.copied != self.written:
                raise RunError(f"{self.where} took {self.copied} rows, not the {self.written} sent")
            largest = sorted(TABLES, key=lambda table: -self.written[table])
            indexes = ddl.key_indexes()
            self._in_parallel(
                [[sql] for table in largest for name, sql in indexes if name == table]
            )
            control.execute(f"SET search_path TO {self.schema}")
            for statement in ddl.key_constraints():
                control.execute(statement)
            checks = ddl.validations()
            self._in_parallel([[*checks[table], f"ANALYZE {table}"] for table in largest])
            self._swap()
        self.finished = True
        with contextlib.suppress(Exception):  # what exports killed meanwhile left
            self._clear_leftovers()
        return dict(self.copied)

    def _in_parallel(self, jobs: list[list[str]]) -> None:
        """Run each job (statements, in order) on a free connection, as many
        at once as there are connections; the first failure is raised."""
        assert self.pool is not None

        def run(statements: list[str]) -> None:
            loader = self.free.get()
            try:
                for statement in statements:
                    loader.execute(statement)
            finally:
                self.free.put(loader)

        futures: list[Future[None]] = [self.pool.submit(run, job) for job in jobs]
        wait(futures)
        for future in futures:
            future.result()

    def _swap(self) -> None:
        """In one transaction: the old tables dropped (only with `force`), the
        staged ones moved into `public` (their keys, indexes and foreign keys,
        which refer to tables by OID, with them), the staging schema dropped."""
        control = self.control
        assert control is not None
        with control.transaction():
            if self.force:
                old = ", ".join(f"public.{table}" for table in reversed(TABLES))
                control.execute(f"DROP TABLE IF EXISTS {old}")
            for table in TABLES:
                control.execute(f"ALTER TABLE {self.schema}.{table} SET SCHEMA public")
            control.execute(f"DROP SCHEMA {self.schema}")
        control.execute("SET search_path TO DEFAULT")
        self._unlock()

    def close(self) -> None:
        """End the export: unless it finished, stop the loads and drop the
        staging schema (best effort: else the next export drops it); close
        every connection. `public` is as it was."""
        if not self.finished:
            with self.guard:
                self.failure = self.failure or RunError("the export was stopped")
            for loader in self.loaders:
                with contextlib.suppress(Exception):
                    loader.cancel_safe(timeout=5)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        for loader in self.loaders:
            loader.close()
        self.loaders = []
        control, self.control = self.control, None
        if control is None:
            return
        try:
            if self.lock_key is not None and not self.finished:
                with contextlib.suppress(Exception):
                    control.rollback()
                    control.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
                    self._unlock(control)
        finally:
            control.close()

    def _unlock(self, control: Connection | None = None) -> None:
        control = control or self.control
        if self.lock_key is not None and control is not None:
            control.execute("SELECT pg_advisory_unlock(%s)", [self.lock_key])
            self.lock_key = None

    def _clear_leftovers(self) -> None:
        """Drop the staging schemas of exports that are gone: those whose
        advisory lock nobody holds. One that cannot be dropped (another
        role's, or still busy after 10 s) is left for the next export."""
        import psycopg
        from psycopg import sql

        control = self.control
        assert control is not None
        found = control.execute(
            "SELECT nspname, oid FROM pg_namespace WHERE nspname LIKE %s AND nspname != %s",
            [STAGING.replace("_", "\\_") + "%", self.schema],
        ).fetchall()
        for name, oid in found:
            key = (LOCK_SPACE << 32) | int(oid)
            row = control.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
            if not (row and row[0]):
                continue  # a live export's
            try:
                with control.transaction():
                    control.execute("SET LOCAL lock_timeout = '10s'")
                    control.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
            except psycopg.Error:
                pass
            finally:
                control.execute("SELECT pg_advisory_unlock(%s)", [key])

    def _connect(self) -> Connection:
        return connect(self.url)

    def _said(self) -> contextlib.AbstractContextManager[None]:
        return said(self.where)

    def loaded(self, table: str, sent: int, copied: int) -> None:
        """Note a part a worker loaded itself (`copy_part`): `sent` rows,
        of which COPY reported `copied`."""
        self._raise_failure()
        with self.guard:
            self.written[table] += sent
            self.copied[table] += copied


def connect(url: str) -> Connection:
    """A session of the export: autocommit, named, and (PostgreSQL 14 and
    later) noticing within a second a client that died mid-statement."""
    import psycopg

    try:
        conn = psycopg.connect(url, application_name=APPLICATION, autocommit=True)
    except psycopg.Error as exc:
        raise RunError(f"cannot connect to {redact(url)}: {_message(exc)}") from None
    if conn.info.server_version >= 140000:
        conn.execute("SET client_connection_check_interval = 1000")
    return conn


@contextlib.contextmanager
def said(where: str) -> Iterator[None]:
    """The driver's errors as the export's one-line errors (`where`: the
    database's URL without its password)."""
    import psycopg

    try:
        yield
    except psycopg.errors.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({_message(exc)}): "
            f"run `shardgen verify` on it; {where} was left as it was"
        ) from None
    except psycopg.Error as exc:
        raise RunError(
            f"the export to {where} failed and was rolled back: {_message(exc)}"
        ) from None


# -- in a worker process --------------------------------------------------------------

#: What the workers render for this target: each loads its parts itself, by
#: COPY over a connection of its own, into the staging schema and database
#: that follow this, a line each (`copy_part`).
RENDER_COPY = "postgres-copy\n"

#: A worker's connection, and the render it was opened for.
_session: tuple[str, Connection] | None = None


def copy_part(render: str, table: str, data: bytes) -> int:
    """In a worker: load a part's binary COPY data into its staging table,
    over this worker's own connection (opened at its first part); return the
    rows COPY took. Each part commits by itself, into the staging schema,
    which only the swap in `PostgresTarget.finish` makes anyone's: the data
    goes from the worker to the server, not through the coordinator (at xl,
    2 CPU seconds of the coordinator's, and the pickling of 0.7 GB)."""
    global _session  # noqa: PLW0603 - one connection per worker process
    _, schema, url = render.split("\n", 2)
    if _session is None or _session[0] != render:
        _session = (render, connect(url))
    with said(redact(url)), _session[1].cursor() as cursor:
        with cursor.copy(copy_statement(schema, table, "binary")) as copy:
            copy.write(data)
        return int(cursor.rowcount)


# -- the export's writer ------------------------------------------------------------------


class PostgresWriter:
    """The export's side of a `PostgresTarget`: the workers render each part
    as binary COPY data (`copydata.copy_data`) and load it themselves
    (`copy_part`, the `render` they are given); the rows each took arrive
    here."""

    def __init__(self, target: PostgresTarget) -> None:
        self.target = target
        self.render = f"{RENDER_COPY}{target.schema}\n{target.url}"

    def write(self, part: Part, data: Any) -> None:
        self.target.loaded(part.table, part.rows, data)

    def finish(self) -> None:
        self.target.finish()

    def close(self) -> None:
        self.target.close()


def writer(to: str, format: str, force: bool, options: object = None) -> PostgresWriter:
    """The PostgreSQL target's writer: the database at the URL `to`, checked
    (existing tables need `force`) and a staging schema opened."""
    target = PostgresTarget(to, force=force)
    try:
        target.check()
        target.open()
    except BaseException:
        target.close()
        raise
    return PostgresWriter(target)
