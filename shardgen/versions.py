"""The versions recorded with every run: the data depends on them."""

from __future__ import annotations

import platform
from importlib import metadata

from .schema import SCHEMA_VERSION, Versions

__version__ = "0.1.0"


def versions() -> Versions:
    return Versions(
        shardgen=__version__,
        schema=SCHEMA_VERSION,
        python=platform.python_version(),
        faker=metadata.version("faker"),
        msgspec=metadata.version("msgspec"),
        lmdb=metadata.version("lmdb"),
    )
