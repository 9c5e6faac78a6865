"""The inventory store: SQLite rows plus each source's resume token, one transaction a page.

``asyncpage inventory --db PATH`` keeps what it lists here instead of (or beside) JSON
Lines. Three tables::

    runs       (id, started, finished, argv)             one row per run; finished is NULL
                                                         until every source is ok or skipped
    sources    (run, account, region, service, operation,
                status, pages, items, resume_token, error)   one row per source of a run
    resources  (account, region, service, operation, id,
                item, run)                               unique on (account, region, service,
                                                         operation, id); ``run`` last saw it

A page's resources and its source's next token are written in **one transaction**
(:meth:`Store.commit_page`): a crash at any instant leaves either both or neither, so a
resumed source continues from exactly the page after the last one stored. Resources are
upserted on their unique key, so even a page listed twice is stored once.

The connection is the standard library's :mod:`sqlite3` in WAL mode, used from worker
threads (``anyio.to_thread``) one call at a time, never on the event loop. ``synchronous``
is ``NORMAL``: a committed page survives the process being killed (``kill -9``); only a
power cut may lose the last commits, and never leaves the store inconsistent.
"""

from __future__ import annotations

import base64
import datetime
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import anyio
import anyio.to_thread

__all__ = [
    "Resumed",
    "SourceId",
    "SourcePages",
    "Store",
    "StoredSource",
    "encode_item",
    "json_encoder",
    "json_default",
]

T = TypeVar("T")

