"""ScriptedAWS in a child process: pre-rendered DynamoDB ListBackups pages, settable latency.

The page server runs in its own process so that its CPU (and the GIL it holds while
parsing a request) and its memory (the rendered pages) stay out of the client's
``time.process_time()`` and ``tracemalloc`` numbers. Every page is rendered before the
first timed request, so serving one costs the server a dict lookup plus http.server's
request parsing (well under a millisecond).

    with PageServer({"t20": 20, "t200": 200}) as server:
        server.set_latency(0.02)
        ... create clients with endpoint_url=server.endpoint_url ...
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

ITEMS_PER_PAGE = 100
"""ListBackups' default (and maximum) ``Limit``: every page but the last is full."""


def _serve(conn: Connection, tables: dict[str, int]) -> None:
    from asyncpage.testing._scripted import ScriptedAWS

    with ScriptedAWS() as aws:
        for name, pages in tables.items():
            aws.add_backups(name, pages * ITEMS_PER_PAGE)
            rendered = aws.prerender_backups(name)
            assert rendered == pages, (name, rendered, pages)
        conn.send(aws.endpoint_url)
        while True:
            command, *args = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "latency":
                aws.latency = args[0]
                conn.send(None)
            elif command == "requests":
                conn.send(aws.requests)


class PageServer:
    """A :class:`~asyncpage.testing._scripted.ScriptedAWS` serving from a child process.

    ``tables`` maps a table name to its number of full ``ListBackups`` pages (100 backups
    a page). Use it as a context manager.
    """

    def __init__(self, tables: Mapping[str, int], *, latency: float = 0.0) -> None:
        self._tables = dict(tables)
        self._latency = latency
        self._conn: Connection | None = None
        self._process: Any = None
        self.endpoint_url = ""

    def __enter__(self) -> Self:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, self._tables), name="PageServer", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent
        self.endpoint_url = parent.recv()
        self.set_latency(self._latency)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            self._call("stop")
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=10)
            self._process = None

    def _call(self, *message: Any) -> Any:
        assert self._conn is not None, "PageServer is not running"
        self._conn.send(message)
        return self._conn.recv()

    def set_latency(self, seconds: float) -> None:
        """Seconds the server waits before answering each request, from now on."""
        self._call("latency", seconds)

    @property
    def requests(self) -> int:
        """Requests served so far."""
        return int(self._call("requests"))
