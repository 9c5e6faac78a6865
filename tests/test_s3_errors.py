"""S3's errors inside 200 responses are retried with the speed-ups as botocore retries them.

S3 can answer 200 with an ``<Error>`` body, and a listing's body can come cut short;
botocore turns both into a 500 (then retried) by parsing every S3 body before the parser
does. ``asyncpage.speedups`` answers that check for whole listing pages without the second
parse; these tests serve the bodies over real HTTP and compare with a plain session.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

import asyncpage.speedups
from _seed_moto import CREDENTIALS
from asyncpage._fastparse import S3ErrorCheck

pytestmark = pytest.mark.anyio

_PAGE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Name>b</Name><Prefix></Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>"
    b"<IsTruncated>false</IsTruncated><Contents><Key>k</Key>"
    b"<LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag>"
    b"<Size>1</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
)
_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message>"
    b"<RequestId>R</RequestId></Error>"
)
_CUT = _PAGE[: len(_PAGE) // 2]


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp's client: the check is the session's, not the HTTP backend's."""
    return "asyncio"


class _Bodies:
    """Answers each GET with the next scripted body (status 200), the last one for good."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.requests = 0
        bodies = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                index = min(bodies.requests, len(bodies.bodies) - 1)
                bodies.requests += 1
                body = bodies.bodies[index]
                self.send_response(200)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def bodies() -> Iterator[_Bodies]:
    served = _Bodies()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()
    thread.join()


async def _list(url: str, *, speedups: bool, attempts: int) -> dict[str, Any]:
    session = get_session()
    if speedups:
        asyncpage.speedups.install(session)
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": attempts})
    options: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": url, **CREDENTIALS}
    async with session.create_client("s3", config=config, **options) as s3:
        page: dict[str, Any] = dict(await s3.list_objects_v2(Bucket="b"))
        return page


@pytest.mark.parametrize("bad", [_ERROR, _CUT], ids=["error-in-200", "cut-short"])
@pytest.mark.parametrize("speedups", [False, True], ids=["botocore", "speedups"])
async def test_a_bad_200_is_retried(bodies: _Bodies, bad: bytes, speedups: bool) -> None:
    bodies.bodies = [bad, _PAGE]
    page = await _list(bodies.url, speedups=speedups, attempts=2)
    assert [c["Key"] for c in page["Contents"]] == ["k"]
    assert bodies.requests == 2
    assert page["ResponseMetadata"]["RetryAttempts"] == 1


@pytest.mark.parametrize("speedups", [False, True], ids=["botocore", "speedups"])
async def test_an_error_in_200_raises_when_retries_run_out(bodies: _Bodies, speedups: bool) -> None:
    bodies.bodies = [_ERROR]
    with pytest.raises(ClientError) as raised:
        await _list(bodies.url, speedups=speedups, attempts=2)
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert bodies.requests == 2


@pytest.mark.parametrize("speedups", [False, True], ids=["botocore", "speedups"])
async def test_a_whole_page_is_one_request(bodies: _Bodies, speedups: bool) -> None:
    bodies.bodies = [_PAGE]
    page = await _list(bodies.url, speedups=speedups, attempts=3)
    assert page["Contents"][0]["ETag"] == '"e"'
    assert bodies.requests == 1


class _Operation:
    def __init__(self, name: str) -> None:
        self.name = name


@pytest.mark.parametrize(
    ("operation", "status", "body", "handed_on"),
    [
        ("ListObjectsV2", 200, _PAGE, False),
        ("ListObjectVersions", 200, b"  " + _PAGE + b"\n", False),
        ("ListObjectsV2", 200, _ERROR, True),
        ("ListObjectsV2", 200, _CUT, True),
        ("ListObjectsV2", 200, b"", True),
        ("ListObjectsV2", 200, b"<Error/>", True),
        ("ListObjectsV2", 500, _PAGE, True),
        ("GetBucketTagging", 200, _PAGE, True),
    ],
    ids=["page", "padded-page", "error", "cut", "empty", "empty-error", "500", "other-op"],
)
def test_only_whole_listing_pages_skip_botocores_check(
    operation: str, status: int, body: bytes, handed_on: bool
) -> None:
    """The second parse is skipped only where it cannot find anything; the rest is botocore's."""
    calls: list[dict[str, Any]] = []
    check = S3ErrorCheck(lambda **kwargs: calls.append(kwargs))
    response = {"status_code": status, "body": body, "headers": {}}
    check(
        operation_model=_Operation(operation), response_dict=response, customized_response_dict={}
    )
    assert bool(calls) is handed_on
    if handed_on:
        assert calls[0]["response_dict"] is response
