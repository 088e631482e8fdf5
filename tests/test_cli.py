"""The CLI as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shardgen.cli import build_parser

from .conftest import AS_OF, on_terminal

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["generate", "advance", "verify", "stats", "report", "export", "log", "changes", "reset"]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "shardgen", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False,
    )  # fmt: skip


def test_every_command_has_help_and_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert sorted(subparsers.choices) == sorted(COMMANDS)  # type: ignore[union-attr]
    for command in COMMANDS:
        result = run(command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
        assert f"shardgen {command}" in readme, f"{command} is not in the README"


def test_generate_verify_export_log_reset(tmp_path: Path) -> None:
    out = tmp_path / "demo.lmdb"
    made = run("generate", "--seed", "3", "--as-of", AS_OF, "--out", out, "--workers", "2")
    assert made.returncode == 0, made.stderr
    digest = re.search(r"digest ([0-9a-f]{32})", made.stdout)
    assert digest and "customers" in made.stdout and "peak memory" in made.stdout

    checked = run("verify", out)
    assert checked.returncode == 0 and digest.group(1) in checked.stdout
    shared = run("verify", out, "--workers", "2")
    assert shared.returncode == 0 and digest.group(1) in shared.stdout
    report = json.loads(run("verify", out, "--json").stdout)
    assert report["ok"] is True and report["digest"] == digest.group(1)

    exported = run("export", out, "--format", "sqlite", "--to", tmp_path / "demo.sqlite")
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "demo.sqlite").stat().st_size > 0

    profile = run("stats", out)
    assert profile.returncode == 0 and "customers active %" in profile.stdout
    assert json.loads(run("stats", out, "--json").stdout)["rows"]["customers"] == 10

    log = run("log", out)
    assert log.returncode == 0 and "run_promoted" in log.stdout
    events = [json.loads(line) for line in run("log", out, "--json").stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_promoted"

    reset = run("reset", out)
    assert reset.returncode == 0 and not out.exists()


def test_default_store_path(tmp_path: Path) -> None:
    made = run("generate", "--as-of", AS_OF, "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["path"] == "shardgen.lmdb"
    assert (tmp_path / "shardgen.lmdb").exists()


def test_verify_exits_1_and_lists_violations(small_store: Path, tmp_path: Path) -> None:
    from .test_verification import corrupt

    path = corrupt(small_store, tmp_path, "invoices", 1, total=1)
    result = run("verify", path)
    assert result.returncode == 1
    assert "total = subtotal + tax_amount" in result.stdout and "invoices id 1" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["generate", "--volume", "huge"], 2, "invalid choice"),
        (["generate", "--customers", "0"], 2, "at least 1"),
        (["generate", "--customers", "-3"], 2, "at least 1"),
        (["generate", "--customers", "ten"], 2, "invalid int"),
        (["generate", "--seed", "-1"], 2, "--seed"),
        (["generate", "--seed", "1.5"], 2, "invalid int"),
        (["generate", "--as-of", "2026-02-30"], 2, "not a valid date"),
        (["generate", "--workers", "0"], 2, "--workers"),
        (["generate", "--out", "/nonexistent/dir/x.lmdb"], 2, "does not exist"),
        (["verify", "/nonexistent.lmdb"], 1, "no store"),
        (["verify", "/nonexistent.lmdb", "--workers", "0"], 2, "--workers"),
        (["export", "/nonexistent.lmdb", "--format", "xlsx", "--to", "x"], 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line_without_traceback(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_not_a_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    junk = tmp_path / "notes.lmdb"
    junk.write_bytes(os.urandom(8192))
    before = junk.read_bytes()
    for args in (["verify", junk], ["generate", "--out", junk], ["reset", junk]):
        result = run(*args)
        assert result.returncode == 1, result.stderr
        assert "not a shardgen store" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert junk.read_bytes() == before


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("--debug", "verify", tmp_path / "missing.lmdb")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_the_progress_line_says_when_verify_reads_the_store(
    small_store: Path, tmp_path: Path
) -> None:
    """On a terminal, generate and advance count their shards or days, then
    say that verify is reading the store (the part that follows the last
    one) instead of leaving "100%" or "0 s left" on the screen."""
    path = tmp_path / "s.lmdb"
    code, text = on_terminal("generate", "--volume", "small", "--out", path)
    assert code == 0
    shards = [line.strip() for line in text.split("\r") if "shards" in line]
    total = len(shards) - 1  # 0/N .. N/N
    assert total >= 2 and shards[0] == f"shards 0/{total} (0%)"
    assert shards[-1] == f"shards {total}/{total} (100%): verifying the dataset"
    assert not any("verifying" in line for line in shards[:-1])
    code, text = on_terminal("advance", path, "--days", "2")
    assert code == 0
    lines = [line.strip() for line in text.split("\r")]
    assert lines[1].startswith("day 1/2 (50%), ") and lines[1].endswith(" s of days left")
    assert lines[2].startswith("day 2/2 (100%): verifying the advanced store")
