"""The FastAPI example under a real uvicorn server, behind the fault proxy in front of moto.

Each test starts ``examples/fastapi_app.py`` in uvicorn on 127.0.0.1 (in a thread with
its own event loop), pointed at the ``fault_proxy`` fixture through
``ASYNCPAGE_ENDPOINT_URL``, and talks to it with httpx. ``fault_proxy`` is overridden here
to sit in front of moto seeded once for the module (the plugin's own resets moto per test).
Data is seeded straight into moto (not through the proxy), so the proxy's counters count
the app's AWS requests only; boto3's paginators over the same data are the oracle.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
import os
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any
from urllib.parse import urlencode

import boto3
import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, Query, Response

from _docs import docs_file
from asyncpage.fastapi import (
    AWSClients,
    CursorBinding,
    CursorPage,
    CursorSigner,
    Pager,
    add_exception_handlers,
    aws_client,
)
from asyncpage.testing import FaultProxy, FaultProxyFactory, MotoServer, ScriptedAWS

SECRET = "test-secret-Qm7vK2xP9tLw4bN8cR3zY6hF"
REGION = "us-east-1"
BUCKET = "alpha"  # 250 objects
OTHER_BUCKET = "beta"  # 5 objects
EMPTY_BUCKET = "empty"
TABLE = "items"  # 230 items
OBJECTS = 250
ITEMS = 230
EXAMPLE = Path(__file__).parent.parent / "examples" / "fastapi_app.py"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("asyncpage_example_fastapi_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves generic models through it
    spec.loader.exec_module(module)
    return module


example = _load_example()


class AppServer:
    """uvicorn serving ``app`` on a free port of 127.0.0.1, in a thread with its own loop."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="uvicorn-test", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            with asyncio.Runner() as runner:
                self.loop = runner.get_loop()
                runner.run(self.server.serve(sockets=[self._socket]))
        except BaseException as exc:  # reported by start()/stop()
            self.error = exc

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop(raise_error=False)
                raise RuntimeError(f"uvicorn did not start: {self.error!r}")
            time.sleep(0.01)

    def stop(self, *, raise_error: bool = True) -> None:
        self.server.should_exit = True
        self._thread.join(30)
        self._socket.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"
        if self.error is not None and raise_error:
            raise self.error

    def tasks(self) -> Counter[str]:
        """What the server's event loop is running, by coroutine name (this probe excluded)."""

        async def probe() -> Counter[str]:
            me = asyncio.current_task()
            return Counter(
                getattr(task.get_coro(), "__qualname__", "?")
                for task in asyncio.all_tasks()
                if task is not me
            )

        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(probe(), self.loop).result(10)

    def idle_tasks(self, timeout: float = 10.0) -> Counter[str]:
        """What the loop runs once no request is being served (uvicorn's cycle tasks gone)."""
        deadline = time.monotonic() + timeout
        while True:
            running = self.tasks()
            if not any("run_asgi" in name for name in running) or time.monotonic() > deadline:
                return running
            time.sleep(0.02)

    def wait_for_tasks(self, expected: Counter[str], timeout: float = 10.0) -> Counter[str]:
        """Poll until the loop runs exactly ``expected``; return what it ran last."""
        deadline = time.monotonic() + timeout
        while True:
            running = self.tasks()
            if running == expected or time.monotonic() > deadline:
                return running
            time.sleep(0.02)

    @property
    def lifespan_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.server.lifespan.state
        return state


