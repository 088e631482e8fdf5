"""Shared fixtures: real stores in temporary folders, never mocks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import shardgen
from shardgen.generate import Summary

AS_OF = "2026-06-30"


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
