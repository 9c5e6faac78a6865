"""FaultProxy: AWS's own error formats as botocore parses them, fault control, cleanliness."""

from __future__ import annotations

import asyncio
import gc
import gzip
import http.server
import json
import logging
import socket
import sys
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

import aiobotocore.httpxsession
import anyio
import pytest
import trio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from asyncpage.testing import FaultProxy, FaultProxyFactory, MotoServer, ProxyCounters

Call = Callable[[Any], Awaitable[Any]]
BACKENDS = ["aiohttp", "httpx"]


@pytest.fixture(scope="module")
def session() -> AioSession:
    """One botocore session for the module: service models load once."""
    return get_session()


@asynccontextmanager
async def aws_client(
    session: AioSession, service: str, endpoint_url: str, *, backend: str = "aiohttp", **config: Any
) -> AsyncIterator[Any]:
    """An aiobotocore client on the given HTTP backend; one attempt unless told otherwise."""
    config.setdefault("retries", {"total_max_attempts": 1})
    if backend == "httpx":
        config["http_session_cls"] = aiobotocore.httpxsession.HttpxSession
    async with session.create_client(
        cast(Any, service),  # the stubs know only literal service names
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=AioConfig(**config),
    ) as client:
        yield client


# service, a cheap call, throttle (code, status), server error (code, status)
SERVICES: list[tuple[str, Call, tuple[str, int], tuple[str, int]]] = [
    (
        "dynamodb",
        lambda c: c.list_tables(),
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
    ),
    (
        "logs",
        lambda c: c.describe_log_groups(),
        ("ThrottlingException", 400),
        ("InternalFailure", 500),
    ),
    ("sqs", lambda c: c.list_queues(), ("RequestThrottled", 400), ("InternalFailure", 500)),
    (
        "ec2",
        lambda c: c.describe_instances(),
        ("RequestLimitExceeded", 503),
        ("InternalError", 500),
    ),
    ("iam", lambda c: c.list_users(), ("Throttling", 400), ("InternalFailure", 500)),
    ("sns", lambda c: c.list_topics(), ("Throttling", 400), ("InternalFailure", 500)),
    ("s3", lambda c: c.list_buckets(), ("SlowDown", 503), ("InternalError", 500)),
    (
        "lambda",
        lambda c: c.list_functions(),
        ("TooManyRequestsException", 429),
        ("ServiceException", 500),
    ),
]
SERVICE_IDS = [service for service, *_ in SERVICES]


async def client_error(call: Awaitable[Any]) -> ClientError:
    with pytest.raises(ClientError) as caught:
        await call
    return caught.value


def status_of(error: ClientError) -> int:
    return int(error.response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("service", "call", "throttle", "server_error"), SERVICES, ids=SERVICE_IDS)
async def test_throttle_is_the_error_aws_sends(
    fault_proxy: FaultProxy,
    session: AioSession,
    backend: str,
    service: str,
    call: Call,
    throttle: tuple[str, int],
    server_error: tuple[str, int],
) -> None:
    async with aws_client(session, service, fault_proxy.endpoint_url, backend=backend) as client:
        fault_proxy.fail_next(1, "throttle")
        error = await client_error(call(client))
        assert (error.response["Error"]["Code"], status_of(error)) == throttle

        response = await call(client)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert fault_proxy.counters == ProxyCounters(
        requests=2, forwarded=1, throttled=1, by_service={service: 2}
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("service", "call", "throttle", "server_error"), SERVICES, ids=SERVICE_IDS)
async def test_server_error_is_the_error_aws_sends(
    fault_proxy: FaultProxy,
    session: AioSession,
    service: str,
    call: Call,
    throttle: tuple[str, int],
    server_error: tuple[str, int],
) -> None:
    async with aws_client(session, service, fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "server_error")
        error = await client_error(call(client))
        assert (error.response["Error"]["Code"], status_of(error)) == server_error

        await call(client)

    assert fault_proxy.counters.server_errors == 1
    assert fault_proxy.counters.forwarded == 1


