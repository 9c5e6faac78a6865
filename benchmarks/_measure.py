"""What every benchmark script shares: round-robin order, medians, spreads, the machine line."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

PACKAGES = ("asyncpage", "aiobotocore", "botocore", "boto3", "aiohttp", "anyio", "moto")


@dataclass
class Sample:
    """One contender's measurements, one entry per repetition."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def rotations(names: Sequence[str], reps: int) -> Iterator[tuple[int, list[str]]]:
    """``(repetition, order)``: every name once per repetition, starting one further each time.

    Rotating the order spreads slow moments of a shared machine over all contenders instead
    of always hitting the one that runs at the same position.
    """
    names = list(names)
    for rep in range(reps):
        shift = rep % len(names)
        yield rep, names[shift:] + names[:shift]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], unit: float = 1.0, digits: int = 3) -> str:
    """``min-max``, scaled by ``unit`` (1e3 for milliseconds)."""
    return f"{min(values) * unit:.{digits}f}-{max(values) * unit:.{digits}f}"


def machine() -> str:
    """Date, CPUs, Python and package versions, load average: the line above every table."""
    model = platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in PACKAGES)
    return (
        f"{dt.date.today().isoformat()}, {os.cpu_count()} CPUs ({model}), "
        f"Python {platform.python_version()}, {versions}; load average at start "
        f"{load()}"
    )


def load() -> str:
    """The 1-minute load average (other work on the machine), for the record."""
    return f"{os.getloadavg()[0]:.2f}"