class ServerErrors(logging.Handler):
    """Collects ERROR records the server logs (e.g. "Exception in ASGI application")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def moto_clients(moto_server: MotoServer) -> dict[str, Any]:
    """boto3 clients straight to moto (bypassing any proxy), after seeding it once."""
    moto_server.reset()
    kwargs = {"endpoint_url": moto_server.endpoint_url, "region_name": REGION, **CREDENTIALS}
    s3 = boto3.client("s3", **kwargs)
    dynamodb = boto3.client("dynamodb", **kwargs)
    for bucket, count in ((BUCKET, OBJECTS), (OTHER_BUCKET, 5), (EMPTY_BUCKET, 0)):
        s3.create_bucket(Bucket=bucket)
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i, b=bucket: s3.put_object(
                        Bucket=b, Key=f"logs/{i % 7}/{i:04d}.json", Body=b"x" * (i % 50)
                    ),
                    range(count),
                )
            )
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for start in range(0, ITEMS, 25):
        rows = [
            {"pk": {"S": f"item-{i:04d}"}, "n": {"N": str(i)}, "blob": {"B": bytes([i % 256])}}
            for i in range(start, min(start + 25, ITEMS))
        ]
        dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": r}} for r in rows]})
    return {"s3": s3, "dynamodb": dynamodb}


@pytest.fixture
def fault_proxy(
    fault_proxy_factory: FaultProxyFactory,
    moto_server: MotoServer,
    moto_clients: dict[str, Any],
    aws_credentials: None,
) -> FaultProxy:
    """The plugin's fault proxy, in front of this module's seeded moto (seeded once, not reset).

    The tests only read, so the data seeded for the module serves them all.
    """
    return fault_proxy_factory(moto_server.endpoint_url)


@pytest.fixture
def app_environment(fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the example reads at startup, pointed at the fault proxy."""
    monkeypatch.setenv("ASYNCPAGE_ENDPOINT_URL", fault_proxy.endpoint_url)
    monkeypatch.setenv("ASYNCPAGE_CURSOR_SECRET", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # One HTTP attempt per page request: asyncpage's page retries (waits off in tests) are
    # the only ones, so a queued fault fails exactly one page attempt.
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@contextmanager
def serving(app: Any, fault_proxy: FaultProxy) -> Iterator[AppServer]:
    """``app`` in uvicorn, proxy counters zeroed once it started; no server errors allowed."""
    errors = ServerErrors()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "asyncpage", "asyncio")]
    for logger in loggers:
        logger.addHandler(errors)
    app_server = AppServer(app)
    app_server.start()
    try:
        fault_proxy.reset_counters()
        yield app_server
    finally:
        app_server.stop()
        for logger in loggers:
            logger.removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == []


@pytest.fixture
def server(app_environment: None, fault_proxy: FaultProxy) -> Iterator[AppServer]:
    """The example app in uvicorn, pointed at the fault proxy; no server errors allowed."""
    with serving(example.app, fault_proxy) as app_server:
        yield app_server


def make_scan_app() -> FastAPI:
    """An app of the test's own: a DynamoDB scan whose filter and segment the caller picks.

    What the example cannot show: a segment the caller gets wrong (DynamoDB's own
    ValidationException), and a filtered scan whose last items sit on a page that the
    service says is not the last.
    """
    clients = AWSClients(
        ["dynamodb"], region=REGION, endpoint_url=os.environ["ASYNCPAGE_ENDPOINT_URL"]
    )
    app = FastAPI(lifespan=clients.lifespan)
    add_exception_handlers(app)
    pager = Pager(CursorSigner(SECRET), purpose="test-scan", page_size=100)

    @app.get("/tables/{table}/items")
    async def scan(
        table: str,
        dynamodb: Annotated[Any, Depends(aws_client("dynamodb"))],
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
        below: int | None = None,
        segment: int | None = None,
        segments: int | None = None,
    ) -> CursorPage[Any]:
        params: dict[str, Any] = {"TableName": table}
        if below is not None:
            params["FilterExpression"] = "n < :below"
            params["ExpressionAttributeValues"] = {":below": {"N": str(below)}}
        if segment is not None and segments is not None:
            params.update(Segment=segment, TotalSegments=segments)
        return await pager.page(dynamodb, "scan", limit=limit, cursor=cursor, **params)

    return app


@pytest.fixture
def scan_http(app_environment: None, fault_proxy: FaultProxy) -> Iterator[httpx.Client]:
    """A client of :func:`make_scan_app` in uvicorn, pointed at the fault proxy."""
    with (
        serving(make_scan_app(), fault_proxy) as app_server,
        httpx.Client(base_url=app_server.url, timeout=30) as client,
    ):
        yield client


