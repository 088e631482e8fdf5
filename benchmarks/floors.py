"""The floors the export benchmark measures each target against, and a server to measure on.

A floor is the fastest way the target itself knows to take in the same rows.
Each runs in a process of its own (`python benchmarks/floors.py NAME SOURCE
SCRATCH [URL]`, which prints its seconds, rows and detail as JSON), so that
the benchmark samples the floor's memory as it samples the export's:

- sqlite: `INSERT INTO t SELECT * FROM copy.t` from the exported file,
  attached, into a fresh file with the same DDL (`sqlite_floor`);
- parquet: `pyarrow.parquet.write_table` of the exported tables, read back
  into memory first (`ParquetFloor`); partitioned, of the same files, one
  per table per shard;
- duckdb: `INSERT INTO t SELECT * FROM read_parquet(...)` of the Parquet
  export's files into the DuckDB export's own DDL, one transaction
  (`duckdb_floor`);
- postgres: server-side `COPY` of the CSV export's files into the export's
  own DDL on one connection, keys after (`postgres_floor`), on a throwaway
  cluster on loopback (`PostgresServer`, as the test suite starts one).

    >>> seconds, transfer = sqlite_floor(Path("x.sqlite"), Path("floor.sqlite"))  # doctest: +SKIP
    $ python benchmarks/floors.py duckdb export-parquet/ scratch/
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import measure
from measure import BenchmarkError


class Unavailable(Exception):
    """A target cannot be measured here: the reason is reported, the run goes on."""


#: What each floor is, in one line.
FLOORS = {
    "sqlite": "INSERT … SELECT from the attached export into the same DDL, indexes after; "
    "one transaction",
    "parquet": "pyarrow.parquet.write_table of the exported tables, read back into memory",
    "parquet-partitioned": "pyarrow.parquet.write_table of the exported files, read back "
    "into memory: the same file per table per shard",
    "duckdb": "INSERT … SELECT from read_parquet of the Parquet export into the same DDL; "
    "one transaction",
    "postgres": "server-side COPY of the CSV export into the export's DDL on one connection, "
    "keys after; one transaction",
}


def postgres_ddl() -> tuple[str, str]:
    """The PostgreSQL export's own DDL, derived from the table registry:
    (tables without keys, keys and indexes after)."""
    from shardgen.exports import ddl

    return ddl.create_tables("postgres"), ddl.add_keys()


# -- a throwaway PostgreSQL server -------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs: on PATH, or Debian's newest."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in a scratch folder, on loopback, with a superuser
    `shardgen` without password (as the test suite starts one). initdb refuses
    to run as root, so as root the cluster belongs to the `postgres` user."""

    base: Path
    bindir: Path
    port: int
    owner: pwd.struct_passwd | None

    @property
    def as_owner(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if self.owner else []

    @classmethod
    def start(cls, tmp: Path | None) -> PostgresServer:
        bindir = postgres_bin()
        if bindir is None:
            raise Unavailable("initdb not found (apt-get install postgresql)")
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable(
                    "running as root and no `postgres` user to own a cluster"
                ) from None
        base = Path(tempfile.mkdtemp(prefix="bench-exports-pg-", dir=tmp))
        if owner:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        server = cls(base, bindir, port, owner)
        options = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
        data, log = base / "data", base / "server.log"
        steps: list[list[str | Path]] = [
            ["initdb", "-D", data, "-U", "shardgen", "--auth=trust", "-E", "UTF8", "--locale=C",
             "--no-sync"],
            ["pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"],
        ]  # fmt: skip
        for name, *step in steps:
            failed = server.program(str(name), *step)
            if failed:
                server_log = log.read_text() if log.exists() else ""
                shutil.rmtree(base, ignore_errors=True)
                raise Unavailable(f"{name} failed: {failed} {server_log}".strip())
        return server

    def program(self, name: str, *args: str | Path) -> str:
        """Run one of the server's programs as the cluster's owner; its error, or ''."""
        done = subprocess.run(  # cwd: a folder the `postgres` user may enter
            [*self.as_owner, str(self.bindir / name), *map(str, args)],
            capture_output=True, text=True, check=False, cwd=self.base,
        )  # fmt: skip
        if done.returncode == 0:
            return ""
        return done.stderr.strip() or f"exit {done.returncode}"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://shardgen@127.0.0.1:{self.port}/{database}"

    @contextlib.contextmanager
    def database(self, name: str) -> Iterator[str]:
        """A new, empty database, dropped afterwards; yields its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            with psycopg.connect(self.url(), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")

    def readable(self, folder: Path) -> None:
        """Let the server read `folder` and its files."""
        if self.owner:
            for path in (folder, *folder.iterdir()):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)

    def stop(self) -> None:
        self.program("pg_ctl", "-D", self.base / "data", "-m", "fast", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


# -- the floors ----------------------------------------------------------------------


def sqlite_counts(path: Path) -> dict[str, int]:
    """Rows of each table of a SQLite file."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in names
            if not name.startswith("sqlite_")
        }


