"""Client CPU of response parsing: botocore's parser against asyncpage.speedups, same bytes.

Three contenders parse the very same response bytes:

* ``botocore``: a default aiobotocore client's parser (aiobotocore's parser factory);
* ``timestamps``: the same parser with ``asyncpage.speedups.parse_timestamp``
  (``install(session, fast_path=False)``);
* ``fast_path``: ``asyncpage.speedups.install(session)``.

Two parts:

* ``replay``: an S3 ``ListObjectsV2`` page of 1,000 keys, a DynamoDB ``Scan`` page of
  100 items and a DynamoDB ``ListBackups`` page of 100 backups (the JSON protocol's
  listings: epoch timestamps, flat structures), each rendered once in the services' wire
  format, parsed again and again, one new parser per response as aiobotocore does; CPU
  per key and per page.
* ``e2e``: real clients calling a local endpoint (a child process) that answers every
  request with those same bytes; the client's ``time.process_time()`` per key and per page,
  everything included (signing, HTTP, parsing).

Repetitions run round-robin; the tables give medians and ratios to ``botocore``::

    python benchmarks/parsing.py                 # about 1 minute
    python benchmarks/parsing.py --part replay --reps 7
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import http.server
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any, ClassVar

import botocore.session
from _measure import machine, median, rotations, spread
from aiobotocore.parsers import AioResponseParserFactory
from aiobotocore.session import get_session

import asyncpage.speedups
from asyncpage._fastparse import FastParserFactory

CONTENDERS = ("botocore", "timestamps", "fast_path")
KEYS = 1000
ITEMS = 100
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def s3_body(keys: int = KEYS) -> bytes:
    """A ListObjectsV2 page as S3 sends it (element order and namespace included)."""
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    contents = "".join(
        f"<Contents><Key>logs/2024/05/{i:06d}.json.gz</Key>"
        f"<LastModified>{(start + dt.timedelta(seconds=i * 37)).strftime('%Y-%m-%dT%H:%M:%S')}"
        f".000Z</LastModified><ETag>&quot;{i:032x}&quot;</ETag>"
        f"<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>"
        f"<Size>{1000 + i * 7}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        for i in range(keys)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>bench</Name><Prefix>logs/</Prefix><KeyCount>{keys}</KeyCount>"
        f"<MaxKeys>{keys}</MaxKeys><IsTruncated>false</IsTruncated>{contents}"
        "</ListBucketResult>"
    ).encode()


def scan_body(items: int = ITEMS) -> bytes:
    """A Scan page of items with a few attribute types, as DynamoDB sends it."""
    rows = [
        {
            "pk": {"S": f"item-{i:07d}"},
            "sk": {"N": str(i)},
            "payload": {"S": "x" * 100},
            "tags": {"SS": ["a", "b"]},
            "meta": {"M": {"owner": {"S": "team"}, "count": {"N": "3"}, "on": {"BOOL": True}}},
            "history": {"L": [{"N": "1"}, {"N": "2"}]},
        }
        for i in range(items)
    ]
    last = {"pk": rows[-1]["pk"], "sk": rows[-1]["sk"]}
    body = {"Items": rows, "Count": items, "ScannedCount": items, "LastEvaluatedKey": last}
    return json.dumps(body).encode()


def backups_body(items: int = ITEMS) -> bytes:
    """A ListBackups page as DynamoDB sends it: two epoch timestamps per backup."""
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/bench"
    rows = [
        {
            "TableName": "bench",
            "TableId": f"{i:08x}-0000-4000-8000-000000000000",
            "TableArn": arn,
            "BackupArn": f"{arn}/backup/{1_700_000_000_000 + i:020d}-{i:08x}",
            "BackupName": f"nightly-{i:05d}",
            "BackupCreationDateTime": 1_700_000_000.123 + i * 60,
            "BackupExpiryDateTime": 1_800_000_000 + i * 60,
            "BackupStatus": "AVAILABLE",
            "BackupType": "USER",
            "BackupSizeBytes": 1_000_000 + i,
        }
        for i in range(items)
    ]
    return json.dumps(
        {"BackupSummaries": rows, "LastEvaluatedBackupArn": rows[-1]["BackupArn"]}
    ).encode()


def _factories() -> dict[str, Any]:
    timestamps = AioResponseParserFactory()
    timestamps.set_parser_defaults(timestamp_parser=asyncpage.speedups.parse_timestamp)
    fast = FastParserFactory()
    fast.set_parser_defaults(timestamp_parser=asyncpage.speedups.parse_timestamp)
    return {"botocore": AioResponseParserFactory(), "timestamps": timestamps, "fast_path": fast}


def _parse_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the parser waited")


def replay(reps: int, rounds: int) -> None:
    session = botocore.session.get_session()
    cases = {
        "S3 ListObjectsV2, per key": (
            "rest-xml",
            session.get_service_model("s3").operation_model("ListObjectsV2").output_shape,
            {"status_code": 200, "headers": {"x-amz-request-id": "r"}, "body": s3_body()},
            KEYS,
        ),
        "DynamoDB Scan, per page": (
            "json",
            session.get_service_model("dynamodb").operation_model("Scan").output_shape,
            {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": scan_body()},
            1,
        ),
        "DynamoDB ListBackups, per page": (
            "json",
            session.get_service_model("dynamodb").operation_model("ListBackups").output_shape,
            {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": backups_body()},
            1,
        ),
    }
    factories = _factories()
    print("## replay: the same bytes parsed again and again\n")
    for title, (protocol, shape, response, per) in cases.items():
        cpu: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for name in CONTENDERS:  # warm up: compile plans, import, fill caches
            _parse_now(factories[name].create_parser(protocol).parse(dict(response), shape))
        for _, order in rotations(CONTENDERS, reps):
            for name in order:
                factory = factories[name]
                began = time.process_time()
                for _ in range(rounds):
                    parser = factory.create_parser(protocol)
                    _parse_now(parser.parse(dict(response), shape))
                cpu[name].append((time.process_time() - began) / rounds / per)
        _table(title, cpu)


# -- end to end ------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: ClassVar[dict[str, bytes]] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".Scan"):
            body, kind = self.bodies["scan"], "application/x-amz-json-1.0"
        elif target.endswith(".ListBackups"):
            body, kind = self.bodies["backups"], "application/x-amz-json-1.0"
        else:
            body, kind = self.bodies["s3"], "application/xml"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", "bench")
        self.send_header("x-amzn-requestid", "bench")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(conn: Connection) -> None:
    _Handler.bodies = {"s3": s3_body(), "scan": scan_body(), "backups": backups_body()}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(f"http://127.0.0.1:{server.server_address[1]}")
    conn.recv()
    server.shutdown()


async def _client_cpu(make: Callable[[], Any], call: Callable[[Any], Any], requests: int) -> float:
    async with make() as client:
        await call(client)  # warm up: connection, model, plans
        began = time.process_time()
        for _ in range(requests):
            await call(client)
        return time.process_time() - began


def e2e(reps: int, requests: int) -> None:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child,), daemon=True)
    process.start()
    url = parent.recv()
    sessions = {name: get_session() for name in CONTENDERS}
    asyncpage.speedups.install(sessions["timestamps"], fast_path=False)
    asyncpage.speedups.install(sessions["fast_path"])

    def maker(name: str, service: str) -> Callable[[], Any]:
        return lambda: sessions[name].create_client(
            service, region_name="us-east-1", endpoint_url=url, **CREDENTIALS
        )

    cases: dict[str, tuple[str, Callable[[Any], Any], int]] = {
        "S3 ListObjectsV2, per key": ("s3", lambda c: c.list_objects_v2(Bucket="bench"), KEYS),
        "DynamoDB Scan, per page": ("dynamodb", lambda c: c.scan(TableName="bench"), 1),
        "DynamoDB ListBackups, per page": ("dynamodb", lambda c: c.list_backups(), 1),
    }
    print(f"## e2e: real clients against a local endpoint that sends the same bytes ({url})\n")
    try:
        for title, (service, call, per) in cases.items():
            cpu: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            for _, order in rotations(CONTENDERS, reps):
                for name in order:
                    spent = asyncio.run(_client_cpu(maker(name, service), call, requests))
                    cpu[name].append(spent / requests / per)
            _table(title, cpu)
    finally:
        parent.send("stop")
        process.join(timeout=10)


def _table(title: str, cpu: dict[str, list[float]]) -> None:
    base = median(cpu["botocore"])
    print(f"### {title}\n")
    print("| parser | client CPU (µs) | spread (µs) | ratio to botocore |")
    print("| --- | --- | --- | --- |")
    for name in CONTENDERS:
        value = median(cpu[name])
        print(f"| {name} | {value * 1e6:.1f} | {spread(cpu[name], 1e6, 1)} | {value / base:.3f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["replay", "e2e", "all"], default="all")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=20, help="parses per replay repetition")
    parser.add_argument("--requests", type=int, default=20, help="calls per e2e repetition")
    args = parser.parse_args()
    print(machine(), "\n")
    if args.part in ("replay", "all"):
        replay(args.reps, args.rounds)
    if args.part in ("e2e", "all"):
        e2e(args.reps, args.requests)


if __name__ == "__main__":
    main()