@pytest.fixture
def http(server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def s3_listing(moto_clients: dict[str, Any], bucket: str = BUCKET) -> list[dict[str, Any]]:
    pages = moto_clients["s3"].get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [{"Key": o["Key"], "Size": o["Size"]} for page in pages for o in page["Contents"]]


def table_listing(moto_clients: dict[str, Any]) -> list[dict[str, Any]]:
    pages = moto_clients["dynamodb"].get_paginator("scan").paginate(TableName=TABLE)
    items = [item for page in pages for item in page["Items"]]
    for item in items:  # the API sends binary values as base64 text
        item["blob"]["B"] = base64.b64encode(item["blob"]["B"]).decode()
    return items


def follow(http: httpx.Client, path: str, limits: list[int]) -> tuple[list[Any], int]:
    """Every item of ``path`` by following ``next_cursor``, cycling through ``limits``.

    Checks on the way that ``has_more`` is exact (no page after the first is empty) and
    that the ``Link`` header, when a next page exists, leads to the same page.
    """
    items: list[Any] = []
    params: dict[str, Any] = {"limit": limits[0]}
    requests = 0
    while True:
        response = http.get(path, params=params)
        requests += 1
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor", "has_more"}
        assert body["has_more"] is (body["next_cursor"] is not None)
        assert len(body["items"]) <= params["limit"]
        assert body["items"] or requests == 1
        items += body["items"]
        if not body["has_more"]:
            assert "link" not in response.headers
            return items, requests
        assert len(body["items"]) == params["limit"]
        query = urlencode({**params, "cursor": body["next_cursor"]})
        assert response.headers["link"] == f'<{path}?{query}>; rel="next"'
        params = {"limit": limits[requests % len(limits)], "cursor": body["next_cursor"]}


def ndjson(lines: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The item lines and the summary of an NDJSON body; the summary must be last."""
    decoded = [json.loads(line) for line in lines if line]
    *items, last = decoded
    assert all("summary" not in item for item in items)
    assert set(last) == {"summary"}
    assert set(last["summary"]) == {"items", "pages", "error", "resume_cursor"}
    return items, last["summary"]


# -- 1. following next_cursor ---------------------------------------------------------------


def test_next_cursor_walks_the_whole_bucket(
    http: httpx.Client, moto_clients: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    expected = s3_listing(moto_clients)
    # limit: AWS requests. PageSize follows the limit, capped at the app's PAGE_SIZE (100),
    # so no object is fetched twice. A page that ends where an AWS page ends with a token
    # costs one more request of one object (is there a next item?): 19 of the 20 at 13,
    # 2 of the 3 at 100; at 250 and 1000 the last AWS page ends the listing.
    aws_requests = {13: 20 + 19, 100: 3 + 2, 250: 3, 1000: 3}
    for limit, sent in aws_requests.items():
        fault_proxy.reset_counters()
        items, requests = follow(http, f"/buckets/{BUCKET}/objects", [limit])
        assert items == expected
        assert requests == -(-OBJECTS // limit)
        assert fault_proxy.counters.requests == sent


def test_next_cursor_survives_a_changing_limit_and_scans_a_table(
    http: httpx.Client, moto_clients: dict[str, Any]
) -> None:
    items, _ = follow(http, f"/buckets/{BUCKET}/objects", [11, 50, 200])
    assert items == s3_listing(moto_clients)
    expected = table_listing(moto_clients)
    for limits in ([9], [100, 1], [1000]):
        items, _ = follow(http, f"/tables/{TABLE}/items", limits)
        assert items == expected


def test_lowering_the_limit_mid_listing_repeats_nothing(
    http: httpx.Client, moto_clients: dict[str, Any]
) -> None:
    # A cursor 150 items in sits 50 items into an AWS page of 100; at limit 20 the Pager
    # asks AWS for pages of 20, shorter than that skip (botocore would repeat 30 items).
    expected = s3_listing(moto_clients)
    for limits in ([150, 20], [180, 30, 7], [99, 3]):
        items, _ = follow(http, f"/buckets/{BUCKET}/objects", limits)
        assert items == expected, limits


def test_has_more_is_exact_when_the_items_end_where_an_aws_page_ends(
    scan_http: httpx.Client, moto_clients: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    path = f"/tables/{TABLE}/items"
    filtered = {
        "TableName": TABLE,
        "FilterExpression": "n < :below",
        "ExpressionAttributeValues": {":below": {"N": "50"}},
    }
    pages = list(
        moto_clients["dynamodb"]
        .get_paginator("scan")
        .paginate(**filtered, PaginationConfig={"PageSize": 100})
    )
    expected = [item for page in pages for item in page["Items"]]
    for item in expected:
        item["blob"]["B"] = base64.b64encode(item["blob"]["B"]).decode()
    # The premise: the first AWS page of 100 holds all 50 matches, and says more follows.
    assert [len(page["Items"]) for page in pages] == [50, 0, 0]
    assert "LastEvaluatedKey" in pages[0]

    # 50 items, at the end of an AWS page with a token: no cursor to an empty page. It
    # took the page, one item read past it (filtered out), then the rest of the table.
    response = scan_http.get(path, params={"below": 50, "limit": 50})
    assert response.json() == {"items": expected, "next_cursor": None, "has_more": False}
    assert fault_proxy.counters.requests == 1 + 1 + 2

    # When an item does follow, one request of one item says so.
    fault_proxy.reset_counters()
    first = scan_http.get(path, params={"below": 50, "limit": 25}).json()
    assert first["items"] == expected[:25]
    assert first["has_more"] is True
    assert fault_proxy.counters.requests == 1 + 1
    rest = scan_http.get(path, params={"below": 50, "limit": 25, "cursor": first["next_cursor"]})
    assert rest.json() == {"items": expected[25:], "next_cursor": None, "has_more": False}
    # Without request and response, the app gets no Link header.
    assert "link" not in scan_http.get(path, params={"limit": 5}).headers


# -- 2. bad cursors --------------------------------------------------------------------------


def test_bad_cursors_get_a_400_and_never_reach_aws(
    http: httpx.Client, fault_proxy: FaultProxy, moto_clients: dict[str, Any]
) -> None:
    objects = f"/buckets/{BUCKET}/objects"
    first = http.get(objects, params={"limit": 10}).json()
    cursor = first["next_cursor"]
    table_cursor = http.get(f"/tables/{TABLE}/items", params={"limit": 10}).json()["next_cursor"]

    # The same position, issued two TTLs ago.
    binding = CursorBinding("s3", "list_objects_v2", REGION, {"Bucket": BUCKET})
    token = CursorSigner(SECRET).verify(cursor, binding, purpose=example.PURPOSE)
    past = CursorSigner(SECRET, clock=lambda: time.time() - 7200)
    expired = past.sign(token, binding, purpose=example.PURPOSE)
    # The same position, sealed with the same secret for another purpose (another app).
    other_purpose = CursorSigner(SECRET).sign(token, binding, purpose="another-app")
    # A botocore token for the same position, straight from boto3's paginator.
    paginator = moto_clients["s3"].get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=BUCKET, PaginationConfig={"MaxItems": 10, "PageSize": 10})
    raw_token = pages.build_full_result()["NextToken"]
    middle = len(cursor) // 2
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]

    cases = [
        (objects, tampered, "cursor_tampered"),
        (objects, expired, "cursor_expired"),
        (objects, other_purpose, "cursor_tampered"),
        (f"/buckets/{OTHER_BUCKET}/objects", cursor, "cursor_mismatch"),
        (objects, table_cursor, "cursor_mismatch"),
        (f"/tables/{TABLE}/items", cursor, "cursor_mismatch"),
        (objects, raw_token, "cursor_tampered"),
        (objects, "garbage", "cursor_tampered"),
        (objects, "", "cursor_tampered"),
        (objects, cursor + "=", "cursor_tampered"),
    ]
    before = fault_proxy.counters.requests
    for path, bad, error in cases:
        for route in (path, path + ".ndjson") if path.endswith("/objects") else (path,):
            response = http.get(route, params={"limit": 10, "cursor": bad})
            assert response.status_code == 400, (route, bad)
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert body["error"] == error, (route, bad, body)
            assert isinstance(body["detail"], str)
            assert body["detail"]
    assert fault_proxy.counters.requests == before

    # The genuine cursor still works, on the JSON route and on the stream.
    assert (
        http.get(objects, params={"limit": 10, "cursor": cursor}).json()["items"]
        == (s3_listing(moto_clients)[10:20])
    )


def test_pagers_sharing_a_secret_refuse_each_others_cursors(
    http: httpx.Client, scan_http: httpx.Client, fault_proxy: FaultProxy
) -> None:
    # Both apps scan the same table with the same parameters and the same secret: only the
    # Pager's purpose tells their cursors apart.
    path = f"/tables/{TABLE}/items"
    theirs = scan_http.get(path, params={"limit": 10}).json()["next_cursor"]
    ours = http.get(path, params={"limit": 10}).json()["next_cursor"]
    before = fault_proxy.counters.requests
    for client, cursor in ((http, theirs), (scan_http, ours)):
        response = client.get(path, params={"limit": 10, "cursor": cursor})
        assert response.status_code == 400
        assert response.json()["error"] == "cursor_tampered"
    assert fault_proxy.counters.requests == before
    assert http.get(path, params={"limit": 10, "cursor": ours}).status_code == 200


# -- 3. NDJSON streams ------------------------------------------------------------------------


def test_ndjson_streams_every_object_once_then_a_summary(
    http: httpx.Client, moto_clients: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    response = http.get(f"/buckets/{BUCKET}/objects.ndjson", params={"page_size": 40})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    items, summary = ndjson(response.text.split("\n"))
    assert response.text.endswith("\n")
    assert items == s3_listing(moto_clients)
    assert summary == {"items": OBJECTS, "pages": 7, "error": None, "resume_cursor": None}
    assert fault_proxy.counters.requests == 7

    # An empty bucket: a summary alone; an empty page with no cursor.
    response = http.get(f"/buckets/{EMPTY_BUCKET}/objects.ndjson")
    assert response.text == (
        '{"summary":{"items":0,"pages":1,"error":null,"resume_cursor":null}}\n'
    )
    empty_page = http.get(f"/buckets/{EMPTY_BUCKET}/objects").json()
    assert empty_page == {"items": [], "next_cursor": None, "has_more": False}

    # A JSON page's cursor continues on the stream: the same listing, the same binding.
    cursor = http.get(f"/buckets/{BUCKET}/objects", params={"limit": 30}).json()["next_cursor"]
    response = http.get(f"/buckets/{BUCKET}/objects.ndjson", params={"cursor": cursor})
    items, summary = ndjson(response.text.split("\n"))
    assert items == s3_listing(moto_clients)[30:]
    assert summary["items"] == OBJECTS - 30


def test_ndjson_failure_after_the_200_ends_with_error_and_resume_cursor(
    http: httpx.Client, moto_clients: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    expected = s3_listing(moto_clients)
    fault_proxy.hold(skip=1, only_service="s3")  # the first page passes, the next is held
    path = f"/buckets/{BUCKET}/objects.ndjson"
    lines: list[str] = []
    with http.stream("GET", path, params={"page_size": 25}) as response:
        assert response.status_code == 200
        lines_iter = response.iter_lines()
        lines.append(next(lines_iter))
        fault_proxy.wait_held_blocking()  # the read-ahead asks for page 2 (already decided)
        # From page 3 on, every request fails, more often than asyncpage retries a page.
        fault_proxy.fail_next(100, "server_error", only_service="s3")
        fault_proxy.release()
        lines += list(lines_iter)
    items, summary = ndjson(lines)
    assert items == expected[:50]
    assert summary["items"] == 50
    assert summary["pages"] == 2
    assert summary["error"] == {
        "error": "upstream_unavailable",
        "detail": "AWS failed transiently; retry later with the same cursor",
        "aws_error_code": "InternalError",
    }
    assert summary["resume_cursor"] is not None

    fault_proxy.clear()
    resumed = http.get(path, params={"cursor": summary["resume_cursor"], "page_size": 25})
    rest, final = ndjson(resumed.text.split("\n"))
    assert items + rest == expected
    assert final["error"] is None
    assert final["resume_cursor"] is None


def test_a_client_that_disconnects_cancels_the_listing(
    server: AppServer, http: httpx.Client, fault_proxy: FaultProxy
) -> None:
    http.get("/buckets/nothing/objects")  # warm up: the first request of the app
    idle = server.idle_tasks()
    fault_proxy.reset_counters()
    fault_proxy.hold(skip=1, only_service="s3")  # the first page passes, the next is held
    with http.stream("GET", f"/buckets/{BUCKET}/objects.ndjson", params={"page_size": 5}) as r:
        assert r.status_code == 200
        lines = r.iter_lines()  # held: dropping the iterator would close the connection
        first = json.loads(next(lines))
        assert "Key" in first
        fault_proxy.wait_held_blocking()  # the read-ahead request is in flight
        assert server.tasks() != idle  # the listing is running
    # Closing the unread response closed the connection: uvicorn saw the disconnect,
    # Starlette cancelled the response task, and the read-ahead went with it.
    assert server.wait_for_tasks(idle) == idle
    assert fault_proxy.counters.requests == 2  # the first page and the one read ahead
    fault_proxy.release()
    # The app still serves, and nothing of the abandoned listing shows up again.
    assert http.get(f"/buckets/{BUCKET}/objects", params={"limit": 5}).status_code == 200
    # The page, and one object past it (has_more is exact).
    assert fault_proxy.counters.requests == 2 + 2


# -- 4. limits and AWS errors ---------------------------------------------------------------


def test_a_limit_out_of_range_is_a_422(http: httpx.Client, fault_proxy: FaultProxy) -> None:
    for limit in ("1001", "-1", "0", "ten", "1.5", ""):
        for path in (f"/buckets/{BUCKET}/objects", f"/tables/{TABLE}/items"):
            response = http.get(path, params={"limit": limit})
            assert response.status_code == 422
            (problem,) = response.json()["detail"]
            assert problem["loc"] == ["query", "limit"]
            assert problem["msg"]
    assert fault_proxy.counters.requests == 0


def test_aws_errors_are_json_errors_and_never_a_200(
    http: httpx.Client, fault_proxy: FaultProxy
) -> None:
    for path in ("/buckets/missing/objects", "/buckets/missing/objects.ndjson"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "detail": "AWS reports that the resource does not exist",
            "aws_error_code": "NoSuchBucket",
        }
    # Throttled on every attempt of the first page: a 503 to retry later, even for a stream.
    for path in (f"/buckets/{BUCKET}/objects", f"/buckets/{BUCKET}/objects.ndjson"):
        fault_proxy.fail_next(100, "throttle", only_service="s3")
        response = http.get(path)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"] == "upstream_throttled"
        assert response.json()["aws_error_code"] == "SlowDown"
        fault_proxy.clear()


def test_what_the_caller_got_wrong_is_a_4xx_and_no_warning(
    http: httpx.Client,
    scan_http: httpx.Client,
    fault_proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="asyncpage.fastapi")
    invalid = {
        "error": "invalid_parameter",
        "detail": "a parameter of this request is not valid for AWS",
    }
    # A bucket name botocore refuses: nothing is sent, and botocore's message (which quotes
    # the parameters) is not either.
    for path in ("/buckets/bad!name/objects", "/buckets/bad!name/objects.ndjson"):
        response = http.get(path)
        assert response.status_code == 400, path
        assert response.json() == {**invalid, "aws_error_code": None}
    assert fault_proxy.counters.requests == 0
    # DynamoDB answers a missing table with HTTP 400 ResourceNotFoundException.
    for client in (http, scan_http):
        response = client.get("/tables/missing/items")
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "detail": "AWS reports that the resource does not exist",
            "aws_error_code": "ResourceNotFoundException",
        }
    # A segment out of range: DynamoDB's own ValidationException.
    response = scan_http.get(f"/tables/{TABLE}/items", params={"segment": 5, "segments": 2})
    assert response.status_code == 400
    assert response.json() == {**invalid, "aws_error_code": "ValidationException"}
    assert "segment" not in response.text.lower()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    # AWS failing stays a 5xx, whatever code it sends: a 500 is AWS's fault.
    fault_proxy.fail_next(100, "server_error", code="ValidationException", only_service="dynamodb")
    response = scan_http.get(f"/tables/{TABLE}/items")
    assert response.status_code == 503
    assert response.json()["error"] == "upstream_unavailable"
    fault_proxy.clear()
    # A 400 that is not the caller's doing (the app's credentials) stays a 502. The proxy's
    # throttle fault is DynamoDB's 400 envelope; the code makes it something else.
    fault_proxy.fail_next(1, "throttle", code="AccessDeniedException", only_service="dynamodb")
    response = scan_http.get(f"/tables/{TABLE}/items")
    assert response.status_code == 502
    assert response.json() == {
        "error": "upstream_error",
        "detail": "the AWS request for this listing failed",
        "aws_error_code": "AccessDeniedException",
    }


def test_clients_are_opened_once_and_closed_at_shutdown(fault_proxy: FaultProxy) -> None:
    server = AppServer(example.app)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ASYNCPAGE_ENDPOINT_URL", fault_proxy.endpoint_url)
        env.setenv("ASYNCPAGE_CURSOR_SECRET", SECRET)
        server.start()
    clients = server.lifespan_state[AWSClients.state_key]
    s3 = clients.get("s3")
    with httpx.Client(base_url=server.url) as http:
        for _ in range(3):
            assert http.get("/buckets/missing/objects").status_code == 404
    assert clients.get("s3") is s3
    server.stop()
    with pytest.raises(LookupError, match="closed"):
        clients.get("s3")


def test_the_app_refuses_to_start_without_a_secret_for_a_real_endpoint(
    fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ASYNCPAGE_ENDPOINT_URL", fault_proxy.endpoint_url)
    monkeypatch.delenv("ASYNCPAGE_CURSOR_SECRET", raising=False)
    with pytest.raises(RuntimeError, match="did not start"):
        AppServer(example.app).start()
    assert "ASYNCPAGE_CURSOR_SECRET must be set" in caplog.text


# -- 5. OpenAPI ------------------------------------------------------------------------------


def test_the_schema_and_the_docs_are_served(http: httpx.Client, fault_proxy: FaultProxy) -> None:
    response = http.get("/openapi.json")
    assert response.status_code == 200, response.text
    paths = response.json()["paths"]
    stream = paths["/buckets/{bucket}/objects.ndjson"]["get"]["responses"]
    assert list(stream["200"]["content"]) == ["application/x-ndjson"]
    page = paths["/buckets/{bucket}/objects"]["get"]["responses"]["200"]["content"]
    name = page["application/json"]["schema"]["$ref"].removeprefix("#/components/schemas/")
    schema = response.json()["components"]["schemas"][name]
    assert set(schema["required"]) == {"items", "next_cursor", "has_more"}
    docs = http.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
    assert fault_proxy.counters.requests == 0


# -- 6. Pager.page against scripted pages -------------------------------------------------------


@pytest.fixture
def scripted() -> Iterator[ScriptedAWS]:
    with ScriptedAWS() as aws:
        yield aws


def _arn(name: str) -> str:
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/t/backup/{name:0>26}"


@pytest.mark.anyio
async def test_a_last_page_that_the_service_calls_full_has_no_cursor(
    scripted: ScriptedAWS, make_client: Any
) -> None:
    """DynamoDB sends a token whenever it read ``Limit`` items, even when none follow."""
    backups = scripted.add_backups("t", 8)
    dynamodb = await make_client("dynamodb", scripted.endpoint_url)
    pager = Pager(CursorSigner(SECRET), purpose="test-backups")
    scripted.script_list_backups(
        [{"items": backups[:5], "next": _arn("a")}, {"items": [], "next": None}]
    )
    page = await pager.page(dynamodb, "list_backups", limit=5, TableName="t")
    assert [b["BackupArn"] for b in page.items] == [b["BackupArn"] for b in backups[:5]]
    assert (page.next_cursor, page.has_more) == (None, False)
    assert scripted.requests == 2

    # With items after the token, a cursor; the look ahead was one request.
    scripted.script_list_backups(
        [{"items": backups[:5], "next": _arn("a")}, {"items": backups[5:], "next": None}]
    )
    before = scripted.requests
    page = await pager.page(dynamodb, "list_backups", limit=5, TableName="t")
    assert page.has_more is True
    assert scripted.requests == before + 2
    rest = await pager.page(
        dynamodb, "list_backups", limit=5, cursor=page.next_cursor, TableName="t"
    )
    assert [b["BackupArn"] for b in rest.items] == [b["BackupArn"] for b in backups[5:]]
    assert rest.has_more is False


@pytest.mark.anyio
async def test_a_failed_look_ahead_still_serves_the_page_with_its_cursor(
    scripted: ScriptedAWS, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    backups = scripted.add_backups("t", 5)
    dynamodb = await make_client("dynamodb", scripted.endpoint_url)
    pager = Pager(CursorSigner(SECRET), purpose="test-backups")
    # No page answers the token: the look past the page gets a ValidationException.
    scripted.script_list_backups([{"items": backups, "next": _arn("gone")}])
    caplog.set_level(logging.INFO, logger="asyncpage.fastapi")
    page = await pager.page(dynamodb, "list_backups", limit=5, TableName="t")
    assert len(page.items) == 5
    assert page.has_more is True
    assert "could not tell whether items follow" in caplog.text
    assert scripted.requests == 2


@pytest.mark.anyio
async def test_a_link_needs_both_request_and_response(
    scripted: ScriptedAWS, make_client: Any
) -> None:
    dynamodb = await make_client("dynamodb", scripted.endpoint_url)
    pager = Pager(CursorSigner(SECRET), purpose="test-backups")
    with pytest.raises(TypeError, match="both request and response"):
        await pager.page(dynamodb, "list_backups", limit=5, response=Response(), TableName="t")
    assert scripted.requests == 0


# -- 7. the code in docs/fastapi.md -----------------------------------------------------------


DOCS = Path(__file__).parent.parent / "docs" / "fastapi.md"


def docs_app() -> FastAPI:
    """docs/fastapi.md's ``app.py`` (its ``python file=app.py`` blocks), imported as a module.

    It reads ``ASYNCPAGE_CURSOR_SECRET`` as the page says; ``app_environment`` sets it.
    """
    module = ModuleType("asyncpage_docs_fastapi_app")
    sys.modules[module.__name__] = module  # pydantic resolves generic models through it
    exec(compile(docs_file(DOCS, "app.py"), f"{DOCS}: app.py", "exec"), module.__dict__)
    app: FastAPI = module.app
    return app


@pytest.fixture
def docs_http(
    app_environment: None, fault_proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    # The docs' clients name no endpoint: botocore's own setting points them at the proxy.
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint_url)
    with (
        serving(docs_app(), fault_proxy) as app_server,
        httpx.Client(base_url=app_server.url, timeout=30) as client,
    ):
        yield client


def test_the_code_in_the_docs_serves_the_bucket(
    docs_http: httpx.Client, moto_clients: dict[str, Any], fault_proxy: FaultProxy
) -> None:
    keys = [item["Key"] for item in s3_listing(moto_clients)]

    # The endpoint, followed through its Link headers.
    seen: list[str] = []
    url: str | None = f"/buckets/{BUCKET}/objects?limit=100"
    while url is not None:
        response = docs_http.get(url)
        assert response.status_code == 200, response.text
        seen += [item["Key"] for item in response.json()["items"]]
        url = None
        if "link" in response.headers:
            link = re.fullmatch(r'<(/[^>]+)>; rel="next"', response.headers["link"])
            assert link is not None, response.headers["link"]
            url = link[1]
    assert seen == keys
    assert fault_proxy.counters.requests > 0  # the docs' clients went through the proxy

    # fastapi-pagination's CursorPage, followed through next_page.
    seen = []
    params: dict[str, Any] = {"size": 100}
    while True:
        response = docs_http.get(f"/buckets/{BUCKET}/objects.page", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "current_page", "next_page"}
        assert body["current_page"] == params.get("cursor")
        seen += [item["Key"] for item in body["items"]]
        if body["next_page"] is None:
            break
        params = {"size": 100, "cursor": body["next_page"]}
    assert seen == keys
    again = docs_http.get(f"/buckets/{BUCKET}/objects.page", params=params).json()
    assert [item["Key"] for item in again["items"]] == keys[200:]

    # Its mistakes are the Pager's: a bad cursor, a size out of range.
    bad = docs_http.get(f"/buckets/{BUCKET}/objects.page", params={"cursor": "garbage"})
    assert (bad.status_code, bad.json()["error"]) == (400, "cursor_tampered")
    assert docs_http.get(f"/buckets/{BUCKET}/objects.page", params={"size": 0}).status_code == 422
    stream = docs_http.get(f"/buckets/{BUCKET}/objects.ndjson")
    assert stream.headers["content-type"] == "application/x-ndjson"
    assert docs_http.get("/openapi.json").status_code == 200


@pytest.mark.anyio
async def test_a_limit_above_the_services_page_maximum_asks_for_pages_it_accepts(
    scripted: ScriptedAWS, make_client: Any
) -> None:
    # ListBackups takes Limit 1..100; a client's limit of 250 is items, not a page size.
    backups = scripted.add_backups("t", 260)
    dynamodb = await make_client("dynamodb", scripted.endpoint_url)
    pager = Pager(CursorSigner(SECRET), purpose="test-backups")
    page = await pager.page(dynamodb, "list_backups", limit=250, TableName="t")
    assert [b["BackupArn"] for b in page.items] == [b["BackupArn"] for b in backups[:250]]
    assert {call["Limit"] for call in scripted.calls["ListBackups"]} <= {1, 100}
    rest = await pager.page(
        dynamodb, "list_backups", limit=250, cursor=page.next_cursor, TableName="t"
    )
    assert [b["BackupArn"] for b in rest.items] == [b["BackupArn"] for b in backups[250:]]