#: Statuses of a finished source: not listed again by ``--resume``.
FINISHED: Final = frozenset({"ok", "skipped"})

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    argv TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS sources (
    run INTEGER NOT NULL REFERENCES runs(id),
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'waiting',
    pages INTEGER NOT NULL DEFAULT 0,
    items INTEGER NOT NULL DEFAULT 0,
    resume_token TEXT,
    error TEXT,
    PRIMARY KEY (run, account, region, service, operation)
);
CREATE TABLE IF NOT EXISTS resources (
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    id TEXT NOT NULL,
    item TEXT NOT NULL,
    run INTEGER NOT NULL REFERENCES runs(id),
    UNIQUE (account, region, service, operation, id)
);
CREATE INDEX IF NOT EXISTS resources_by_run ON resources (run);
"""

_UPSERT: Final = (
    "INSERT INTO resources (account, region, service, operation, id, item, run)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (account, region, service, operation, id)"
    " DO UPDATE SET item = excluded.item, run = excluded.run"
)

#: (account, region, service, operation): how the store names a source.
SourceId = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class StoredSource:
    """A source as the store last recorded it."""

    status: str
    pages: int
    items: int
    resume_token: str | None
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class SourcePages:
    """Several pages of one source, as a worker sent them: for :meth:`Store.commit_pages`.

    ``rows`` are ``(id, item as compact JSON text)``; ``resume_token`` is the token of the
    page after the last of them; ``status`` is ``running`` (more to list), ``ok``,
    ``skipped`` or ``failed`` (with ``error``).
    """

    source: SourceId
    rows: Sequence[tuple[str, str]]
    pages: int
    resume_token: str | None
    status: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Resumed:
    """The run being written, and what an earlier attempt at it already stored."""

    run: int
    resumed: bool
    """True if this continues an unfinished run (``--resume``)."""
    sources: Mapping[SourceId, StoredSource]
    """Every source the run knew before this attempt, by (account, region, service, operation)."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class Store:
    """An inventory store in the SQLite file ``path`` (created if missing).

    Use it as ``async with Store(path) as store:``. Every method runs its SQL in a worker
    thread, one at a time; a cancelled caller still waits for a transaction under way to
    commit or roll back, so none is left half done.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._run: int | None = None

    async def _call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connection
        if connection is None:
            raise RuntimeError("the store is not open: use `async with Store(path) as store:`")
        return await anyio.to_thread.run_sync(function, connection, limiter=self._limiter)

    async def __aenter__(self) -> Self:
        def connect() -> sqlite3.Connection:
            # One connection, used by one thread at a time (the limiter), never at once.
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=10000")
            connection.executescript(_SCHEMA)
            return connection

        self._connection = await anyio.to_thread.run_sync(connect, limiter=self._limiter)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(connection.close, limiter=self._limiter)

    @property
    def run(self) -> int:
        """The id of the run :meth:`begin` started or resumed."""
        if self._run is None:
            raise RuntimeError("no run yet: call begin() first")
        return self._run

    async def begin(
        self, sources: Sequence[SourceId], *, resume: bool, argv: Sequence[str] = ()
    ) -> Resumed:
        """Start a run of ``sources``, or with ``resume`` continue the last unfinished one.

        Resuming keeps what the earlier attempt stored: the sources it finished (not to be
        listed again) and the resume token of every other; sources it did not know are
        added. Without an unfinished run, ``resume`` starts a new run (``resumed`` false).
        """

        def begin(db: sqlite3.Connection) -> Resumed:
            with _transaction(db):
                row = None
                if resume:
                    row = db.execute(
                        "SELECT id FROM runs WHERE finished IS NULL ORDER BY id DESC LIMIT 1"
                    ).fetchone()
                if row is None:
                    run = db.execute(
                        "INSERT INTO runs (started, argv) VALUES (?, ?)",
                        (_now(), json.dumps(list(argv))),
                    ).lastrowid
                    assert run is not None
                    known: dict[SourceId, StoredSource] = {}
                else:
                    run = int(row[0])
                    known = {
                        (a, r, s, o): StoredSource(status, pages, items, token, error)
                        for a, r, s, o, status, pages, items, token, error in db.execute(
                            "SELECT account, region, service, operation, status, pages, "
                            "items, resume_token, error FROM sources WHERE run = ?",
                            (run,),
                        )
                    }
                db.executemany(
                    "INSERT OR IGNORE INTO sources (run, account, region, service, operation)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(run, *source) for source in sources],
                )
            return Resumed(run, row is not None, known)

        resumed = await self._call(begin)
        self._run = resumed.run
        return resumed

    async def commit_page(
        self,
        source: SourceId,
        records: Sequence[tuple[str, Any]],
        *,
        resume_token: str | None,
        done: bool,
    ) -> None:
        """Store one page's ``(id, item)`` records and the source's next token, atomically.

        ``resume_token`` is the token of the page after this one; ``done`` marks the
        source ``ok`` (its last page).
        """
        rows = [(rid, encode_item(item)) for rid, item in records]
        status = "ok" if done else "running"
        await self.commit_pages([SourcePages(source, rows, 1, resume_token, status)])

    async def commit_pages(self, batch: Sequence[SourcePages]) -> None:
        """Store the pages of several sources and each one's next token and status, atomically.

        One transaction for the whole batch (a worker's task): a crash leaves all of it or
        none, so a source resumes from exactly the token of its last batch stored.
        """
        run = self.run
        rows = [(*part.source, rid, item, run) for part in batch for rid, item in part.rows]
        updates = [
            (
                part.status,
                part.pages,
                len(part.rows),
                part.resume_token,
                part.error,
                run,
                *part.source,
            )
            for part in batch
        ]

        def commit(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.executemany(_UPSERT, rows)
                db.executemany(
                    "UPDATE sources SET status = ?, pages = pages + ?, items = items + ?,"
                    " resume_token = ?, error = ?"
                    " WHERE run = ? AND account = ? AND region = ? AND service = ?"
                    " AND operation = ?",
                    updates,
                )

        await self._call(commit)

    async def end_source(self, source: SourceId, status: str, *, error: str | None) -> None:
        """Record how a source ended (``ok``, ``skipped``, ``failed``); its token stays."""
        run = self.run

        def end(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "UPDATE sources SET status = ?, error = ?"
                    " WHERE run = ? AND account = ? AND region = ? AND service = ?"
                    " AND operation = ?",
                    (status, error, run, *source),
                )

        await self._call(end)

    async def finish(self) -> bool:
        """Mark the run finished if every source is ok or skipped; True if it is."""
        run = self.run

        def finish(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                (left,) = db.execute(
                    "SELECT count(*) FROM sources WHERE run = ? AND status NOT IN ('ok', "
                    "'skipped')",
                    (run,),
                ).fetchone()
                if left == 0:
                    db.execute("UPDATE runs SET finished = ? WHERE id = ?", (_now(), run))
                return bool(left == 0)

        return await self._call(finish)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._db.execute("COMMIT" if exc is None else "ROLLBACK")


def encode_item(item: Any) -> str:
    """``item`` as the store keeps it: compact JSON text, unescaped (see :func:`json_default`)."""
    return _ENCODER.encode(item)


def json_encoder(*, ensure_ascii: bool) -> json.JSONEncoder:
    """The encoder of the store's JSON (compact, :func:`json_default`), to use for many values.

    ``json.dumps`` with options builds a new encoder per call (15% of encoding a
    ListBackups item); encoding keeps no state in one, so threads may share it.
    """
    return json.JSONEncoder(default=json_default, ensure_ascii=ensure_ascii, separators=(",", ":"))


def json_default(value: object) -> object:
    """JSON for what botocore returns: ISO 8601 datetimes, base64 bytes, numbers for decimals."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


_ENCODER: Final = json_encoder(ensure_ascii=False)
