"""Run ``python -m asyncpage inventory --db ... --resume`` until it finishes, killing it
with SIGKILL at random moments on the way: the crash tests of the store."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class KilledRuns:
    """What :func:`kill_and_resume` saw."""

    kills: list[tuple[float, int]] = field(default_factory=list)
    """(seconds after the store opened, what ``measure`` said right after the kill)"""
    store_line: str = ""
    """The last attempt's ``store ...`` line (``resuming run 1: ...``)."""
    err: str = ""
    """The last attempt's stderr after that line: its summary."""
    status: int | None = None
    """The last attempt's exit status."""


def kill_and_resume(
    arguments: Sequence[str],
    *,
    rng: random.Random,
    measure: Callable[[], int],
    kills: int = 4,
    delay: tuple[float, float] = (0.0, 0.8),
    attempts: int = 12,
    timeout: float = 120,
    midway: tuple[Path, int] | None = None,
) -> KilledRuns:
    """Start the inventory (``arguments`` after ``python -m asyncpage``), and kill it
    ``kills`` times, each a random ``delay`` after it opened its store; then let the next
    attempt finish. ``measure`` is called after each kill (the rows stored, say).

    With ``midway=(db, total)`` the first kill lands instead when the store ``db`` holds a
    random number of rows between 1 and half the ``total`` the run will store: however
    fast the machine lists, one kill cuts a listing half-way (a random delay alone can
    fall after the listing finished, while its process is still ending)."""
    command = [sys.executable, "-m", "asyncpage", *arguments]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    seen = KilledRuns()
    for _ in range(attempts):
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        line = process.stderr.readline()
        while line and not line.startswith("store "):
            line = process.stderr.readline()
        seen.store_line = line
        if len(seen.kills) < kills:
            if midway is not None and not seen.kills:
                wait = _until_stored(process, *midway, target=rng.randint(1, midway[1] // 2))
            else:
                wait = rng.uniform(*delay)
                time.sleep(wait)  # the random moment itself, not a stand-in for "in flight"
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                process.stderr.close()
                seen.kills.append((wait, measure()))
                continue
        _, seen.err = process.communicate(timeout=timeout)
        seen.status = process.returncode
        break
    return seen


def _until_stored(process: subprocess.Popen[str], db: Path, total: int, *, target: int) -> float:
    """Wait until the store ``db`` holds ``target`` rows (or ``process`` ended); the
    seconds waited. The rows committed are the signal that the run is midway: the store is
    read every few milliseconds, each read its own short transaction."""
    assert 0 < target < total
    start = time.monotonic()
    while process.poll() is None and stored(db) < target:
        time.sleep(0.002)
    return time.monotonic() - start


def stored(db: Path) -> int:
    """How many resources the store ``db`` holds (0 before its tables exist)."""
    connection = sqlite3.connect(db, timeout=10)
    try:
        return int(connection.execute("SELECT count(*) FROM resources").fetchone()[0])
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return 0
        raise
    finally:
        connection.close()
