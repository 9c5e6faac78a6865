"""Benchmark endpoints, each in a child process, with a settable per-request latency.

Every endpoint runs in a process of its own so that its CPU (and the GIL it holds while
answering) and its memory stay out of the client's ``time.process_time()`` and
``tracemalloc`` numbers, and out of the client's event loop:

* :class:`BackupsServer`: :class:`~asyncpage.testing._scripted.ScriptedAWS`, DynamoDB
  ``ListBackups`` with every page rendered before the first timed request;
* :class:`ScanServer`: a minimal DynamoDB ``Scan`` endpoint with ``Segment`` support whose
  pages are rendered once and then served from memory (ScriptedAWS has no ``Scan``);
* :class:`MotoScan`: moto's server with a seeded table, behind asyncpage's
  :class:`~asyncpage.testing._proxy.FaultProxy`, which adds the latency;
* :class:`OrgServer`: an Organization of N accounts (``ListAccounts``, ``AssumeRole``,
  ``GetCallerIdentity``, ``DescribeRegions``) whose every account and region lists the
  same canned DynamoDB, SQS and Logs pages, for ``benchmarks/organization.py``.

    with BackupsServer({"listing": 20}) as server:
        server.set_latency(0.02)
        ... create clients with endpoint_url=server.endpoint_url ...
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import multiprocessing
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Final, Self

ITEMS_PER_PAGE = 100
"""ListBackups' default (and maximum) ``Limit``."""

SCAN_TABLE = "bench"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def scan_item(number: int) -> dict[str, Any]:
    """Item ``number`` of the scan table, in DynamoDB's wire format (about 150 bytes)."""
    return {
        "pk": {"S": f"item-{number:07d}"},
        "n": {"N": str(number)},
        "payload": {"S": "x" * 100},
    }


# -- the child processes ---------------------------------------------------------------


class _Endpoint:
    """What a child process serves: a URL, a latency knob, a request count, a stop."""

    url: str

    def set_latency(self, seconds: float) -> None:
        raise NotImplementedError

    def requests(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _serve(conn: Connection, start: Callable[..., _Endpoint], options: dict[str, Any]) -> None:
    endpoint = start(**options)
    try:
        conn.send(endpoint.url)
        while True:
            command, *args = conn.recv()
            if command == "stop":
                break
            if command == "latency":
                endpoint.set_latency(args[0])
                conn.send(None)
            elif command == "requests":
                conn.send(endpoint.requests())
    finally:
        endpoint.close()
        conn.send(None)


class _ChildProcess:
    _start: Callable[..., _Endpoint]

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._conn: Connection | None = None
        self._process: Any = None
        self.endpoint_url = ""

    def __enter__(self) -> Self:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, type(self)._start, self._options),
            name=type(self).__name__,
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        try:
            self.endpoint_url = parent.recv()
        except EOFError:
            self._conn = None
            raise RuntimeError(f"{type(self).__name__} did not start (see above)") from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            self._conn.send(("stop",))
            self._conn.recv()
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=10)
            self._process = None

    def _call(self, *message: Any) -> Any:
        assert self._conn is not None, f"{type(self).__name__} is not running"
        self._conn.send(message)
        return self._conn.recv()

    def set_latency(self, seconds: float) -> None:
        """Seconds the endpoint waits before answering each request, from now on."""
        self._call("latency", seconds)

    @property
    def requests(self) -> int:
        """Requests served so far."""
        return int(self._call("requests"))


# -- ListBackups: ScriptedAWS ----------------------------------------------------------


class _Backups(_Endpoint):
    def __init__(self, tables: dict[str, tuple[int, int]]) -> None:
        from asyncpage.testing._scripted import ScriptedAWS

        self._aws = ScriptedAWS().start()
        for name, (pages, page_size) in tables.items():
            self._aws.add_backups(name, pages * page_size)
            rendered = self._aws.prerender_backups(name, page_size=page_size)
            if rendered != pages:
                raise RuntimeError(f"{name}: {rendered} pages rendered, not {pages}")
        self.url = self._aws.endpoint_url

    def set_latency(self, seconds: float) -> None:
        self._aws.latency = seconds

    def requests(self) -> int:
        return self._aws.requests

    def close(self) -> None:
        self._aws.stop()


class BackupsServer(_ChildProcess):
    """ScriptedAWS serving ``ListBackups`` from a child process.

    ``tables`` maps a table name to its number of full pages, or to ``(pages, page_size)``
    (default page size 100: send no ``Limit``; otherwise send ``PageSize=page_size``).
    """

    _start = _Backups

    def __init__(self, tables: Mapping[str, int | tuple[int, int]]) -> None:
        normalized = {
            name: spec if isinstance(spec, tuple) else (spec, ITEMS_PER_PAGE)
            for name, spec in tables.items()
        }
        super().__init__(tables=normalized)


