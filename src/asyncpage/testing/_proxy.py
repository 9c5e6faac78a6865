"""FaultProxy: an HTTP/1.1 reverse proxy that throttles, fails and drops AWS requests.

The proxy runs in a thread of its own with its own asyncio event loop, so tests on any
event loop (asyncio or trio) or none can use it, and its controls are plain thread-safe
method calls. It listens on 127.0.0.1 only and forwards only to a loopback target.

How a request's fate is decided, in arrival order, under one lock:

1. Requests to ``/moto-api/`` (moto's control plane) are always forwarded untouched.
2. If the request matches the rate filter (``only_service``/``only_operation`` of
   :meth:`FaultProxy.configure`), it draws exactly two numbers from the proxy's
   ``random.Random(seed)``: ``u`` picks the fault from the cumulative rates
   (``u < reset`` → reset, ``< reset + throttle`` → throttle,
   ``< reset + throttle + server_error`` → server error, else forward) and ``j`` the
   delay (``latency + j * latency_jitter``). Requests that do not match draw nothing, so
   the faults of one service do not depend on how other services' requests interleave.
3. The oldest queued fault (:meth:`FaultProxy.fail_next`) whose filter matches the request
   replaces the fault drawn in step 2; the delay stays. Queued faults never draw numbers,
   so queueing one does not shift the faults drawn for later requests.
4. The delay is slept, then the request is forwarded, answered with the error AWS would
   send (:mod:`asyncpage.testing._faults`), or its connection is reset (RST, no response).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import struct
import threading
from collections import Counter, deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Final, Literal, Protocol, Self, get_args
from urllib.parse import urlsplit

from ._faults import FaultKind, RequestFacts, error_response, read_request_facts

__all__ = ["FaultProxy", "FaultProxyFactory", "ProxyCounters", "ProxyEvent"]

_log = logging.getLogger("asyncpage.testing")

_HEAD_LIMIT: Final = 1 << 20
_MAX_IDLE_UPSTREAM: Final = 32
_EVENT_HISTORY: Final = 10_000
_CONTROL_PREFIX: Final = "/moto-api/"
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
    }
)
_NO_BODY_STATUSES: Final = frozenset({204, 304})

Action = Literal["forward", "throttle", "server_error", "reset"]


@dataclass(frozen=True, slots=True)
class ProxyCounters:
    """A snapshot of what a :class:`FaultProxy` did since it started or was last reset."""

    requests: int = 0
    """Requests received (complete request heads and bodies)."""
    forwarded: int = 0
    """Requests answered by the target."""
    throttled: int = 0
    """Requests answered with a throttling error."""
    server_errors: int = 0
    """Requests answered with a 5xx error."""
    resets: int = 0
    """Requests whose connection was reset instead of answered."""
    delayed: int = 0
    """Requests held back by ``latency``/``latency_jitter``."""
    upstream_errors: int = 0
    """Requests the target could not answer (the client got a 502)."""
    by_service: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Requests per service named in the SigV4 scope; unsigned requests are not counted."""


@dataclass(frozen=True, slots=True)
class ProxyEvent:
    """One request as the proxy saw it: who it was for and what was done to it."""

    service: str | None
    operation: str | None
    action: Action
    delay: float


@dataclass(frozen=True, slots=True)
class _Filter:
    services: frozenset[str] | None = None
    operations: frozenset[str] | None = None

    def matches(self, facts: RequestFacts) -> bool:
        if self.services is not None and facts.service not in self.services:
            return False
        return self.operations is None or facts.operation in self.operations


@dataclass(frozen=True, slots=True)
class _Rates:
    throttle: float = 0.0
    server_error: float = 0.0
    reset: float = 0.0
    latency: float = 0.0
    latency_jitter: float = 0.0
    retry_after: float | None = None
    throttle_code: str | None = None
    filter: _Filter = _Filter()

    def pick(self, u: float) -> Action:
        if u < self.reset:
            return "reset"
        if u < self.reset + self.throttle:
            return "throttle"
        if u < self.reset + self.throttle + self.server_error:
            return "server_error"
        return "forward"


@dataclass(frozen=True, slots=True)
class _QueuedFault:
    kind: FaultKind
    code: str | None
    filter: _Filter


