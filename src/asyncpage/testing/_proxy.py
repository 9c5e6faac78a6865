"""FaultProxy: an HTTP/1.1 reverse proxy that throttles, fails and drops AWS requests.

The proxy runs in a thread of its own with its own asyncio event loop, so tests on any
event loop (asyncio or trio) or none can use it, and its controls are plain thread-safe
method calls. It listens on 127.0.0.1 only and forwards only to a loopback target. HTTP is
aiohttp's: its server takes requests (origin or absolute form, as httpx sends them) and its
client forwards them with their bodies and headers as they came (nothing decompressed,
renamed or reordered; aiohttp adds only ``Date`` and ``Server`` to a response without them).
A client that gives up on a request closes its connection; that cancels the request in the
proxy, and the upstream request made for it, leaving no task or socket behind.

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
4. While :meth:`FaultProxy.hold` is on, a request that matches its filter waits (with its
   fate already decided, so holding never changes what is drawn) until
   :meth:`FaultProxy.release`, its client giving up, or :meth:`FaultProxy.stop`.
5. The delay is slept, then the request is forwarded, answered with the error AWS would
   send (:mod:`asyncpage.testing._faults`; ``"error"`` sends the queued code and status),
   or its connection is reset (RST, no response).
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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Final, Literal, Protocol, Self, get_args
from urllib.parse import urlsplit

import aiohttp
import anyio.to_thread
from aiohttp import web
from aiohttp.http import HttpVersion11
from multidict import CIMultiDict
from yarl import URL

from ._faults import FaultKind, RequestFacts, error_response, read_request_facts

__all__ = ["FaultProxy", "FaultProxyFactory", "ProxyCounters", "ProxyEvent"]

_log = logging.getLogger("asyncpage.testing")

_HEAD_LIMIT: Final = 1 << 16
_WAIT_HELD_TIMEOUT: Final = 30.0
# How long stop() lets a request that came in while stopping finish before cancelling it.
_SHUTDOWN_TIMEOUT: Final = 0.5
_EVENT_HISTORY: Final = 10_000
_CONTROL_PREFIX: Final = "/moto-api/"
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Headers of a request the proxy reframes: its body is forwarded with a Content-Length.
_NOT_FORWARDED: Final = _HOP_BY_HOP | {"expect", "content-length"}
# Headers aiohttp's client would add to a request that lacks them.
_NO_AUTO_HEADERS: Final = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")

Action = Literal["forward", "throttle", "server_error", "error", "reset"]


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
    """Requests answered with the service's internal error (a 5xx)."""
    resets: int = 0
    """Requests whose connection was reset instead of answered."""
    delayed: int = 0
    """Requests held back by ``latency``/``latency_jitter``."""
    upstream_errors: int = 0
    """Requests the target could not answer (the client got a 502)."""
    by_service: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Requests per service named in the SigV4 scope; unsigned requests are not counted."""
    errors: int = 0
    """Requests answered with an error queued by ``fail_next(n, "error", ...)``."""


@dataclass(frozen=True, slots=True)
class ProxyEvent:
    """One request as the proxy saw it: who it was for and what was done to it."""

    service: str | None
    operation: str | None
    action: Action
    delay: float
    access_key: str | None = None
    """The access key id that signed the request, if signed: who made the call."""


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
    status: int | None
    filter: _Filter


@dataclass(frozen=True, slots=True)
class _Decision:
    action: Action
    delay: float = 0.0
    code: str | None = None
    status: int | None = None
    retry_after: float | None = None


@dataclass(slots=True)
class _Hold:
    filter: _Filter
    skip: int  # matching requests still to let pass
    released: asyncio.Event  # awaited and set in the proxy's loop only


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

    To act while a request is in flight, hold it instead of sleeping and hoping::

        proxy.hold()
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.list_tables)
            await proxy.wait_held()  # the request has reached the proxy and waits there
            tg.cancel_scope.cancel()
        proxy.release()
    """

    def __init__(self, target_url: str, *, seed: int = 0) -> None:
        self._origin = _loopback_origin(target_url)
        self._target_url = target_url
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a request was held or let go
        self._hold: _Hold | None = None
        self._held = 0
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
        self._stopped = False
        self._upstream: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Task[object]] = set()

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
        status: int | None = None,
        only_service: str | Collection[str] | None = None,
        only_operation: str | Collection[str] | None = None,
    ) -> None:
        """Queue a fault for each of the next ``n`` matching requests, ahead of any rate.

        Args:
            n: how many requests to fail (0 queues nothing).
            kind: ``"throttle"`` or ``"server_error"`` (the service's own error),
                ``"error"`` (any error: give ``code`` and ``status``) or ``"reset"``.
            code: an error code to send instead of the service's usual one.
            status: an HTTP status (400..599) to send instead of the usual one.
            only_service: fail only requests to these services; others pass by.
            only_operation: fail only these operations (JSON and query protocols).

        Raises:
            ValueError: ``n`` is negative, ``kind`` is unknown, an ``"error"`` lacks its
                code or status, the status is outside 400..599, or a reset is given a
                code or a status.

        Example::

            proxy.fail_next(1, "error", code="AccessDeniedException", status=400)
            proxy.fail_next(1, "error", code="NoSuchBucket", status=404, only_service="s3")
        """
        if n < 0:
            raise ValueError(f"n must not be negative, got {n!r}")
        if kind not in get_args(FaultKind):
            raise ValueError(f"kind must be one of {get_args(FaultKind)}, got {kind!r}")
        if kind == "reset" and (code is not None or status is not None):
            raise ValueError("a reset sends no response, so it has no error code or status")
        if kind == "error" and (code is None or status is None):
            raise ValueError('an "error" needs its code and its HTTP status')
        if status is not None and not 400 <= status <= 599:
            raise ValueError(f"an error status is 400..599, got {status!r}")
        fault = _QueuedFault(kind, code, status, _make_filter(only_service, only_operation))
        with self._lock:
            self._queue.extend([fault] * n)

    @property
    def pending(self) -> int:
        """How many queued faults have not met their request yet."""
        with self._lock:
            return len(self._queue)

    def hold(
        self,
        *,
        skip: int = 0,
        only_service: str | Collection[str] | None = None,
        only_operation: str | Collection[str] | None = None,
    ) -> None:
        """Hold every matching request that arrives from now on, until :meth:`release`.

        A held request is counted and its fate decided when it arrives, as any other;
        then it waits in the proxy, in flight for its client, until :meth:`release`,
        until its client gives up (then it is dropped), or until :meth:`stop`. Requests
        to moto's control plane are never held. Calling it again changes the filter and
        the skip count; requests held already stay held.

        Args:
            skip: let this many matching requests pass first. ``hold(skip=1)`` before
                a pagination lets its first page through and holds the read-ahead.
            only_service: hold only requests to these services.
            only_operation: hold only these operations (JSON and query protocols).

        Raises:
            ValueError: ``skip`` is negative.
        """
        if skip < 0:
            raise ValueError(f"skip must not be negative, got {skip!r}")
        where = _make_filter(only_service, only_operation)
        with self._lock:
            released = asyncio.Event() if self._hold is None else self._hold.released
            self._hold = _Hold(where, skip, released)

    def release(self) -> None:
        """Stop holding, and let every held request go on to its fate."""
        with self._lock:
            hold, self._hold = self._hold, None
        loop = self._loop
        if hold is not None and loop is not None:
            with contextlib.suppress(RuntimeError):  # the proxy's loop is gone
                loop.call_soon_threadsafe(hold.released.set)

    @property
    def held(self) -> int:
        """How many requests are held right now."""
        with self._lock:
            return self._held

    async def wait_held(self, n: int = 1) -> None:
        """Wait until at least ``n`` requests are held at once (see :meth:`hold`).

        Works on asyncio and on trio: the proxy lives in a thread of its own, so this
        waits in a worker thread (``anyio.to_thread.run_sync``) on a thread-safe
        condition. It has no timeout of its own: bound it the structured way, with
        ``anyio.fail_after()`` (or ``asyncio.timeout()``, ``trio.fail_after()``).
        Cancelling the wait wakes that thread, which ends at once.

        Raises:
            RuntimeError: the proxy is not running, or stopped while waiting.
        """
        abandoned = threading.Event()
        try:
            await anyio.to_thread.run_sync(
                self._wait_held, n, None, abandoned.is_set, abandon_on_cancel=True
            )
        finally:
            with self._changed:
                abandoned.set()
                self._changed.notify_all()

    def wait_held_blocking(self, n: int = 1, *, timeout: float = _WAIT_HELD_TIMEOUT) -> None:
        """:meth:`wait_held` for code outside an event loop; it blocks the calling thread.

        Raises:
            TimeoutError: fewer than ``n`` were held within ``timeout`` seconds.
            RuntimeError: the proxy is not running, or stopped while waiting.
        """
        self._wait_held(n, timeout, lambda: False)

    def _wait_held(self, n: int, timeout: float | None, abandoned: Callable[[], bool]) -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n!r}")
        if self._port is None:
            raise RuntimeError("the FaultProxy is not running: call start() first")
        with self._changed:
            done = self._changed.wait_for(
                lambda: self._held >= n or self._stopped or abandoned(), timeout
            )
            if not done:
                raise TimeoutError(f"{self._held} of {n} requests held after {timeout} s")
            if self._held < n and self._stopped:
                raise RuntimeError("the FaultProxy stopped")

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
                errors=counts["error"],
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
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
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
        try:
            with asyncio.Runner() as runner:
                runner.run(self._main(ready))
        except BaseException as exc:  # reported by start(), which is waiting for it
            if self._port is None:
                self._startup_error = exc
            else:
                _log.exception("fault proxy stopped with an error")
        finally:
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        async with contextlib.AsyncExitStack() as stack:
            self._upstream = await stack.enter_async_context(_upstream_session())
            server = web.Server(
                self._serve,
                # A client that gives up closes its connection: its request is cancelled
                # here too, and so is the upstream request made for it.
                handler_cancellation=True,
                auto_decompress=False,  # bodies pass through as the client encoded them
                access_log=None,
                logger=_log,
                max_line_size=_HEAD_LIMIT,
                max_field_size=_HEAD_LIMIT,
            )
            runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            self._port = runner.addresses[0][1]
            ready.set()
            await self._stop_event.wait()
            # Requests in flight are dropped: cancelling their tasks cancels their
            # upstream requests; runner.cleanup() then closes every connection.
            while tasks := list(self._in_flight):
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let the closed transports' connection_lost callbacks run

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        # The loop holds tasks weakly: this set keeps a request's task alive while it
        # waits, and lets stop() cancel it.
        self._in_flight.add(task)
        try:
            return await self._answer(request)
        finally:
            self._in_flight.discard(task)

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        target = _origin_form(request.raw_path)
        if target is None:
            return web.Response(status=400, text=f"unsupported request target {request.raw_path!r}")
        if (
            request.version == HttpVersion11
            and "100-continue" in request.headers.get("Expect", "").lower()
        ):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the response proper has not started
        body = await request.content.read()
        headers = [
            (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
            for name, value in request.raw_headers
        ]
        lower = {name.lower(): value for name, value in headers}
        facts = read_request_facts(target, lower, body)
        decision, hold = self._decide(target, facts)
        if hold is not None:
            await self._until_released(hold)
        if decision.delay > 0:
            await asyncio.sleep(decision.delay)
        if decision.action == "reset":
            _reset(request)
            return web.Response()  # never written: the connection is gone
        if decision.action == "forward":
            return await self._forward(request.method, target, headers, body)
        fault = error_response(
            decision.action,
            facts,
            method=request.method,
            code=decision.code,
            status=decision.status,
            retry_after=decision.retry_after,
        )
        return web.Response(
            status=fault.status, reason=fault.reason, headers=fault.headers, body=fault.body
        )

    def _decide(self, target: str, facts: RequestFacts) -> tuple[_Decision, _Hold | None]:
        with self._lock:
            self._counts["requests"] += 1
            if facts.service is not None:
                self._by_service[facts.service] += 1
            hold = None
            if target.startswith(_CONTROL_PREFIX):
                decision = _Decision("forward")
            else:
                decision = self._draw(facts)
                if self._hold is not None and self._hold.filter.matches(facts):
                    if self._hold.skip > 0:
                        self._hold.skip -= 1
                    else:
                        hold = self._hold
            if decision.delay > 0:
                self._counts["delayed"] += 1
            if decision.action != "forward":
                self._counts[decision.action] += 1
            self._events.append(
                ProxyEvent(
                    facts.service,
                    facts.operation,
                    decision.action,
                    decision.delay,
                    facts.access_key,
                )
            )
            return decision, hold

    async def _until_released(self, hold: _Hold) -> None:
        with self._changed:
            self._held += 1
            self._changed.notify_all()
        try:
            await hold.released.wait()
        finally:
            with self._changed:
                self._held -= 1
                self._changed.notify_all()

    def _draw(self, facts: RequestFacts) -> _Decision:
        rates = self._rates
        action: Action = "forward"
        delay = 0.0
        code: str | None = None
        status: int | None = None
        if rates.filter.matches(facts):
            u = self._random.random()
            j = self._random.random()
            delay = rates.latency + j * rates.latency_jitter
            action = rates.pick(u)
            code = rates.throttle_code if action == "throttle" else None
        for index, fault in enumerate(self._queue):
            if fault.filter.matches(facts):
                del self._queue[index]
                action, code, status = fault.kind, fault.code, fault.status
                break
        return _Decision(action, delay, code, status, rates.retry_after)

    async def _forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> web.Response:
        assert self._upstream is not None
        sent = CIMultiDict(
            (name, value) for name, value in headers if name.lower() not in _NOT_FORWARDED
        )
        try:
            async with self._upstream.request(
                method,
                URL(self._origin + target, encoded=True),
                headers=sent,
                data=body or None,
                skip_auto_headers=_NO_AUTO_HEADERS,
                allow_redirects=False,
            ) as upstream:
                answer = await upstream.read()
                status, reason = upstream.status, upstream.reason
                received = CIMultiDict(
                    (name.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
                    for name, value in upstream.raw_headers
                    if name.decode("latin-1").lower() not in _HOP_BY_HOP
                )
        except (aiohttp.ClientError, OSError) as exc:
            with self._lock:
                self._counts["upstream_errors"] += 1
            return web.Response(
                status=502,
                text=f"fault proxy: the target {self._target_url} did not answer: {exc!r}",
            )
        with self._lock:
            self._counts["forwarded"] += 1
        return web.Response(status=status, reason=reason, headers=received, body=answer)


def _upstream_session() -> aiohttp.ClientSession:
    """The client for the target: bytes pass as they are, nothing from the environment."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # never through an HTTP proxy named in the environment
        timeout=aiohttp.ClientTimeout(total=None),
    )


def _loopback_origin(url: str) -> str:
    """``http://host:port`` of a loopback target URL."""
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
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"the target must be a bare http://host:port, got {url!r}")
    return f"http://{parts.netloc}"


def _make_filter(
    services: str | Collection[str] | None, operations: str | Collection[str] | None
) -> _Filter:
    def as_set(names: str | Collection[str] | None) -> frozenset[str] | None:
        if names is None:
            return None
        return frozenset([names] if isinstance(names, str) else names)

    return _Filter(as_set(services), as_set(operations))


def _origin_form(raw_target: str) -> str | None:
    """``/path?query`` of a request target; None when it is neither origin nor absolute form.

    httpx sends the absolute form (``POST http://host:port/path HTTP/1.1``). The host in
    it is ignored: requests only ever go to the proxy's target.
    """
    if raw_target.startswith("/"):
        return raw_target
    parts = urlsplit(raw_target)
    if parts.scheme not in ("http", "https"):
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _reset(request: web.BaseRequest) -> None:
    """Drop the connection with a TCP RST, the way an overloaded load balancer does."""
    transport = request.transport
    if transport is None:
        return  # the client is gone already
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class FaultProxyFactory(Protocol):
    """The type of the ``fault_proxy_factory`` fixture."""

    def __call__(self, target_url: str, *, seed: int = 0) -> FaultProxy:
        """Start a :class:`FaultProxy` in front of ``target_url``; stopped after the test."""
        ...