# -- Scan: pre-rendered pages ----------------------------------------------------------


_JSON_1_0: Final = "application/x-amz-json-1.0"


class _Handler(http.server.BaseHTTPRequestHandler):
    """POSTs answered by the server's :class:`_HTTPEndpoint`, after its latency."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        app = self.server.app
        app.count_request()
        status, content_type, payload = app.answer(self.headers.get("X-Amz-Target"), body)
        if app.latency > 0:
            time.sleep(app.latency)
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amz-crc32", str(zlib.crc32(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: _HTTPEndpoint) -> None:
        self.app = app
        self.request_queue_size = app.backlog
        super().__init__(("127.0.0.1", 0), _Handler)


class _HTTPEndpoint(_Endpoint):
    """An endpoint on an HTTP server of its own: subclasses say how to :meth:`answer`.

    A subclass sets up what it serves, then calls :meth:`_listen`.
    """

    #: Connections the listening socket queues before it refuses more.
    backlog = 5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.latency = 0.0

    def _listen(self) -> None:
        self._server = _HTTPServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, target: str | None, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for a POST with ``X-Amz-Target`` ``target``."""
        raise NotImplementedError

    def count_request(self) -> None:
        with self._lock:
            self._count += 1

    def set_latency(self, seconds: float) -> None:
        self.latency = seconds

    def requests(self) -> int:
        with self._lock:
            return self._count

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Scan(_HTTPEndpoint):
    """``Scan`` of one table of ``items`` items; item *i* is in segment ``i % TotalSegments``.

    A page is rendered the first time it is asked for and served from memory after that.
    """

    def __init__(self, items: int) -> None:
        self._items = [scan_item(i) for i in range(items)]
        self._rendered: dict[tuple[int, int, int, str | None], bytes] = {}
        super().__init__()
        self._listen()

    def answer(self, target: str | None, body: bytes) -> tuple[int, str, bytes]:
        if target != "DynamoDB_20120810.Scan":
            error = {"__type": "UnknownOperationException", "message": str(target)}
            return 400, _JSON_1_0, json.dumps(error).encode()
        params = json.loads(body)
        start = params.get("ExclusiveStartKey", {}).get("pk", {}).get("S")
        key = (
            params.get("Segment", 0),
            params.get("TotalSegments", 1),
            params.get("Limit", len(self._items)),
            start,
        )
        with self._lock:
            page = self._rendered.get(key)
            if page is None:
                page = self._rendered[key] = self._render(*key)
        return 200, _JSON_1_0, page

    def _render(self, segment: int, total: int, limit: int, start: str | None) -> bytes:
        first = segment if start is None else int(start.removeprefix("item-")) + total
        numbers = range(first, len(self._items), total)[:limit]
        payload: dict[str, Any] = {
            "Items": [self._items[i] for i in numbers],
            "Count": len(numbers),
            "ScannedCount": len(numbers),
        }
        if numbers and numbers[-1] + total < len(self._items):
            payload["LastEvaluatedKey"] = {"pk": self._items[numbers[-1]]["pk"]}
        return json.dumps(payload, separators=(",", ":")).encode()


class ScanServer(_ChildProcess):
    """Pre-rendered DynamoDB ``Scan`` pages of a table of ``items`` items, from a child process."""

    _start = _Scan

    def __init__(self, items: int) -> None:
        super().__init__(items=items)


# -- Scan: moto behind the fault proxy -------------------------------------------------


