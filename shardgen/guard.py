"""Guard: the one place that decides what shardgen may create, replace or remove.

Every path a command writes, truncates, renames or deletes is checked or made
here (DESIGN.md, "Safety: what no command may do"):

- never the store being read, its companion files, or a folder holding it
  (`report --html`, `export --to`);
- never a shardgen store, unless it is the named target of `generate` or
  `reset` (an export or a report refuses one even with --force);
- never an existing file or folder shardgen did not create, unless --force
  names it;
- never through a symbolic link: files are created with O_EXCL | O_NOFOLLOW,
  and a link where shardgen would write or delete is refused, not followed;
- one writer per target: a lock file beside it (`Lock`), so two runs or two
  exports onto one target cannot both write it.

What shardgen makes beside a target while writing it, `.NAME.PID.partial`
(and a scratch folder, `.NAME.PID.parts`), is removed when the command ends,
and by the next command writing the same target if its process was killed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import re
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import LockedError, RunError, StoreError, UsageError
from .store import companions, is_lmdb, lmdb_files, lock_path


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return path.lstat()
    except FileNotFoundError:
        return None


def refuse_link(path: Path, what: str = "") -> None:
    """Refuse a symbolic link at `path`: shardgen never writes or deletes through one.

    `what` names the option that gave the path; without it the path is one
    shardgen keeps beside a store, where only a stranger puts a link.
    """
    if not path.is_symlink():
        return
    if what:
        raise UsageError(
            f"{what} {path} is a symbolic link, which shardgen does not write through: give "
            f"the path it points to ({os.path.realpath(path)}) or another path"
        )
    raise UsageError(
        f"{path} is a symbolic link, which shardgen did not make and does not follow: "
        "remove the link (not what it points to) and run the command again"
    )


def refuse_write_protected(path: Path, to_let: str, otherwise: str = "") -> None:
    """Refuse to replace or remove a store whose owner made it read-only (no
    write permission for anyone, as `chmod a-w` leaves it): as `rm` asks
    before it removes a write-protected file, shardgen leaves it and says how
    to allow it. The mode is what counts, so root is refused too. `to_let`
    says what the advice allows ("shardgen advance replace it"); `otherwise`,
    what else the user can do."""
    info = _lstat(path)
    if info is not None and stat.S_ISREG(info.st_mode) and not info.st_mode & 0o222:
        raise UsageError(
            f"{path} is write-protected: run `chmod u+w {path}` to let {to_let}"
            + (f", or {otherwise}" if otherwise else "")
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    target: Path,
    *,
    what: str,
    source: Path | None,
    force: bool,
    folder: bool = False,
    holds: frozenset[str] = frozenset(),
) -> None:
    """Refuse an output path a command must not write (see the module's rules).

    `what` names the option in messages (`--to`, `--html`, `--out`); `source`
    is the store being read; `folder` says the output is a folder of files,
    which `--force` replaces only while it holds nothing but names in `holds`
    (the files the command writes there).
    """
    refuse_link(target, what)
    if source is not None:
        protected = [source, *companions(source)]
        if any(_same_file(target, p) or target.absolute() == p.absolute() for p in protected):
            raise UsageError(
                f"{what} {target} is the store being read ({source}): choose another path"
            )
        if (
            folder
            and target.is_dir()
            and Path(os.path.realpath(source)).is_relative_to(os.path.realpath(target))
        ):
            raise UsageError(
                f"{what} {target} holds the store being read ({source}): choose another folder"
            )
    parent = target.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"{what} {target}: the folder {parent} does not exist; create it first")
    if _lstat(target) is None:
        return
    if target.is_file() and is_lmdb(target):
        raise UsageError(
            f"{what} {target} is a shardgen store, which nothing but `shardgen generate` or "
            "`shardgen reset` replaces: choose another path"
        )
    if folder and not target.is_dir():
        raise UsageError(f"{what} {target} is a file: give a folder path")
    if not folder and target.is_dir():
        raise UsageError(f"{what} {target} is a folder: give a file path")
    if not force and not (folder and not any(target.iterdir())):
        raise UsageError(
            f"{what} {target} already exists: pass --force to replace it, or choose another path"
        )
    foreign = sorted(p.name for p in target.iterdir() if p.name not in holds) if folder else []
    if foreign:
        raise UsageError(
            f"{target} holds {foreign[0]!r}, which no export wrote: --force replaces only a "
            "folder of exported tables; give a new folder"
        )


# -- creating ----------------------------------------------------------------

#: Flags for a file shardgen creates: new, never through a link.
CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create(path: Path, mode: int = 0o644, *, readable: bool = False) -> int:
    """Create a new file and return its descriptor (for reading too, if
    `readable`); never opens an existing file or follows a link (a stale
    file of ours must be removed first)."""
    return os.open(path, CREATE & ~os.O_WRONLY | os.O_RDWR if readable else CREATE, mode)


def write_at(fd: int, data: bytes, at: int) -> None:
    """Write all of `data` at offset `at` (a short write, as on a disk filling
    up, is continued, and the next one raises)."""
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, at)
        view, at = view[done:], at + done


def copy_at(source: BinaryIO, fd: int, size: int, at: int, start: int = 0) -> None:
    """Copy `size` bytes of `source` from offset `start` to offset `at` of
    `fd`: by the kernel, without passing through this process, where it can."""
    copied = 0
    with contextlib.suppress(AttributeError, OSError):  # no copy_file_range: as below
        while copied < size:
            done = os.copy_file_range(
                source.fileno(), fd, size - copied, start + copied, at + copied
            )
            if done == 0:
                break
            copied += done
    while copied < size:  # where the kernel cannot copy these files, or failed (this says why)
        chunk = os.pread(source.fileno(), min(size - copied, 1 << 20), start + copied)
        if not chunk:
            raise OSError(errno.EIO, f"{source.name} ended early")
        write_at(fd, chunk, at + copied)
        copied += len(chunk)


def partial_path(target: Path) -> Path:
    """Where a command writes `target` before renaming it into place."""
    target = target.absolute()
    return target.with_name(f".{target.name}.{os.getpid()}.partial")


def scratch_path(partial: Path) -> Path:
    """A scratch folder for the pieces of `partial` (a `partial_path`):
    `.NAME.PID.parts` beside it, so on the same disk, and removed as it is
    (`writing`, `remove_stale`). The caller creates it (`os.mkdir`)."""
    return partial.with_name(partial.name.removesuffix(".partial") + ".parts")


@contextlib.contextmanager
def writing(
    target: Path,
    *,
    what: str,
    source: Path | None,
    force: bool,
    folder: bool = False,
    holds: frozenset[str] = frozenset(),
    holder: str = "shardgen",
) -> Iterator[Path]:
    """Write an output the safe way: checked (`check_output`), then checked
    again under the target's `Lock`; the block writes the path this yields
    (beside the target, not yet there: a file or a folder to create), which
    is put in place when the block ends (`place`; replacing only with
    `force`). An OS error is one line (`cannot_write`); nothing half-written
    is left, and leftovers of killed commands are removed first."""
    check = functools.partial(
        check_output, target, what=what, source=source, force=force, folder=folder, holds=holds
    )
    check()
    with Lock.beside(target, holder):
        check()  # again: another command may have written it meanwhile
        remove_stale(target)
        partial = partial_path(target)
        try:
            yield partial
            place(partial, target.absolute(), replace=force)
        except OSError as exc:
            raise cannot_write(target, exc) from None
        finally:
            remove_ours(partial)
            remove_ours(scratch_path(partial))


def write_file(target: Path, data: bytes, *, what: str, source: Path | None, force: bool) -> None:
    """Write a whole file at `target` the safe way (`writing`)."""
    with (
        writing(target, what=what, source=source, force=force) as partial,
        open(create(partial), "wb") as file,
    ):
        file.write(data)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(target: Path) -> list[Path]:
    """Remove what killed commands left beside `target`: `.NAME.PID.partial`
    (and the `.wal` a database engine keeps beside one), `.NAME.PID.parts`
    and `.NAME.PID.old` of processes that no longer run. Links are left alone."""
    target = target.absolute()
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.(partial|partial\.wal|parts|old)")
    removed = []
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            found = pattern.fullmatch(entry.name)
            if found is None or _alive(int(found[1])) or entry.is_symlink():
                continue
            remove_ours(entry)
            removed.append(entry)
    return removed


def remove_ours(path: Path) -> None:
    """Remove a file or folder shardgen made; a link is removed, never followed."""
    info = _lstat(path)
    if info is None:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def place(partial: Path, target: Path, *, replace: bool) -> None:
    """Put a finished file or folder at `target`, atomically.

    Without `replace`, never over something that appeared meanwhile: a file
    is hard-linked into place (which fails if the name is taken); a folder is
    renamed only while the name is free (the target's `Lock` keeps other
    shardgen commands away meanwhile).
    """
    if partial.is_dir():
        if target.is_dir() and (replace or not any(target.iterdir())):
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            os.replace(target, old)
            try:
                os.replace(partial, target)
            except OSError:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        elif _lstat(target) is None:
            os.rename(partial, target)
        else:
            raise _appeared(target)
    elif replace:
        os.replace(partial, target)
    else:
        try:
            os.link(partial, target)
        except FileExistsError:
            raise _appeared(target) from None
        partial.unlink()
    sync_folder(target.absolute().parent)


def cannot_write(target: Path, exc: OSError) -> RunError:
    """An OS error while writing `target`, as one line with what to do."""
    if exc.errno == errno.ENOSPC:
        return RunError(
            f"cannot write {target}: no space left on the disk; free some space and run the "
            "command again (nothing was left half-written)"
        )
    return RunError(f"cannot write {target}: {exc.strerror or exc}")


def _appeared(target: Path) -> UsageError:
    return UsageError(
        f"{target} appeared while shardgen was writing it, and was left as it is: "
        "pass --force to replace it, or choose another path"
    )


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- stores -------------------------------------------------------------------


def remove_store(path: Path) -> list[Path]:
    """Delete a store file (or a staging store), its LMDB lock file and a
    catalog a killed run left; return what was removed.

    Refuses links and a file that is not a store: it only ever deletes what
    shardgen made (an empty file is what a run killed while creating its
    store leaves).
    """
    files = lmdb_files(path)
    for file in files:
        refuse_link(file)
    info = _lstat(path)
    foreign = info is not None and info.st_size > 0 and not is_lmdb(path)
    if info is not None and (not stat.S_ISREG(info.st_mode) or foreign):
        raise UsageError(
            f"{path} is not a shardgen store, so shardgen will not remove it: move it away "
            "if it is yours, and run the command again"
        )
    removed = []
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
            removed.append(file)
    return removed


def promote(staging: Path, target: Path) -> None:
    """Atomically replace `target` with the verified `staging` store."""
    os.replace(staging, target)
    with contextlib.suppress(FileNotFoundError):
        staging.with_name(staging.name + "-lock").unlink()
    sync_folder(target.absolute().parent)


def run_lock(target: Path, holder: str) -> Lock:
    """The lock of a store: held by `generate` (and `advance`) while it
    writes `PATH.staging` and promotes, and by `reset` while it removes."""
    advice = (
        "choose a writable --out"
        if holder.endswith("generate")
        else ("the folder must be writable")
    )
    return Lock(lock_path(target), holder=holder, advice=advice)


# -- locking ------------------------------------------------------------------


class Lock:
    """An exclusive lock on a target, held through a command (flock, so it
    dies with the process): `PATH.run-lock` for a store, `.NAME.lock` beside
    an export or report target (removed again afterwards).

    The lock file is opened without following links and must be a regular file.
    """

    def __init__(self, path: Path, *, holder: str, advice: str, remove: bool = False) -> None:
        self.path = path
        self.holder = holder  # "shardgen generate", "shardgen export", ...
        self.advice = advice  # what to do when the folder refuses the file
        self.remove = remove
        self.fd = -1

    @classmethod
    def beside(cls, target: Path, holder: str) -> Lock:
        target = target.absolute()
        return cls(
            target.with_name(f".{target.name}.lock"),
            holder=holder,
            advice="choose a path in a writable folder",
            remove=True,
        )

    def __enter__(self) -> Lock:
        while True:
            self.fd = self._open()
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(self.fd, 200).decode(errors="replace").strip()
                os.close(self.fd)
                target = self.path.name.removesuffix(".run-lock").removesuffix(".lock")
                raise LockedError(
                    f"another {holder or 'shardgen command'} is writing "
                    f"{target.removeprefix('.') if self.remove else target}: wait for it to "
                    "finish, or choose another path"
                ) from None
            # A lock file its last holder removed meanwhile locks nothing: again.
            now = _lstat(self.path)
            if now is not None and now.st_ino == os.fstat(self.fd).st_ino:
                break
            os.close(self.fd)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{self.holder} (pid {os.getpid()})".encode(), 0)
        return self

    def _open(self) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StoreError(
                    f"{self.path} is a symbolic link, which shardgen did not make and does not "
                    "follow: remove the link (not what it points to) and run the command again"
                ) from None
            raise StoreError(f"cannot create {self.path} ({exc.strerror}): {self.advice}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise StoreError(
                f"{self.path} is not a regular file, so not shardgen's lock file: move it "
                "away and run the command again"
            )
        return fd

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            if self.remove:
                self.path.unlink()
            else:
                os.ftruncate(self.fd, 0)
        os.close(self.fd)