@dataclass(frozen=True, slots=True)
class _Decision:
    action: Action
    delay: float = 0.0
    code: str | None = None
    retry_after: float | None = None


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    lower: dict[str, str]
    body: bytes = b""


@dataclass(slots=True)
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _BadRequest(Exception):
    """The client sent something that is not HTTP/1.x."""


class FaultProxy:
    """A reverse proxy in front of a local endpoint that injects AWS faults on demand.

    Args:
        target_url: where requests go, e.g. a moto server's ``http://127.0.0.1:PORT``.
            Only ``http`` on a loopback host (127.0.0.0/8, ``localhost``, ``::1``) is
            accepted, with no path.
        seed: seeds the one ``random.Random`` that decides rate-based faults.

    Raises:
        ValueError: the target is not a loopback ``http`` URL.

    Example::

        with FaultProxy(moto.endpoint_url, seed=7) as proxy:
            proxy.fail_next(2, "throttle")
            proxy.configure(server_error=0.1, only_service="dynamodb")
            client = session.create_client("dynamodb", endpoint_url=proxy.endpoint_url, ...)
            ...
            assert proxy.counters.throttled == 2
    """

    def __init__(self, target_url: str, *, seed: int = 0) -> None:
        self._target_host, self._target_port = _loopback_target(target_url)
        self._target_url = target_url
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rates = _Rates()
        self._queue: deque[_QueuedFault] = deque()
        self._counts: Counter[str] = Counter()
        self._by_service: Counter[str] = Counter()
        self._events: deque[ProxyEvent] = deque(maxlen=_EVENT_HISTORY)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._port: int | None = None
        self._stopping = False
        self._stopped = False
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    # -- control, from any thread ----------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``, for a client's ``endpoint_url``.

        Raises:
            RuntimeError: the proxy is not running.
        """
        if self._port is None or self._stopped:
            raise RuntimeError("the FaultProxy is not running: call start() first")
        return f"http://127.0.0.1:{self._port}"

    @property
    def target_url(self) -> str:
        """The URL requests are forwarded to."""
        return self._target_url

    def configure(
        self,
        *,
        throttle: float = 0.0,
        server_error: float = 0.0,
        reset: float = 0.0,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        retry_after: float | None = None,
        throttle_code: str | None = None,
        only_service: str | Collection[str] | None = None,
        only_operation: str | Collection[str] | None = None,
    ) -> None:
        """Set the per-request fault rates, replacing the previous ones.

        ``configure()`` with no arguments turns every rate off; queued faults stay.

        Args:
            throttle: probability (0..1) that a request gets the service's throttling error.
            server_error: probability that a request gets the service's 5xx error.
            reset: probability that a request's connection is reset with no response.
            latency: seconds to hold every matching request before acting on it.
            latency_jitter: up to this many seconds more, drawn uniformly.
            retry_after: seconds; throttles (rated or queued) carry ``Retry-After`` and
                ``x-amz-retry-after`` headers.
            throttle_code: an error code for rated throttles instead of the service's
                usual one (``"ProvisionedThroughputExceededException"``).
            only_service: apply rates and latency only to these services (SigV4 names).
            only_operation: apply them only to these operations (JSON and query
                protocols name theirs; REST requests never match an operation filter).

        Raises:
            ValueError: a rate is outside 0..1, the rates add up to more than 1, or a
                duration is negative.
        """
        for name, rate in (
            ("throttle", throttle),
            ("server_error", server_error),
            ("reset", reset),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {rate!r}")
        if throttle + server_error + reset > 1.0 + 1e-9:
            raise ValueError("throttle + server_error + reset must not exceed 1")
        for name, seconds in (
            ("latency", latency),
            ("latency_jitter", latency_jitter),
            ("retry_after", retry_after or 0.0),
        ):
            if seconds < 0:
                raise ValueError(f"{name} must not be negative, got {seconds!r}")
        rates = _Rates(
            throttle,
            server_error,
            reset,
            latency,
            latency_jitter,
            retry_after,
            throttle_code,
            _make_filter(only_service, only_operation),
        )
        with self._lock:
            self._rates = rates

    def fail_next(
        self,
        n: int,
        kind: FaultKind,
        *,
        code: str | None = None,
        only_service: str | Collection[str] | None = None,
        only_operation: str | Collection[str] | None = None,
    ) -> None:
        """Queue a fault for each of the next ``n`` matching requests, ahead of any rate.

        Args:
            n: how many requests to fail (0 queues nothing).
            kind: ``"throttle"``, ``"server_error"`` or ``"reset"``.
            code: an error code to send instead of the service's usual one.
            only_service: fail only requests to these services; others pass by.
            only_operation: fail only these operations (JSON and query protocols).

        Raises:
            ValueError: ``n`` is negative, ``kind`` is unknown, or ``code`` is given for
                a reset.
        """
        if n < 0:
            raise ValueError(f"n must not be negative, got {n!r}")
        if kind not in get_args(FaultKind):
            raise ValueError(f"kind must be one of {get_args(FaultKind)}, got {kind!r}")
        if code is not None and kind == "reset":
            raise ValueError("a reset sends no response, so it has no error code")
        fault = _QueuedFault(kind, code, _make_filter(only_service, only_operation))
        with self._lock:
            self._queue.extend([fault] * n)

    @property
    def pending(self) -> int:
        """How many queued faults have not met their request yet."""
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        """Drop every queued fault and turn every rate off."""
        with self._lock:
            self._queue.clear()
            self._rates = _Rates()

    @property
    def counters(self) -> ProxyCounters:
        """A snapshot of the counters (see :class:`ProxyCounters`)."""
        with self._lock:
            counts = self._counts
            return ProxyCounters(
                requests=counts["requests"],
                forwarded=counts["forwarded"],
                throttled=counts["throttle"],
                server_errors=counts["server_error"],
                resets=counts["reset"],
                delayed=counts["delayed"],
                upstream_errors=counts["upstream_errors"],
                by_service=MappingProxyType(dict(self._by_service)),
            )

    @property
    def events(self) -> tuple[ProxyEvent, ...]:
        """The last 10,000 requests in arrival order, with what was done to each."""
        with self._lock:
            return tuple(self._events)

    def reset_counters(self) -> None:
        """Zero the counters and forget the events; rates, queue and seed stay as they are."""
        with self._lock:
            self._counts.clear()
            self._by_service.clear()
            self._events.clear()

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on a random port of 127.0.0.1; returns the proxy.

        Raises:
            RuntimeError: the proxy was started before.
            OSError: no port could be bound.
        """
        if self._thread is not None:
            raise RuntimeError("a FaultProxy can be started only once")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="asyncpage-fault-proxy", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._stopped = True
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection, and end the proxy's thread.

        Requests in flight are dropped. Calling it again does nothing.
        """
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None or self._stopped:
            return
        self._stopped = True
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                loop.call_soon_threadsafe(event.set)
        thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._port is not None and not self._stopped else "stopped"
        return f"<FaultProxy {state} → {self._target_url}>"

    # -- the proxy's own thread ------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._main(ready))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            server = await asyncio.start_server(
                self._serve_client, "127.0.0.1", 0, limit=_HEAD_LIMIT
            )
        except BaseException as exc:
            self._startup_error = exc
            return
        self._port = server.sockets[0].getsockname()[1]
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            self._stopping = True
            server.close()
            await self._close_everything()
            await server.wait_closed()
            await asyncio.sleep(0)  # let the transports' connection_lost callbacks run

    async def _close_everything(self) -> None:
        current = asyncio.current_task()
        while tasks := [task for task in asyncio.all_tasks() if task is not current]:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while not self._stopping:
                request = await _read_request(reader, writer)
                if request is None:
                    return
                facts = read_request_facts(request.target, request.lower, request.body)
                decision = self._decide(request, facts)
                if decision.delay > 0:
                    await asyncio.sleep(decision.delay)
                if decision.action == "reset":
                    _abort(writer)
                    return
                if decision.action == "forward":
                    response = await self._forward(request)
                else:
                    fault = error_response(
                        decision.action,
                        facts,
                        method=request.method,
                        code=decision.code,
                        retry_after=decision.retry_after,
                    )
                    response = _Response(
                        fault.status, fault.reason, list(fault.headers), fault.body
                    )
                keep_alive = _client_keeps_alive(request)
                writer.write(_serialize_response(response, request.method, keep_alive))
                await writer.drain()
                if not keep_alive:
                    return
        except _BadRequest:
            with contextlib.suppress(OSError):
                writer.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away; nothing to answer
        except asyncio.CancelledError:
            # Only stop() cancels this task. Ending normally keeps Python 3.11's streams
            # from logging the cancellation as an error in their done-callback.
            pass
        except Exception:
            _log.exception("fault proxy failed to serve a request")
        finally:
            writer.close()
            # stop() may cancel us again while we wait here; the task ends either way.
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    def _decide(self, request: _Request, facts: RequestFacts) -> _Decision:
        with self._lock:
            self._counts["requests"] += 1
            if facts.service is not None:
                self._by_service[facts.service] += 1
            if request.target.startswith(_CONTROL_PREFIX):
                decision = _Decision("forward")
            else:
                decision = self._draw(facts)
            if decision.delay > 0:
                self._counts["delayed"] += 1
            if decision.action != "forward":
                self._counts[decision.action] += 1
            self._events.append(
                ProxyEvent(facts.service, facts.operation, decision.action, decision.delay)
            )
            return decision

    def _draw(self, facts: RequestFacts) -> _Decision:
        rates = self._rates
        action: Action = "forward"
        delay = 0.0
        code: str | None = None
        if rates.filter.matches(facts):
            u = self._random.random()
            j = self._random.random()
            delay = rates.latency + j * rates.latency_jitter
            action = rates.pick(u)
            code = rates.throttle_code if action == "throttle" else None
        for index, fault in enumerate(self._queue):
            if fault.filter.matches(facts):
                del self._queue[index]
                action, code = fault.kind, fault.code
                break
        return _Decision(action, delay, code, rates.retry_after)

    async def _forward(self, request: _Request) -> _Response:
        head = _serialize_upstream_request(request, self._target_host, self._target_port)
        try:
            response = await self._exchange(head + request.body, request.method)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            _BadRequest,
        ) as exc:
            with self._lock:
                self._counts["upstream_errors"] += 1
            body = f"fault proxy: the target {self._target_url} did not answer: {exc!r}".encode()
            headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
            return _Response(502, "Bad Gateway", headers, body)
        with self._lock:
            self._counts["forwarded"] += 1
        return response

    async def _exchange(self, data: bytes, method: str) -> _Response:
        while True:
            reused = bool(self._idle)
            if reused:
                reader, writer = self._idle.pop()
            else:
                reader, writer = await asyncio.open_connection(
                    self._target_host, self._target_port, limit=_HEAD_LIMIT
                )
            try:
                try:
                    writer.write(data)
                    await writer.drain()
                except OSError:
                    if not reused:
                        raise
                    raise _StaleConnection from None
                response, reusable = await _read_response(
                    reader, method, first_byte_required=reused
                )
            except _StaleConnection:
                writer.close()
                continue  # the target closed an idle connection; send again on a fresh one
            except BaseException:
                writer.close()
                raise
            if reusable and not self._stopping and len(self._idle) < _MAX_IDLE_UPSTREAM:
                self._idle.append((reader, writer))
            else:
                writer.close()
            return response


class _StaleConnection(Exception):
    """A kept-alive upstream connection closed before sending a single byte."""


def _loopback_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"FaultProxy forwards plain http only, got {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url!r}")
    if host.lower() != "localhost":
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"FaultProxy forwards to loopback addresses only, got {url!r}"
            ) from None
        if not address.is_loopback:
            raise ValueError(f"FaultProxy forwards to loopback addresses only, got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"the target must be a bare http://host:port, got {url!r}")
    return host, parts.port or 80


def _make_filter(
    services: str | Collection[str] | None, operations: str | Collection[str] | None
) -> _Filter:
    def as_set(names: str | Collection[str] | None) -> frozenset[str] | None:
        if names is None:
            return None
        return frozenset([names] if isinstance(names, str) else names)

    return _Filter(as_set(services), as_set(operations))


async def _read_head(reader: asyncio.StreamReader) -> list[str] | None:
    """The lines of a message head, or None on a clean end of stream before it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequest("message head too large") from None
    return head.decode("latin-1").lstrip("\r\n").split("\r\n")[:-2]