# service, a cheap call, an error AWS sends for it (code, status)
ERRORS: list[tuple[str, Call, tuple[str, int]]] = [
    ("dynamodb", lambda c: c.list_tables(), ("ResourceNotFoundException", 400)),
    ("logs", lambda c: c.describe_log_groups(), ("AccessDeniedException", 400)),
    ("sqs", lambda c: c.list_queues(), ("QueueDoesNotExist", 400)),
    ("ec2", lambda c: c.describe_instances(), ("UnauthorizedOperation", 403)),
    ("iam", lambda c: c.list_users(), ("NoSuchEntity", 404)),
    ("s3", lambda c: c.list_objects_v2(Bucket="music"), ("NoSuchBucket", 404)),
    ("lambda", lambda c: c.list_functions(), ("ResourceNotFoundException", 404)),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("service", "call", "sent"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_any_error_with_its_status(
    fault_proxy: FaultProxy,
    session: AioSession,
    service: str,
    call: Call,
    sent: tuple[str, int],
) -> None:
    code, status = sent
    async with aws_client(session, service, fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "error", code=code, status=status)
        error = await client_error(call(client))

        modeled = getattr(client.exceptions, code, None)
    assert (error.response["Error"]["Code"], status_of(error)) == sent
    if modeled is not None:  # botocore raises the service's own exception class
        assert isinstance(error, modeled)
    assert fault_proxy.counters == ProxyCounters(requests=1, errors=1, by_service={service: 1})


@pytest.mark.asyncio
async def test_sqs_throttle_is_query_compatible(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    async with aws_client(session, "sqs", fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "throttle")
        error = await client_error(client.list_queues())

    assert error.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"] == (
        "RequestThrottled;Sender"
    )
    # botocore-stubs leave "Type" out of the error's shape; query-compatible errors have it.
    response: dict[str, Any] = cast(dict[str, Any], error.response)
    assert response["Error"]["Type"] == "Sender"


@pytest.mark.asyncio
async def test_lambda_throttle_is_the_modeled_exception(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    async with aws_client(session, "lambda", fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "throttle")
        with pytest.raises(client.exceptions.TooManyRequestsException):
            await client.list_functions()


@pytest.mark.asyncio
async def test_throttle_code_can_be_chosen(fault_proxy: FaultProxy, session: AioSession) -> None:
    async with aws_client(session, "dynamodb", fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "throttle", code="ProvisionedThroughputExceededException")
        with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as caught:
            await client.scan(TableName="music")

    assert status_of(caught.value) == 400


@pytest.mark.asyncio
async def test_retry_after_headers_on_throttles(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    fault_proxy.configure(retry_after=1.5)
    fault_proxy.fail_next(1, "throttle")
    async with aws_client(session, "dynamodb", fault_proxy.endpoint_url) as client:
        error = await client_error(client.list_tables())

    headers = error.response["ResponseMetadata"]["HTTPHeaders"]
    # x-amz-retry-after (milliseconds) is the header botocore's standard retry mode reads.
    assert (headers["retry-after"], headers["x-amz-retry-after"]) == ("2", "1500")


@pytest.mark.asyncio
async def test_throttled_head_has_no_body(fault_proxy: FaultProxy, session: AioSession) -> None:
    async with aws_client(session, "s3", fault_proxy.endpoint_url) as client:
        await client.create_bucket(Bucket="music")
        fault_proxy.fail_next(1, "throttle")
        error = await client_error(client.head_bucket(Bucket="music"))
        await client.head_bucket(Bucket="music")

    # As on AWS: a HEAD error has no body, so botocore can only report the status.
    assert (error.response["Error"]["Code"], status_of(error)) == ("503", 503)


@pytest.mark.asyncio
async def test_botocore_retries_through_server_errors(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    retries = {"mode": "standard", "total_max_attempts": 3}
    async with aws_client(session, "dynamodb", fault_proxy.endpoint_url, retries=retries) as client:
        fault_proxy.fail_next(1, "server_error")  # one: botocore sleeps up to 1 s before it
        response = await client.list_tables()

    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    assert fault_proxy.counters.server_errors == 1
    assert fault_proxy.counters.forwarded == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", BACKENDS)
async def test_reset_is_a_connection_error(
    fault_proxy: FaultProxy, session: AioSession, backend: str
) -> None:
    async with aws_client(session, "dynamodb", fault_proxy.endpoint_url, backend=backend) as client:
        await client.list_tables()  # a kept-alive connection, as in a long pagination
        fault_proxy.fail_next(1, "reset")
        with pytest.raises((BotocoreConnectionError, HTTPClientError)):
            await client.list_tables()
        await client.list_tables()

    assert fault_proxy.counters.resets == 1
    assert fault_proxy.counters.forwarded == 2


@pytest.mark.asyncio
async def test_aiohttp_resends_an_idempotent_request_once_after_a_reset(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    async with aws_client(session, "s3", fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "reset")
        await client.list_buckets()  # aiohttp sent the GET again by itself
        assert fault_proxy.counters.requests == 2

        fault_proxy.fail_next(2, "reset")
        with pytest.raises((BotocoreConnectionError, HTTPClientError)):
            await client.list_buckets()

    assert fault_proxy.counters.resets == 3


@pytest.mark.asyncio
async def test_latency_delays_requests(fault_proxy: FaultProxy, session: AioSession) -> None:
    fault_proxy.configure(latency=0.02, latency_jitter=0.01)
    async with aws_client(session, "dynamodb", fault_proxy.endpoint_url) as client:
        for _ in range(3):
            await client.list_tables()

    assert fault_proxy.counters.delayed == 3
    assert all(0.02 <= event.delay <= 0.03 for event in fault_proxy.events)


@pytest.mark.asyncio
async def test_rates_and_queue_respect_their_filters(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    fault_proxy.configure(throttle=1.0, only_service="sqs")
    fault_proxy.fail_next(1, "server_error", only_service="sqs", only_operation="ListQueues")
    async with (
        aws_client(session, "dynamodb", fault_proxy.endpoint_url) as dynamodb,
        aws_client(session, "sqs", fault_proxy.endpoint_url) as sqs,
    ):
        await dynamodb.list_tables()
        assert fault_proxy.pending == 1

        first = await client_error(sqs.list_queues())
        second = await client_error(sqs.list_queues())

    assert first.response["Error"]["Code"] == "InternalFailure"
    assert second.response["Error"]["Code"] == "RequestThrottled"
    assert [(e.service, e.operation, e.action) for e in fault_proxy.events] == [
        ("dynamodb", "ListTables", "forward"),
        ("sqs", "ListQueues", "server_error"),
        ("sqs", "ListQueues", "throttle"),
    ]


async def record_actions(proxy: FaultProxy, session: AioSession, calls: int) -> list[str]:
    async with aws_client(session, "dynamodb", proxy.endpoint_url) as client:
        for _ in range(calls):
            with suppress(ClientError, BotocoreConnectionError, HTTPClientError):
                await client.list_tables()
    return [event.action for event in proxy.events]


RATES = {"throttle": 0.3, "server_error": 0.2, "reset": 0.1}


def configure_rates(proxy: FaultProxy) -> None:
    proxy.configure(
        throttle=RATES["throttle"], server_error=RATES["server_error"], reset=RATES["reset"]
    )


@pytest.mark.asyncio
async def test_same_seed_same_faults(
    moto_endpoint: str, fault_proxy_factory: FaultProxyFactory, session: AioSession
) -> None:
    first, second, other = (fault_proxy_factory(moto_endpoint, seed=s) for s in (7, 7, 8))
    for proxy in (first, second, other):
        configure_rates(proxy)

    actions = [await record_actions(proxy, session, 30) for proxy in (first, second, other)]

    assert actions[0] == actions[1]
    assert actions[0] != actions[2]
    assert set(actions[0]) == {"forward", "throttle", "server_error", "reset"}


@pytest.mark.asyncio
async def test_queued_faults_do_not_shift_the_seeded_ones(
    moto_endpoint: str, fault_proxy_factory: FaultProxyFactory, session: AioSession
) -> None:
    plain, queued = (
        fault_proxy_factory(moto_endpoint, seed=3),
        fault_proxy_factory(moto_endpoint, seed=3),
    )
    for proxy in (plain, queued):
        configure_rates(proxy)
    queued.fail_next(1, "server_error")

    plain_actions = await record_actions(plain, session, 12)
    queued_actions = await record_actions(queued, session, 12)

    assert queued_actions == ["server_error", *plain_actions[1:]]


@pytest.mark.asyncio
async def test_counters_count_and_reset(fault_proxy: FaultProxy, session: AioSession) -> None:
    async with aws_client(session, "dynamodb", fault_proxy.endpoint_url) as client:
        fault_proxy.fail_next(1, "throttle")
        fault_proxy.fail_next(1, "server_error")
        for _ in range(3):
            with suppress(ClientError):
                await client.list_tables()

    assert fault_proxy.counters == ProxyCounters(
        requests=3, forwarded=1, throttled=1, server_errors=1, by_service={"dynamodb": 3}
    )
    fault_proxy.reset_counters()
    assert fault_proxy.counters == ProxyCounters()
    assert fault_proxy.events == ()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1:5000",
        "http://169.254.169.254",
        "http://example.com:80",
        "http://dynamodb.us-east-1.amazonaws.com",
        "https://127.0.0.1:5000",
        "http://127.0.0.1:5000/prefix",
        "http://user:secret@127.0.0.1:5000",
        "127.0.0.1:5000",
    ],
)
def test_only_bare_loopback_http_targets(url: str) -> None:
    with pytest.raises(ValueError, match=r"loopback|plain http|bare|no host"):
        FaultProxy(url)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5000", "http://127.8.9.10:1", "http://localhost:5000/", "http://[::1]:5000"],
)
def test_loopback_targets_are_accepted(url: str) -> None:
    assert FaultProxy(url).target_url == url


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"throttle": 1.5}, "probability"),
        ({"reset": -0.1}, "probability"),
        ({"throttle": 0.6, "server_error": 0.6}, "must not exceed 1"),
        ({"latency": -1.0}, "negative"),
    ],
)
def test_configure_refuses_impossible_rates(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultProxy("http://127.0.0.1:5000").configure(**settings)


def test_fail_next_refuses_nonsense() -> None:
    proxy = FaultProxy("http://127.0.0.1:5000")
    with pytest.raises(ValueError, match="kind"):
        proxy.fail_next(1, "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        proxy.fail_next(-1, "throttle")
    with pytest.raises(ValueError, match="no error code"):
        proxy.fail_next(1, "reset", code="SlowDown")
    with pytest.raises(ValueError, match="code or status"):
        proxy.fail_next(1, "reset", status=503)
    with pytest.raises(ValueError, match="needs its code and its HTTP status"):
        proxy.fail_next(1, "error", code="AccessDenied")
    with pytest.raises(ValueError, match="needs its code and its HTTP status"):
        proxy.fail_next(1, "error", status=403)
    with pytest.raises(ValueError, match=r"400\.\.599"):
        proxy.fail_next(1, "error", code="Fine", status=200)
    assert proxy.pending == 0
    with pytest.raises(ValueError, match="skip"):
        proxy.hold(skip=-1)


def test_trio_client_through_the_proxy(fault_proxy: FaultProxy, session: AioSession) -> None:
    async def main() -> tuple[str, int]:
        async with aws_client(
            session, "dynamodb", fault_proxy.endpoint_url, backend="httpx"
        ) as client:
            fault_proxy.fail_next(1, "throttle")
            error = await client_error(client.list_tables())
            tables = await client.list_tables()
        return error.response["Error"]["Code"], len(tables["TableNames"])

    assert trio.run(main) == ("ThrottlingException", 0)


# -- holding requests in flight ---------------------------------------------------------


@pytest.mark.asyncio
async def test_held_requests_wait_until_released(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    fault_proxy.hold()
    async with (
        aws_client(session, "dynamodb", fault_proxy.endpoint_url) as client,
        anyio.create_task_group() as tg,
    ):
        for _ in range(2):
            tg.start_soon(client.list_tables)
        with anyio.fail_after(20):
            await fault_proxy.wait_held(2)

        assert fault_proxy.held == 2
        assert fault_proxy.counters == ProxyCounters(requests=2, by_service={"dynamodb": 2})
        fault_proxy.release()
    assert fault_proxy.held == 0
    assert fault_proxy.counters.forwarded == 2


@pytest.mark.asyncio
async def test_hold_can_let_the_first_requests_pass(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    fault_proxy.hold(skip=1)
    async with (
        aws_client(session, "dynamodb", fault_proxy.endpoint_url) as client,
        anyio.create_task_group() as tg,
    ):
        await client.list_tables()  # the first passes
        tg.start_soon(client.list_tables)
        with anyio.fail_after(20):
            await fault_proxy.wait_held()

        assert fault_proxy.counters.forwarded == 1
        fault_proxy.release()
    assert fault_proxy.counters.forwarded == 2


@pytest.mark.asyncio
async def test_hold_respects_its_filter_and_never_changes_a_fate(
    fault_proxy: FaultProxy, session: AioSession
) -> None:
    fault_proxy.hold(only_service="sqs")
    async with (
        aws_client(session, "dynamodb", fault_proxy.endpoint_url) as dynamodb,
        aws_client(session, "sqs", fault_proxy.endpoint_url) as sqs,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(sqs.list_queues)
        with anyio.fail_after(20):
            await fault_proxy.wait_held()
        # The held request was decided when it came: a fault queued now is for the next.
        fault_proxy.fail_next(1, "throttle")
        error = await client_error(dynamodb.list_tables())  # not held
        fault_proxy.release()

    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert [(e.service, e.action) for e in fault_proxy.events] == [
        ("sqs", "forward"),
        ("dynamodb", "throttle"),
    ]
    assert fault_proxy.counters.forwarded == 1  # the sqs request, once released


def test_wait_held_from_trio(fault_proxy: FaultProxy, session: AioSession) -> None:
    """The proxy's thread wakes a trio task, and a trio client can give up a held request."""

    async def main() -> int:
        async with aws_client(
            session, "dynamodb", fault_proxy.endpoint_url, backend="httpx"
        ) as client:
            fault_proxy.hold()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.list_tables)
                with trio.fail_after(20):
                    await fault_proxy.wait_held()
                nursery.cancel_scope.cancel()  # the client gives up on the held request
            fault_proxy.release()
            tables = await client.list_tables()
        return len(tables["TableNames"])

    assert trio.run(main) == 0
    assert fault_proxy.counters.requests == 2


@pytest.mark.asyncio
async def test_a_cancelled_wait_held_returns_at_once(fault_proxy: FaultProxy) -> None:
    with anyio.move_on_after(0.05) as scope:
        await fault_proxy.wait_held()  # nothing is held, ever
    assert scope.cancelled_caught


def test_wait_held_blocking_times_out_and_refuses_a_stopped_proxy(
    moto_server: MotoServer,
) -> None:
    proxy = FaultProxy(moto_server.endpoint_url)
    with pytest.raises(RuntimeError, match="not running"):
        proxy.wait_held_blocking()
    with proxy:
        with pytest.raises(TimeoutError, match="0 of 1"):
            proxy.wait_held_blocking(timeout=0.01)
        with pytest.raises(ValueError, match="at least 1"):
            proxy.wait_held_blocking(0)
    with pytest.raises(RuntimeError, match="stopped"):
        proxy.wait_held_blocking()


# -- HTTP details, against a small upstream whose behaviour the test controls ---------


class _ChunkedEcho(http.server.BaseHTTPRequestHandler):
    """Answers every request with its method, path and body, in a chunked response."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        payload = f"{self.command} {self.path} ".encode() + body
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(payload), 5):
            piece = payload[start : start + 5]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST

    def do_PUT(self) -> None:
        """Sends the body back, gzip-labelled, with the headers it got in ``X-Received``."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("x-amz-crc32", str(zlib.crc32(body)))
        self.send_header("X-Received", json.dumps(list(self.headers.items())))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChunkedEcho)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def exchange(sock: socket.socket, request: bytes) -> bytes:
    """Send one request; read one response with Content-Length framing."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_absolute_form_keep_alive_and_chunked_upstream(
    echo_url: str, fault_proxy_factory: FaultProxyFactory
) -> None:
    proxy = fault_proxy_factory(echo_url)
    port = proxy.endpoint_url.rsplit(":", 1)[1]
    with socket.create_connection(("127.0.0.1", int(port))) as sock:
        first = exchange(
            sock,
            f"POST http://127.0.0.1:{port}/path?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Length: 11\r\n\r\nhello world".encode(),
        )
        second = exchange(sock, b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")

    assert first.startswith(b"HTTP/1.1 200 ")
    assert first.endswith(b"\r\n\r\nPOST /path?x=1 hello world")
    assert b"chunked" not in first.lower()
    assert second.endswith(b"\r\n\r\nGET /again ")
    assert proxy.counters.forwarded == 2


def test_bodies_and_headers_pass_through_as_they_are(
    echo_url: str, fault_proxy_factory: FaultProxyFactory
) -> None:
    proxy = fault_proxy_factory(echo_url)
    port = int(proxy.endpoint_url.rsplit(":", 1)[1])
    body = gzip.compress(b'{"TableName": "music"}')
    with socket.create_connection(("127.0.0.1", port)) as sock:
        response = exchange(
            sock,
            b"PUT /q?a=%2F&b=%20 HTTP/1.1\r\nHost: example:1\r\nContent-Encoding: gzip\r\n"
            b"authorization: AWS4-HMAC-SHA256 Credential=x\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body,
        )

    head, _, answer = response.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert answer == body  # still compressed, both ways
    assert headers["Content-Encoding"] == "gzip"
    assert headers["x-amz-crc32"] == str(zlib.crc32(body))
    assert json.loads(headers["X-Received"]) == [
        ["Host", "example:1"],
        ["Content-Encoding", "gzip"],
        ["authorization", "AWS4-HMAC-SHA256 Credential=x"],
        ["Content-Length", str(len(body))],
    ]


def test_expect_100_continue_is_answered_before_the_body(
    echo_url: str, fault_proxy_factory: FaultProxyFactory
) -> None:
    proxy = fault_proxy_factory(echo_url)
    with socket.create_connection(("127.0.0.1", int(proxy.endpoint_url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(
            b"PUT /big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        )
        assert sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        response = exchange(sock, b"data")

    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"\r\n\r\ndata")
    assert "Expect" not in dict(json.loads(response.split(b"X-Received: ")[1].split(b"\r\n")[0]))


def test_unreachable_target_is_a_502(fault_proxy_factory: FaultProxyFactory) -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        free_port = placeholder.getsockname()[1]
    proxy = fault_proxy_factory(f"http://127.0.0.1:{free_port}")
    with socket.create_connection(("127.0.0.1", int(proxy.endpoint_url.rsplit(":", 1)[1]))) as sock:
        response = exchange(sock, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")

    assert response.startswith(b"HTTP/1.1 502 ")
    assert proxy.counters.upstream_errors == 1


def test_stop_closes_every_socket(moto_server: MotoServer) -> None:
    proxy = FaultProxy(moto_server.endpoint_url).start()
    port = int(proxy.endpoint_url.rsplit(":", 1)[1])
    client = socket.create_connection(("127.0.0.1", port))
    exchange(client, b"GET /moto-api/data.json HTTP/1.1\r\nHost: x\r\n\r\n")

    proxy.stop()
    proxy.stop()

    assert client.recv(1) == b""  # the proxy closed the kept-alive connection
    client.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port)).close()
    with pytest.raises(RuntimeError):
        _ = proxy.endpoint_url


def test_stop_drops_requests_in_flight_quietly(
    moto_server: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = FaultProxy(moto_server.endpoint_url).start()
    proxy.configure(latency=30.0)
    proxy.hold()
    port = int(proxy.endpoint_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET /moto-api/data.json HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n")
        exchange(client, b"")  # the control plane is neither held nor delayed
        client.sendall(b"Host: x\r\n\r\n")
        proxy.wait_held_blocking()

        proxy.stop()

        assert client.recv(1) == b""
    assert [record for record in caplog.records if record.levelname == "ERROR"] == []


class _StalledServer(http.server.ThreadingHTTPServer):
    """An upstream that never answers: it counts requests, and hang-ups by the proxy."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Stall)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.changed = threading.Condition()
        self.arrived = self.hung_up = 0

    def count(self, name: str) -> None:
        with self.changed:
            setattr(self, name, getattr(self, name) + 1)
            self.changed.notify_all()

    def wait_for(self, name: str, n: int, timeout: float = 10.0) -> int:
        with self.changed:
            self.changed.wait_for(lambda: getattr(self, name) >= n, timeout)
            return int(getattr(self, name))


class _Stall(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StalledServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.count("arrived")
        self.rfile.read(1)  # returns once the proxy closes the connection
        self.server.count("hung_up")
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stalled() -> Iterator[_StalledServer]:
    server = _StalledServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", BACKENDS)
async def test_clients_giving_up_leave_nothing_behind(
    stalled: _StalledServer,
    fault_proxy_factory: FaultProxyFactory,
    session: AioSession,
    backend: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request cancelled while the proxy waits upstream ends upstream too, silently.

    No "Task was destroyed but it is pending!", no "coroutine ignored GeneratorExit", no
    ResourceWarning: nothing a warnings-as-errors suite would trip over.
    """
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    proxy = fault_proxy_factory(stalled.url)
    calls = 10
    async with aws_client(session, "dynamodb", proxy.endpoint_url, backend=backend) as client:
        for n in range(1, calls + 1):
            call = asyncio.ensure_future(client.list_tables())
            assert await asyncio.to_thread(stalled.wait_for, "arrived", n) == n
            call.cancel()  # the request is waiting upstream
            with suppress(asyncio.CancelledError):
                await call
    hung_up = await asyncio.to_thread(stalled.wait_for, "hung_up", calls)
    gc.collect()

    assert unraisable == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert hung_up == calls  # the proxy gave up each upstream request as its client left
    assert proxy.counters.requests == calls


def test_stop_cancels_the_requests_waiting_upstream_quietly(
    stalled: _StalledServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    proxy = FaultProxy(stalled.url).start()
    port = int(proxy.endpoint_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert stalled.wait_for("arrived", 1) == 1

        proxy.stop()

        assert client.recv(1) == b""
    assert stalled.wait_for("hung_up", 1) == 1
    gc.collect()
    assert unraisable == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