class _MotoScan(_Endpoint):
    def __init__(self, items: int) -> None:
        import boto3

        from asyncpage.testing._moto import MotoServer
        from asyncpage.testing._proxy import FaultProxy

        self._moto = MotoServer().start()
        client = boto3.client(
            "dynamodb", endpoint_url=self._moto.endpoint_url, region_name="us-east-1", **CREDENTIALS
        )
        client.create_table(
            TableName=SCAN_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for first in range(0, items, 25):
            batch = [
                {"PutRequest": {"Item": scan_item(i)}} for i in range(first, min(items, first + 25))
            ]
            client.batch_write_item(RequestItems={SCAN_TABLE: batch})
        client.close()
        self._proxy = FaultProxy(self._moto.endpoint_url).start()
        self.url = self._proxy.endpoint_url

    def set_latency(self, seconds: float) -> None:
        self._proxy.configure(latency=seconds)

    def requests(self) -> int:
        return self._proxy.counters.requests

    def close(self) -> None:
        self._proxy.stop()
        self._moto.stop()


class MotoScan(_ChildProcess):
    """moto's server with a table of ``items`` items, behind the FaultProxy (latency there)."""

    _start = _MotoScan

    def __init__(self, items: int) -> None:
        super().__init__(items=items)


# -- ListObjectsV2: ListObjectsServer, pages rendered before the first timed request ---


class _ObjectListing(_Endpoint):
    def __init__(self, keys: int, layout: str) -> None:
        from asyncpage.testing._s3list import ListObjectsServer

        self._server = ListObjectsServer(bench_keys(keys, layout), bucket=S3_BUCKET).start()
        self.url = self._server.endpoint_url

    def set_latency(self, seconds: float) -> None:
        self._server.latency = seconds

    def requests(self) -> int:
        return self._server.requests

    def close(self) -> None:
        self._server.stop()


S3_BUCKET = "bench"


def bench_keys(count: int, layout: str = "logs") -> list[str]:
    """``count`` keys: ``"logs"`` spreads them over days and hours as a log bucket does;
    ``"skewed"`` puts 90% of them under one prefix."""
    if layout == "logs":
        return [
            f"logs/2026/{i % 30 + 1:02d}/{i // 30 % 24:02d}/part-{i:07d}.json.gz"
            for i in range(count)
        ]
    big = count * 9 // 10
    return [f"hot/{i:07d}" for i in range(big)] + [
        f"p{i % 40:02d}/{i:07d}" for i in range(count - big)
    ]


class ObjectListingServer(_ChildProcess):
    """:class:`~asyncpage.testing.ListObjectsServer` with ``keys`` keys, in a child process.

    Responses are rendered on first request and cached: run a listing once before timing.
    """

    _start = _ObjectListing

    def __init__(self, keys: int, layout: str = "logs") -> None:
        super().__init__(keys=keys, layout=layout)


# -- An Organization: ListAccounts, AssumeRole and canned listings ---------------------

ORG_MANAGEMENT = "100000000000"
#: The listings the organization endpoint pages, by botocore service name: (X-Amz-Target
#: of the operation, the input token, the output token, the result key).
ORG_LISTINGS: dict[str, tuple[str, str, str, str]] = {
    "dynamodb": (
        "DynamoDB_20120810.ListTables",
        "ExclusiveStartTableName",
        "LastEvaluatedTableName",
        "TableNames",
    ),
    "sqs": ("AmazonSQS.ListQueues", "NextToken", "NextToken", "QueueUrls"),
    "logs": ("Logs_20140328.DescribeLogGroups", "nextToken", "nextToken", "logGroups"),
}
_ORG_ACCOUNTS_PER_PAGE = 20
_STS_XMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"


def org_account(number: int) -> str:
    """Account ``number`` of the benchmark Organization (0 is the management account)."""
    return f"{int(ORG_MANAGEMENT) + number:012d}"


def _org_item(service: str, page: int, number: int) -> Any:
    name = f"{service}-{page:03d}-{number:03d}"
    if service == "dynamodb":
        return name
    if service == "sqs":
        return f"https://sqs.us-east-1.amazonaws.com/{ORG_MANAGEMENT}/{name}"
    return {
        "logGroupName": f"/bench/{name}",
        "creationTime": 1_700_000_000_000 + number,
        "metricFilterCount": 0,
        "arn": f"arn:aws:logs:us-east-1:{ORG_MANAGEMENT}:log-group:/bench/{name}:*",
        "storedBytes": 1024 * number,
    }


class _Org(_HTTPEndpoint):
    backlog = 256

    """An Organization of ``accounts`` accounts; every account and region lists the same pages.

    Serves Organizations ``DescribeOrganization`` and ``ListAccounts`` (20 a page), STS
    ``AssumeRole`` (an hour's credentials) and ``GetCallerIdentity`` (the management
    account), EC2 ``DescribeRegions`` (``regions``), and for each service of
    :data:`ORG_LISTINGS` ``pages`` pages of ``items`` resources, rendered once.
    """

    def __init__(self, accounts: int, regions: list[str], pages: int, items: int) -> None:
        self._accounts = accounts
        self._regions = regions
        super().__init__()
        self._pages: dict[tuple[str, str | None], bytes] = {}
        for service, (_, _, output_token, result_key) in ORG_LISTINGS.items():
            for page in range(pages):
                payload: dict[str, Any] = {
                    result_key: [_org_item(service, page, n) for n in range(items)]
                }
                if page + 1 < pages:
                    payload[output_token] = f"{service}-page-{page + 1:04d}"
                token = None if page == 0 else f"{service}-page-{page:04d}"
                self._pages[service, token] = json.dumps(payload).encode()
        self._listen()

    def answer(self, target: str | None, body: bytes) -> tuple[int, str, bytes]:
        return 200, *self._answer(target, body)

    def _answer(self, target: str | None, body: bytes) -> tuple[str, bytes]:
        if target is None:  # the query protocol: STS and EC2
            form = dict(urllib.parse.parse_qsl(body.decode()))
            return "text/xml", self._query(form)
        params = json.loads(body or b"{}")
        json_type = "application/x-amz-json-1.1"
        operation = target.rpartition(".")[2]
        if operation == "DescribeOrganization":
            management = {
                "Id": "o-bench00000",
                "Arn": f"arn:aws:organizations::{ORG_MANAGEMENT}:organization/o-bench00000",
                "FeatureSet": "ALL",
                "MasterAccountArn": f"arn:aws:organizations::{ORG_MANAGEMENT}:account/"
                f"o-bench00000/{ORG_MANAGEMENT}",
                "MasterAccountId": ORG_MANAGEMENT,
                "MasterAccountEmail": "bench@example.com",
            }
            return json_type, json.dumps({"Organization": management}).encode()
        if operation == "ListAccounts":
            first = int(params.get("NextToken") or 0)
            last = min(first + _ORG_ACCOUNTS_PER_PAGE, self._accounts)
            listed: dict[str, Any] = {
                "Accounts": [
                    {
                        "Id": org_account(n),
                        "Arn": f"arn:aws:organizations::{ORG_MANAGEMENT}:account/"
                        f"o-bench00000/{org_account(n)}",
                        "Name": f"account-{n}",
                        "Email": f"a{n}@example.com",
                        "Status": "ACTIVE",
                        "State": "ACTIVE",
                    }
                    for n in range(first, last)
                ]
            }
            if last < self._accounts:
                listed["NextToken"] = str(last)
            return json_type, json.dumps(listed).encode()
        for service, (listing, input_token, _, _) in ORG_LISTINGS.items():
            if target == listing:
                page = self._pages.get((service, params.get(input_token)))
                if page is not None:
                    return "application/x-amz-json-1.0", page
        error = {"__type": "UnknownOperationException", "message": f"{target} {params}"}
        return json_type, json.dumps(error).encode()

    def _query(self, form: Mapping[str, str]) -> bytes:
        action = form.get("Action")
        if action == "AssumeRole":
            account = form["RoleArn"].split(":")[4]
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            result = (
                "<Credentials>"
                f"<AccessKeyId>ASIA{account}</AccessKeyId>"
                "<SecretAccessKey>bench</SecretAccessKey>"
                "<SessionToken>bench</SessionToken>"
                f"<Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>"
                "</Credentials><AssumedRoleUser>"
                f"<AssumedRoleId>AROA{account}:bench</AssumedRoleId>"
                f"<Arn>arn:aws:sts::{account}:assumed-role/bench/bench</Arn>"
                "</AssumedRoleUser>"
            )
        elif action == "GetCallerIdentity":
            result = (
                f"<Arn>arn:aws:iam::{ORG_MANAGEMENT}:user/bench</Arn>"
                f"<UserId>AIDABENCH</UserId><Account>{ORG_MANAGEMENT}</Account>"
            )
        elif action == "DescribeRegions":
            items = "".join(
                f"<item><regionName>{region}</regionName>"
                f"<regionEndpoint>ec2.{region}.amazonaws.com</regionEndpoint>"
                "<optInStatus>opt-in-not-required</optInStatus></item>"
                for region in self._regions
            )
            return (
                '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                f"<requestId>bench</requestId><regionInfo>{items}</regionInfo>"
                "</DescribeRegionsResponse>"
            ).encode()
        else:
            raise ValueError(f"the organization endpoint does not serve {action}")
        return (
            f'<{action}Response xmlns="{_STS_XMLNS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>bench</RequestId></ResponseMetadata>"
            f"</{action}Response>"
        ).encode()


class OrgServer(_ChildProcess):
    """An Organization of ``accounts`` accounts, listings of ``pages`` x ``items``, in a child.

    Every account's every (service, region) lists the same canned pages (:data:`ORG_LISTINGS`);
    what differs between accounts is the credentials (AssumeRole) and the endpoint keys.
    """

    _start = _Org

    def __init__(self, accounts: int, regions: list[str], pages: int, items: int) -> None:
        super().__init__(accounts=accounts, regions=regions, pages=pages, items=items)