def _parse_headers(lines: list[str]) -> list[tuple[str, str]]:
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequest(f"malformed header line {line!r}")
        headers.append((name, value.strip()))
    return headers


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> _Request | None:
    lines = await _read_head(reader)
    if lines is None:
        return None
    try:
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise _BadRequest(f"malformed request line {lines[0]!r}") from None
    if not version.startswith("HTTP/1."):
        raise _BadRequest(f"unsupported version {version!r}")
    if not target.startswith("/"):
        # Absolute form (``POST http://host:port/path HTTP/1.1``), as httpx sends it.
        # The host in it is ignored: requests only ever go to the proxy's target.
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https"):
            raise _BadRequest(f"unsupported request target {target!r}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = _parse_headers(lines[1:])
    lower = {name.lower(): value for name, value in headers}
    request = _Request(method, target, version, headers, lower)
    if "100-continue" in lower.get("expect", "").lower() and version == "HTTP/1.1":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.body = await _read_body(reader, lower)
    return request


async def _read_body(reader: asyncio.StreamReader, lower: dict[str, str]) -> bytes:
    if "chunked" in lower.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = lower.get("content-length")
    if length is None:
        return b""
    try:
        size = int(length)
    except ValueError:
        raise _BadRequest(f"bad Content-Length {length!r}") from None
    return await reader.readexactly(size) if size > 0 else b""


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest(f"bad chunk size {size_line!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass  # trailers carry nothing the proxy forwards
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _read_response(
    reader: asyncio.StreamReader, method: str, *, first_byte_required: bool
) -> tuple[_Response, bool]:
    """Read one response; returns it and whether the connection can carry another."""
    while True:
        try:
            lines = await _read_head(reader)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            lines = None
        if lines is None:
            if first_byte_required:
                raise _StaleConnection
            raise asyncio.IncompleteReadError(b"", None)
        first_byte_required = False
        try:
            version, status_text, *reason = lines[0].split(" ", 2)
            status = int(status_text)
        except ValueError:
            raise _BadRequest(f"malformed status line {lines[0]!r}") from None
        headers = _parse_headers(lines[1:])
        if 100 <= status < 200:
            continue  # informational responses are not relayed
        lower = {name.lower(): value.lower() for name, value in headers}
        reusable = version == "HTTP/1.1" and "close" not in lower.get("connection", "")
        if method == "HEAD" or status in _NO_BODY_STATUSES:
            body = b""
        elif "chunked" in lower.get("transfer-encoding", ""):
            body = await _read_chunked(reader)
        elif "content-length" in lower:
            body = await _read_body(reader, lower)
        else:
            body = await reader.read()
            reusable = False
        return _Response(status, reason[0] if reason else "", headers, body), reusable


def _client_keeps_alive(request: _Request) -> bool:
    connection = request.lower.get("connection", "").lower()
    if request.version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _serialize_upstream_request(request: _Request, host: str, port: int) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    lines += [
        f"{name}: {value}" for name, value in request.headers if name.lower() not in _HOP_BY_HOP
    ]
    if "host" not in request.lower:
        lines.append(f"Host: {host}:{port}")
    if request.body or "content-length" in request.lower or "transfer-encoding" in request.lower:
        lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _serialize_response(response: _Response, method: str, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {response.reason}".rstrip()]
    no_body = method == "HEAD" or response.status in _NO_BODY_STATUSES
    for name, value in response.headers:
        lowered = name.lower()
        # A HEAD response's Content-Length describes the body a GET would get: keep it.
        if lowered in _HOP_BY_HOP and not (no_body and lowered == "content-length"):
            continue
        lines.append(f"{name}: {value}")
    if not no_body:
        lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if no_body else head + response.body


def _abort(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP RST, the way an overloaded load balancer does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxyFactory(Protocol):
    """The type of the ``fault_proxy_factory`` fixture."""

    def __call__(self, target_url: str, *, seed: int = 0) -> FaultProxy:
        """Start a :class:`FaultProxy` in front of ``target_url``; stopped after the test."""
        ...
