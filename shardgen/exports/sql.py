"""Export to SQL databases: a SQLite file, or a PostgreSQL database.

Both present the data contract with its PRIMARY KEY, FOREIGN KEY, UNIQUE and
CHECK constraints, their DDL derived from the table registry (`ddl`); the
PostgreSQL tables have native types (NUMERIC money, DATE, TIMESTAMPTZ,
BOOLEAN). SQLite is written into a file beside the target and renamed into
place when complete; PostgreSQL is loaded with COPY in one transaction, so a
failed load changes nothing.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import RunError, UsageError
from ..guard import create
from ..schema import TABLES
from ..store import Store, disk_full
from . import ddl
from .contract import Converter, Meter, columns, hundredths, rows


def export_sqlite(store: Store, path: Path, meter: Meter | None = None) -> dict[str, int]:
    """Write the contract into a new SQLite file at `path`; return rows per
    table. (`export` gives the path beside the target that `guard.writing`
    then puts in its place.)"""
    counts: dict[str, int] = {}
    try:
        os.close(create(path))  # an empty file is an empty database; never a link
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            # Foreign keys are checked once, in bulk, after the load (below):
            # cheaper than a parent lookup per inserted row.
            db.execute("PRAGMA foreign_keys = OFF")
            # The UNIQUE indexes are updated on every insert: a larger page
            # cache keeps their hot pages in memory (64 MB at most).
            db.execute("PRAGMA cache_size = -65536")
            db.executescript(ddl.create_tables("sqlite"))
            converter = Converter()
            db.execute("BEGIN")
            for table in TABLES:
                names = columns(table)
                sql = (
                    f"INSERT INTO {table} ({', '.join(names)}) "
                    f"VALUES ({', '.join('?' * len(names))})"
                )
                cursor = db.executemany(sql, rows(store, table, converter, meter))
                counts[table] = cursor.rowcount
            # Lookup indexes, built after the load: one sort each instead of an
            # index update per inserted row.
            for statement in ddl.create_indexes():
                db.execute(statement)
            db.execute("COMMIT")
            problems = db.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RunError(
                    f"the export has {len(problems)} foreign key problem(s), first {problems[0]}: "
                    "run `shardgen verify` on the store"
                )
            db.execute("ANALYZE")
        finally:
            db.close()
    except sqlite3.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({exc}): "
            "run `shardgen verify` on it"
        ) from None
    except sqlite3.Error as exc:
        # An OS error, which `guard.writing` says in one line, naming the target.
        full = "full" in str(exc) or disk_full(path)
        raise OSError(errno.ENOSPC if full else errno.EIO, str(exc)) from None
    return counts


# -- PostgreSQL ---------------------------------------------------------------


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


def _message(exc: Exception) -> str:
    """A driver error as one line: the server's message and its detail, if any."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary:  # raised by the client (no connection): its own text
        return " ".join(str(exc).split())
    detail = getattr(diag, "message_detail", None)
    return f"{primary} ({' '.join(detail.split())})" if detail else primary


def export_postgres(
    store: Store, url: str, *, force: bool = False, meter: Meter | None = None
) -> dict[str, int]:
    """Create the contract's tables in the database at `url` and load them.

    Everything happens in one transaction: existing tables (without `force`),
    a broken constraint or a lost connection leave the database as it was.
    Returns the row count of each table as the database reports it.
    """
    import psycopg

    where = redact(url)
    try:
        conn = psycopg.connect(url, application_name="shardgen export")
    except psycopg.Error as exc:
        raise RunError(f"cannot connect to {where}: {_message(exc)}") from None
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT t FROM unnest(%s::text[]) AS t "
                "WHERE to_regclass(quote_ident(t)) IS NOT NULL",
                [list(TABLES)],
            )
            found = [name for (name,) in cursor.fetchall()]
            if found and not force:
                raise UsageError(
                    f"{where} already has table(s) {', '.join(found)}: pass --force to drop "
                    "and replace them, or export into another database"
                )
            if found:
                cursor.execute(f"DROP TABLE IF EXISTS {', '.join(reversed(TABLES))}")
            cursor.execute(ddl.create_tables("postgres"))
            converter = Converter({"money": hundredths, "basis_points": hundredths, "bool": _same})
            written: dict[str, int] = {}
            for table in TABLES:
                sql = f"COPY {table} ({', '.join(columns(table))}) FROM STDIN (FREEZE)"
                count = 0
                with cursor.copy(sql) as copy:
                    for row in rows(store, table, converter, meter):
                        copy.write_row(row)
                        count += 1
                written[table] = count
            cursor.execute(ddl.add_keys())
            counts: dict[str, int] = {}
            for table in TABLES:
                cursor.execute(f"ANALYZE {table}")
                (counts[table],) = cursor.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
            if counts != written:
                raise RunError(f"{where} holds {counts} rows after the load, not {written}")
    except psycopg.errors.IntegrityError as exc:
        raise RunError(
            f"the store breaks a constraint of the data contract ({_message(exc)}): "
            f"run `shardgen verify` on it; {where} was left as it was"
        ) from None
    except psycopg.Error as exc:
        raise RunError(
            f"the export to {where} failed and was rolled back: {_message(exc)}"
        ) from None
    finally:
        conn.close()
    return counts


def _same(value: Any) -> Any:
    return value
