"""The forkserver every worker process is forked from, started once per
command: by the `Pool` that first needs it, or, for the commands that run
workers, as the command starts (`early`), so that the server's start (a new
interpreter importing shardgen, a few tenths of a second) overlaps the
command's own imports and set-up instead of following them.

Light on purpose: the package imports it before anything else.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence

#: The module whose tasks a command's first pool runs (the server preloads
#: it). Not `advance`: its pool verifies after the days, which take seconds,
#: and a server started at once would only add its memory to theirs (xl:
#: 22 MB, the tree's peak from 278 to 300 MB).
FIRST_POOL = {
    "generate": "shardgen.run.shards",
    "verify": "shardgen.verification.tasks",
    "export": "shardgen.exports.parallel",
}


def start(preload: str | None = None) -> None:
    """Start the forkserver (if it is not running; preloading `preload` if
    given) with Ctrl-C ignored and standard error at /dev/null, which the
    workers it forks inherit.

    The terminal's Ctrl-C reaches the whole process group, the forkserver too,
    while it still imports its preload (before it ignores SIGINT itself); and a
    worker being forked as the coordinator stops fails to unpickle what the
    pool already released. Either printed a traceback beside the one-line
    message. Workers report through their results (with --debug, their
    tracebacks), never on standard error.
    """
    from multiprocessing import forkserver

    if preload is not None:
        multiprocessing.get_context("forkserver").set_forkserver_preload([preload])
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        forkserver.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        if main:
            signal.signal(signal.SIGINT, previous)


def early(words: Sequence[str]) -> None:
    """Start the forkserver for the command `words` name (the `shardgen`
    command's arguments), if it runs workers; its help does not. A server
    that cannot start now is started, or reported, by the command's pool."""
    preload = FIRST_POOL.get(words[0]) if words else None
    if preload is None or {"-h", "--help"} & set(words):
        return
    with contextlib.suppress(OSError):  # the pool tries again, and says why
        start(preload)
