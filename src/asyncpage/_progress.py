"""What ``asyncpage inventory`` shows on stderr: live progress and the closing summary.

Three displays share one interface (:class:`Display`): :class:`LiveLine` redraws one line in
place on a terminal, :class:`FinishLines` prints a plain line as each source finishes (for
logs and pipes), :class:`NoDisplay` prints nothing. :func:`refresh` feeds one of them
from a snapshot function about five times a second; :func:`format_summary` renders the
table printed at the end. :class:`SeedDisplay` shows the demo's seeding, before all that.
Plain text and ANSI only: no dependencies.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final, Protocol, TextIO

import anyio

from ._demo import SeedProgress
from ._inventory import GLOBAL_REGION, SourceState, Status

__all__ = [
    "Display",
    "FinishLines",
    "LiveLine",
    "NoDisplay",
    "SeedDisplay",
    "format_summary",
    "refresh",
    "refresh_interval",
]

REFRESH_SECONDS: Final = 0.2
_SOURCES_PER_SECOND: Final = 2_000
_CLEAR_LINE: Final = "\r\x1b[2K"


class Display(Protocol):
    """Something that shows the sources' progress; told about every refresh and the end."""

    def update(self, states: Sequence[SourceState], elapsed: float) -> None:
        """Show ``states`` (every source, plan order), ``elapsed`` seconds into the run."""

    def close(self) -> None:
        """Leave the stream clean for what is printed next (the summary)."""

    def print_above(self, write: Callable[[], None]) -> None:
        """Call ``write``, which prints to the same terminal, clear of the display."""


class NoDisplay:
    """Shows nothing (``--no-progress``)."""

    def update(self, states: Sequence[SourceState], elapsed: float) -> None:
        pass

    def close(self) -> None:
        pass

    def print_above(self, write: Callable[[], None]) -> None:
        write()


class LiveLine:
    """One status line on a terminal, redrawn in place (``\\r`` and erase-line).

    Shows the counts of finished, running and waiting sources, resources, pages, retries
    and throttles, then the running sources as fit the terminal's width. Output printed to
    the same terminal goes through :meth:`print_above`, which keeps the line below it.
    """

    def __init__(self, stream: TextIO, *, width: Callable[[], int] | None = None) -> None:
        self._stream = stream
        self._width = width or (lambda: shutil.get_terminal_size().columns)
        self._drawn = False
        self._line = ""

    def update(self, states: Sequence[SourceState], elapsed: float) -> None:
        self._line = self.render(states, elapsed, self._width() - 1)
        self._draw()

    def _draw(self) -> None:
        self._stream.write(_CLEAR_LINE + self._line)
        self._stream.flush()
        self._drawn = True

    def print_above(self, write: Callable[[], None]) -> None:
        """Erase the line, call ``write`` (it prints whole lines), then draw the line again.

        Without it, what ``write`` prints would start after the status line's last
        character, on the same row.
        """
        if not self._drawn:
            write()
            return
        self.close()
        try:
            write()
        finally:
            self._draw()

    @staticmethod
    def render(states: Sequence[SourceState], elapsed: float, width: int) -> str:
        """The status line, at most ``width`` characters."""
        done = sum(state.finished for state in states)
        running = [state for state in states if state.status == "running"]
        failed = sum(state.status == "failed" for state in states)
        retries = sum(state.statistics.retries for state in states)
        throttles = sum(state.statistics.throttles for state in states)
        parts = [
            f"{elapsed:4.1f}s",
            f"{done}/{len(states)} done",
            f"{len(running)} running",
            f"{sum(state.items for state in states):,} items",
            f"{sum(state.pages for state in states):,} pages",
            f"{retries} retries ({throttles} throttled)",
        ]
        if failed:
            parts.append(f"{failed} FAILED")
        line = "  ".join(parts)
        if running:
            line += "  | " + ", ".join(
                f"{s.key.service} {s.key.region}{' ' + s.key.account if s.key.account else ''}"
                for s in running
            )
        return line if len(line) <= width else line[: max(0, width - 1)] + "…"

    def close(self) -> None:
        if self._drawn:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._drawn = False