def parents_first(db: sqlite3.Connection, tables: list[str]) -> list[str]:
    """`tables` ordered so that every table comes after those it references."""
    parents = {
        t: {row[2] for row in db.execute(f'PRAGMA foreign_key_list("{t}")')} - {t} for t in tables
    }
    ordered: list[str] = []
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in ordered and parents[t] <= set(ordered)]
        if not ready:
            raise BenchmarkError(f"the SQLite export's foreign keys form a cycle: {parents}")
        ordered.extend(ready)
    return ordered


def sqlite_floor(exported: Path, out: Path) -> tuple[float, bool]:
    """Seconds to fill a fresh file `out` with the export's DDL by INSERT … SELECT
    from the attached export, and whether SQLite copied the records as they are
    (its transfer optimisation) rather than row by row."""
    with contextlib.closing(sqlite3.connect(exported)) as source:
        schema = source.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        ).fetchall()
        tables = parents_first(source, [name for kind, name, _ in schema if kind == "table"])
    ddl = {name: sql for kind, name, sql in schema if kind == "table"}
    indexes = [sql for kind, _, sql in schema if kind == "index"]
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    db = sqlite3.connect(out, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute('ATTACH DATABASE ? AS "copy"', (str(exported),))
        db.execute("BEGIN")
        for name in tables:
            db.execute(ddl[name])
        inserts = [f'INSERT INTO main."{t}" SELECT * FROM "copy"."{t}"' for t in tables]
        for insert in inserts:
            db.execute(insert)
        for index in indexes:
            db.execute(index)
        db.execute("COMMIT")
        seconds = time.perf_counter() - started
        # The plan of the first INSERT, after the fact: SQLite compiles its
        # transfer path (reading whole records: RowData, or RowCell) beside the
        # row-by-row one, and takes it when the destination is empty, as here.
        plan = {row[1] for row in db.execute(f"EXPLAIN {inserts[0]}")}
        transfer = bool(plan & {"RowData", "RowCell"})
    finally:
        db.close()
    return seconds, transfer


@dataclass
class ParquetFloor:
    """What the Parquet floor needs: the exported files' tables in memory (by
    their path in the export: a table's file, or, partitioned, each shard's
    file in its table's folder), and how they were written."""

    tables: dict[str, Any]
    compression: str
    row_group_size: int

    @classmethod
    def read(cls, exported: Path) -> ParquetFloor:
        import pyarrow.parquet as pq

        tables, compression, row_group = {}, "snappy", 1
        for path in sorted(exported.glob("*.parquet")):
            # A file per table, or a partitioned dataset's folder of a file per shard.
            for file in sorted(path.glob("*.parquet")) if path.is_dir() else [path]:
                tables[str(file.relative_to(exported))] = pq.read_table(file)
                meta = pq.read_metadata(file)
                for i in range(meta.num_row_groups):
                    row_group = max(row_group, meta.row_group(i).num_rows)
                    compression = meta.row_group(i).column(0).compression
        return cls(tables, compression.lower().replace("uncompressed", "none"), row_group)

    def rows(self) -> dict[str, int]:
        """Rows per table (a partitioned table's files summed)."""
        counts: dict[str, int] = {}
        for name, arrow in self.tables.items():
            table = Path(name.split("/")[0]).stem
            counts[table] = counts.get(table, 0) + int(arrow.num_rows)
        return counts

    def write(self, out: Path) -> float:
        """Seconds to write every file again into the folder `out`, as the
        export laid them out."""
        import pyarrow.parquet as pq

        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        for folder in {Path(name).parent for name in self.tables} - {Path(".")}:
            (out / folder).mkdir()
        started = time.perf_counter()
        for name, arrow in self.tables.items():
            pq.write_table(
                arrow,
                out / name,
                compression=self.compression,
                row_group_size=self.row_group_size,
            )
        return time.perf_counter() - started


def postgres_floor(url: str, files: Path) -> tuple[float, dict[str, int]]:
    """Seconds to load the CSV files into the export's DDL on one connection, in one
    transaction: tables, server-side COPY, then keys; and the rows COPY loaded."""
    import psycopg
    from psycopg import sql

    tables_ddl, keys_ddl = postgres_ddl()
    loads = []
    for name in re.findall(r"CREATE TABLE (\w+)", tables_ddl):
        path = files / f"{name}.csv"
        with open(path, newline="", encoding="utf-8") as file:
            header = next(csv.reader(file))
        copy = sql.SQL("COPY {} ({}) FROM {} WITH (FORMAT csv, HEADER)").format(
            sql.Identifier(name),
            sql.SQL(", ").join(map(sql.Identifier, header)),
            sql.Literal(str(path)),
        )
        loads.append((name, copy))
    loaded = {}
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(tables_ddl)
        for name, copy in loads:
            cursor.execute(copy)
            loaded[name] = cursor.rowcount
        cursor.execute(keys_ddl)
        conn.commit()
        seconds = time.perf_counter() - started
    return seconds, loaded


def duckdb_floor(parquet: Path, out: Path) -> tuple[float, dict[str, int]]:
    """Seconds to fill a fresh DuckDB file `out` with the export's DDL by
    INSERT … SELECT from the Parquet export's files in `parquet`, parents
    first, in one transaction, checkpointed; and the rows of each table."""
    import duckdb

    from shardgen.exports import ddl
    from shardgen.tables import REGISTRY

    out.unlink(missing_ok=True)
    started = time.perf_counter()
    db = duckdb.connect(str(out))
    try:
        db.execute("BEGIN")
        db.execute(ddl.create_tables("duckdb"))
        for table in REGISTRY:
            db.execute(f"INSERT INTO {table} SELECT * FROM read_parquet(?)", [
                str(parquet / f"{table}.parquet")
            ])  # fmt: skip
        db.execute("COMMIT")
        db.execute("CHECKPOINT")
        seconds = time.perf_counter() - started
        counts = {
            t: int(db.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in REGISTRY
        }
    finally:
        db.close()
    return seconds, counts


def duckdb_counts(path: Path) -> dict[str, int]:
    """Rows of each table of a DuckDB export."""
    import duckdb

    from shardgen.tables import REGISTRY

    db = duckdb.connect(str(path), read_only=True)
    try:
        return {t: int(db.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in REGISTRY}
    finally:
        db.close()


# -- one floor, in a process of its own ------------------------------------------------


def run_floor(name: str, source: Path, scratch: Path, url: str = "") -> dict[str, Any]:
    """Run the floor of target `name` on `source` (what its export wrote, or,
    for duckdb the Parquet export's files, for postgres the CSV export's),
    writing into the folder `scratch` (emptied after) or, for postgres, the
    database at `url`: its seconds, the rows of each table it loaded, and a
    note on how it ran."""
    scratch.mkdir(parents=True, exist_ok=True)
    detail = ""
    try:
        if name == "sqlite":
            out = scratch / "floor.sqlite"
            seconds, transfer = sqlite_floor(source, out)
            rows = sqlite_counts(out)
            detail = (
                "SQLite's transfer optimisation: records and unique indexes copied as they are, "
                "CHECK constraints not evaluated"
                if transfer
                else "row by row"
            )
        elif name in ("parquet", "parquet-partitioned"):
            tables = ParquetFloor.read(source)
            rows = tables.rows()
            seconds = tables.write(scratch / "floor-parquet")
            detail = f"{tables.compression}, row groups of up to {tables.row_group_size:,} rows"
        elif name == "duckdb":
            seconds, rows = duckdb_floor(source, scratch / "floor.duckdb")
            detail = "DuckDB checks every key and CHECK as rows arrive"
        elif name == "postgres":
            seconds, rows = postgres_floor(url, source)
        else:
            raise BenchmarkError(f"{name} has no floor: choose from {', '.join(FLOORS)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"seconds": seconds, "rows": rows, "detail": detail}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one export target's floor; print JSON.")
    parser.add_argument("name", choices=list(FLOORS))
    parser.add_argument("source", type=Path, help="the files the floor loads")
    parser.add_argument("scratch", type=Path, help="a folder to write into (emptied after)")
    parser.add_argument("url", nargs="?", default="", help="postgres: the database to load")
    args = parser.parse_args(argv)
    print(json.dumps(run_floor(args.name, args.source, args.scratch, args.url)))
    return 0


if __name__ == "__main__":
    raise SystemExit(measure.main_wrapper(main))
