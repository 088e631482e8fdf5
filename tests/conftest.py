"""Shared fixtures: real stores in temporary folders, never mocks."""

from __future__ import annotations

import contextlib
import os
import pty
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

import shardgen
from shardgen.pipeline import Summary

if TYPE_CHECKING:
    from playwright.sync_api import Browser

AS_OF = "2026-06-30"


def on_terminal(*args: str | Path) -> tuple[int, str]:
    """`python -m shardgen ARGS` with its standard error on a terminal (a
    pseudo-terminal, as a user's shell gives it): its exit code and what it
    showed there."""
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "shardgen", *map(str, args)],
            stderr=follower, stdout=subprocess.PIPE, text=True, timeout=300, check=False,
        )  # fmt: skip
        os.close(follower)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once everything written is read
            while chunk := os.read(leader, 65536):
                shown += chunk
    finally:
        os.close(leader)
    return done.returncode, shown.decode()


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dataset (seed 42), generated once per session; treat as read-only."""
    path = tmp_path_factory.mktemp("small") / "small.lmdb"
    shardgen.generate("small", seed=42, as_of=AS_OF, out=path, workers=1)
    return path


@pytest.fixture(scope="session")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Summary]:
    """A large dataset (seed 7) made by two workers; treat as read-only."""
    path = tmp_path_factory.mktemp("large") / "large.lmdb"
    summary = shardgen.generate("large", seed=7, as_of=AS_OF, out=path, workers=2)
    return path, summary


Make = Callable[..., tuple[Path, Summary]]


@pytest.fixture
def make_store(tmp_path: Path) -> Make:
    """Generate a store into this test's temporary folder."""
    counter = iter(range(1000))

    def make(volume: str | None = "small", **options: object) -> tuple[Path, Summary]:
        path = tmp_path / f"store{next(counter)}.lmdb"
        options.setdefault("as_of", AS_OF)
        options.setdefault("workers", 1)
        summary = shardgen.generate(volume, out=path, **options)  # type: ignore[arg-type]
        return path, summary

    return make


# -- a throwaway PostgreSQL server ---------------------------------------------


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs: on PATH, or Debian's newest."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def _unavailable(reason: str, tests: str = "PostgreSQL tests") -> NoReturn:
    """Fail in CI, where tools/test installs what `tests` need (.ci/run); skip
    elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{tests} cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"{tests} cannot run here: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster in a temporary folder, on loopback, for this session.

    Yields the URL of a superuser `shardgen` without password. initdb refuses
    to run as root, so as root the cluster belongs to the `postgres` user.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    bindir = _postgres_bin()
    if bindir is None:
        _unavailable("initdb not found (apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="shardgen-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no `postgres` user to own the cluster")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    data, log = base / "data", base / "server.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    steps = [
        [bindir / "initdb", "-D", data, "-U", "shardgen", "--auth=trust", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        [bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"],
    ]  # fmt: skip
    for step in steps:
        done = subprocess.run(  # cwd: the checkout may be closed to the `postgres` user
            [*as_owner, *map(str, step)], capture_output=True, text=True, check=False, cwd=base
        )
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            shutil.rmtree(base, ignore_errors=True)
            _unavailable(f"{Path(step[0]).name} failed: {done.stderr.strip()} {server_log}")
    try:
        yield f"postgresql://shardgen@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, check=False, cwd=base,
        )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A new, empty database on `server`, dropped afterwards; yields its URL."""
    import psycopg

    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server, for one test."""
    with scratch_database(postgres_server) as url:
        yield url


@pytest.fixture(scope="session")
def reference_db(
    large_store: tuple[Path, Summary], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The SQLite export of the large store: what the other targets are
    compared with."""
    path, summary = large_store
    target = tmp_path_factory.mktemp("reference") / "large.sqlite"
    assert shardgen.export(path, format="sqlite", to=target) == summary.rows
    return target


@pytest.fixture(scope="session")
def reference(reference_db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The SQLite export of the large store, as canonical rows (`read_sqlite`)."""
    from .test_exports_files import read_sqlite

    return read_sqlite(reference_db)


# -- a headless browser ---------------------------------------------------------

TOOLS = Path(__file__).resolve().parent.parent / "tools"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright as tools/screenshot_report.py
    drives it: one browser for a test module, closed after it."""
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    import screenshot_report

    tests = "Browser tests"
    try:
        from playwright.sync_api import Error as BrowserError
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')", tests)
    executable = screenshot_report.find_chromium()
    if executable is None:
        _unavailable("Chromium not found (apt-get install chromium)", tests)
    with contextlib.ExitStack() as stack:
        try:
            opened = stack.enter_context(screenshot_report.chromium(executable))
        except BrowserError as error:
            _unavailable(f"{executable} failed: {screenshot_report.first_line(error)}", tests)
        yield opened