class FinishLines:
    """One plain line per source as it finishes: for logs, pipes and CI."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._reported: set[object] = set()

    def update(self, states: Sequence[SourceState], elapsed: float) -> None:
        for state in states:
            if state.finished and state.status != "cancelled" and state.key not in self._reported:
                self._reported.add(state.key)
                self._stream.write(f"[{elapsed:6.1f}s] {_finish_line(state)}\n")
        self._stream.flush()

    def close(self) -> None:
        pass

    def print_above(self, write: Callable[[], None]) -> None:
        write()


def _finish_line(state: SourceState) -> str:
    key = state.key
    items, pages = state.items, state.pages
    what = f"{items} item{'s' * (items != 1)}, {pages} page{'s' * (pages != 1)}"
    if state.statistics.retries:
        what += f", {state.statistics.retries} retries"
    where = f"{key.region} {key.account}" if key.account else key.region
    line = f"{state.status:<7} {key.service}.{key.operation} {where}: {what}"
    return f"{line} ({state.error})" if state.error else line


def refresh_interval(sources: int) -> float:
    """Seconds between refreshes: :data:`REFRESH_SECONDS`, longer for thousands of sources.

    A refresh reads every source's state: at 2,400 sources about 10 ms of CPU (measured
    mid-run, load 11), 5% of a core at five refreshes a second; an organization-sized run
    refreshes about once a second instead.
    """
    return max(REFRESH_SECONDS, sources / _SOURCES_PER_SECOND)


async def refresh(
    display: Display,
    snapshot: Callable[[], tuple[Sequence[SourceState], float]],
    *,
    interval: float = REFRESH_SECONDS,
) -> None:
    """Update ``display`` from ``snapshot()`` every ``interval`` seconds, until cancelled."""
    while True:
        display.update(*snapshot())
        await anyio.sleep(interval)


class SeedDisplay:
    """The demo's seeding on stderr: one status line on a terminal, a line a step otherwise.

    ``update`` takes each :class:`~asyncpage._demo.SeedProgress`; on a terminal, ``tick``
    redraws the line with the time (call it a few times a second: moto's start and its
    first use of each service take seconds with nothing to report), ``close`` erases it.
    """

    def __init__(
        self, stream: TextIO, *, live: bool, width: Callable[[], int] | None = None
    ) -> None:
        self._stream = stream
        self._live = live
        self._width = width or (lambda: shutil.get_terminal_size().columns)
        self._started = time.monotonic()
        self._last: SeedProgress | None = None
        self._resources = 0
        self._drawn = False

    def update(self, progress: SeedProgress) -> None:
        self._last = progress
        self._resources += sum(progress.created.values())
        if self._live:
            self.tick()
        else:
            self._stream.write(f"[{self._elapsed():6.1f}s] {seed_step_line(progress)}\n")
            self._stream.flush()

    def tick(self) -> None:
        if not self._live:
            return
        last = self._last
        line = f"{self._elapsed():4.1f}s  seeding the demo, "
        if last is None:
            line += "starting moto"
        else:
            line += f"{self._resources:,} made  | {seed_step_line(last)}"
        width = self._width() - 1
        line = line if len(line) <= width else line[: max(0, width - 1)] + "…"
        self._stream.write(_CLEAR_LINE + line)
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._drawn = False

    def _elapsed(self) -> float:
        return time.monotonic() - self._started


def seed_step_line(progress: SeedProgress) -> str:
    """``seeded 12/33: s3 us-east-1 (3 buckets, 250 objects)``."""
    width = len(str(progress.total))
    line = f"seeded {progress.done:>{width}}/{progress.total}: "
    if progress.step == "moto":
        return line + "moto loaded its service models"
    if progress.step == "organization":
        return line + "the organization and its member accounts (AssumeRole into each)"
    made = ", ".join(
        _count(count, resource.partition(".")[2].replace("_", " "))
        for resource, count in progress.created.items()
    )
    return f"{line}{progress.step} ({made or 'nothing'})"


def _count(count: int, plural: str) -> str:
    return f"{count:,} {plural if count != 1 else plural.removesuffix('s')}"


_COLUMNS: Final = (
    ("REGION", "<"),
    ("OPERATION", "<"),
    ("ITEMS", ">"),
    ("PAGES", ">"),
    ("RETRIES", ">"),
    ("THROTTLES", ">"),
    ("SECONDS", ">"),
    ("OUTCOME", "<"),
)


def format_summary(states: Sequence[SourceState], elapsed: float) -> str:
    """The closing table: one row per region and operation, a total row, then the reasons.

    Rows are sorted by region (``global`` first), then by operation. ``SECONDS`` is each
    source's own time; the total row shows the run's wall time. ``ITEMS`` and ``PAGES`` are
    the whole run's (after ``--resume``, what earlier attempts stored too); ``RETRIES``,
    ``THROTTLES`` and ``SECONDS`` this attempt's.
    """
    ordered = sorted(
        states,
        key=lambda s: (s.key.account, s.key.region != GLOBAL_REGION, s.key.region, s.key.service),
    )
    accounts = list(dict.fromkeys(state.key.account for state in states if state.key.account))
    rows = [
        [
            f"{state.key.account}/{state.key.region}" if state.key.account else state.key.region,
            f"{state.key.service}.{state.key.operation}",
            f"{state.items:,}",
            f"{state.pages:,}",
            f"{state.statistics.retries:,}",
            f"{state.statistics.throttles:,}",
            f"{state.seconds:.2f}",
            state.status,
        ]
        for state in ordered
    ]
    statuses = Counter(state.status for state in states)
    order: tuple[Status, ...] = ("ok", "skipped", "failed", "cancelled", "running", "waiting")
    rows.append(
        [
            "total",
            f"{len(states)} source{'s' * (len(states) != 1)}",
            f"{sum(s.items for s in states):,}",
            f"{sum(s.pages for s in states):,}",
            f"{sum(s.statistics.retries for s in states):,}",
            f"{sum(s.statistics.throttles for s in states):,}",
            f"{elapsed:.2f}",
            ", ".join(f"{statuses[name]} {name}" for name in order if statuses[name]),
        ]
    )
    header = [name for name, _ in _COLUMNS]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(_COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        text = "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(cells, _COLUMNS, widths, strict=True)
        )
        return text.rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [line(header), rule, *(line(row) for row in rows[:-1]), rule, line(rows[-1])]
    if accounts:
        lines += ["", *_account_totals(accounts, states)]
    reasons = [s for s in ordered if s.error and s.status in ("failed", "skipped")]
    if reasons:
        lines.append("")
        lines += [
            f"{s.status} {s.key.account + '/' if s.key.account else ''}{s.key.region} "
            f"{s.key.service}.{s.key.operation}: {s.error}"
            for s in reasons
        ]
    return "\n".join(lines)


def _account_totals(accounts: Sequence[str], states: Sequence[SourceState]) -> list[str]:
    """One line per account: its sources, items, pages, retries and outcomes."""
    order: tuple[Status, ...] = ("ok", "skipped", "failed", "cancelled", "running", "waiting")
    header = ["ACCOUNT", "SOURCES", "ITEMS", "PAGES", "RETRIES", "OUTCOME"]
    rows = [header]
    for account in accounts:
        mine = [state for state in states if state.key.account == account]
        statuses = Counter(state.status for state in mine)
        rows.append(
            [
                account,
                f"{len(mine)}",
                f"{sum(s.items for s in mine):,}",
                f"{sum(s.pages for s in mine):,}",
                f"{sum(s.statistics.retries for s in mine):,}",
                ", ".join(f"{statuses[name]} {name}" for name in order if statuses[name]),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    aligns = ["<", ">", ">", ">", ">", "<"]
    return [
        "  ".join(
            f"{cell:{align}{width}}" for cell, align, width in zip(row, aligns, widths, strict=True)
        ).rstrip()
        for row in rows
    ]
