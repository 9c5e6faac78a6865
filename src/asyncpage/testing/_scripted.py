"""A local HTTP endpoint that pages scripted AWS responses in the real wire format.

moto does not page DynamoDB ``ListBackups`` (it ignores ``Limit``) and does not implement
RDS ``DescribeDBClusterBacktracks``. :class:`ScriptedAWS` serves both from memory, over
real HTTP/1.1, in each service's own protocol, so that a real botocore or aiobotocore
client (serializer, signer, parser, paginator) talks to it exactly as it would to AWS:

* DynamoDB ``ListBackups`` (awsJson1_0, ``X-Amz-Target: DynamoDB_20120810.ListBackups``):
  filters on ``TableName`` (a name or a table ARN), ``TimeRangeLowerBound`` (inclusive),
  ``TimeRangeUpperBound`` (exclusive) and ``BackupType`` (default ``USER``), pages by
  ``Limit`` (1..100, default 100) and ``ExclusiveStartBackupArn``; answers with
  ``BackupSummaries`` and, while more remain, ``LastEvaluatedBackupArn``. Each distinct
  request's response is rendered once and cached, so serving a page again costs a dict
  lookup: this is the cheap paginated operation for benchmarks.
* RDS ``DescribeDBClusterBacktracks`` (query protocol, API 2014-10-31, XML): filters on
  ``DBClusterIdentifier`` (required, case-insensitive), ``BacktrackIdentifier`` and the
  ``db-cluster-backtrack-id`` / ``db-cluster-backtrack-status`` filters, pages by
  ``MaxRecords`` (20..100, default 100) and ``Marker``.
* RDS ``DownloadDBLogFilePortion`` (query protocol, XML): a log file of an instance, paged
  by ``NumberOfLines`` and ``Marker``; its result key ``LogFileData`` is a *string*, the
  lines of the page each ending in a newline, and ``AdditionalDataPending`` says whether
  more follow.

Bad input gets the error AWS sends, in that service's error format: DynamoDB
``ValidationException`` (HTTP 400), RDS ``DBClusterNotFoundFault`` (HTTP 404),
``DBClusterBacktrackNotFoundFault`` (404) and ``InvalidParameterValue`` (400).

The server runs in threads of its own, so it works under any event loop (asyncio or trio)
and with any HTTP backend of aiobotocore (aiohttp, or httpx, which sends absolute-form
request lines). Example::

    with ScriptedAWS() as aws:
        expected = aws.add_backups("music", 250)
        client = session.create_client("dynamodb", endpoint_url=aws.endpoint_url, ...)
        pages = client.get_paginator("list_backups").paginate(TableName="music")
        ...
        assert aws.requests == 3

To force a token sequence (a cycle, a repeated token, an empty last page), install a
script with :meth:`ScriptedAWS.script_list_backups`. botocore refuses an
``ExclusiveStartBackupArn`` shorter than 37 characters before sending it, so scripted
tokens should be ARN-like (or the client made with ``parameter_validation=False``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http
import http.server
import json
import socket
import sys
import threading
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any, Final, NotRequired, Self, TypedDict
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

__all__ = ["ScriptedAWS", "ScriptedPage"]

_UTC: Final = dt.UTC
_DEFAULT_START: Final = dt.datetime(2024, 1, 1, tzinfo=_UTC)
_ACCOUNT: Final = "123456789012"

_DYNAMODB_TARGET_PREFIX: Final = "DynamoDB_20120810."
_DYNAMODB_CONTENT_TYPE: Final = "application/x-amz-json-1.0"
_BACKUP_TYPES: Final = ("USER", "SYSTEM", "AWS_BACKUP")
_BACKUP_TYPE_FILTERS: Final = (*_BACKUP_TYPES, "ALL")
_LIST_BACKUPS_MAX_LIMIT: Final = 100
_SYSTEM_BACKUP_RETENTION: Final = dt.timedelta(days=35)

_RDS_XMLNS: Final = "http://rds.amazonaws.com/doc/2014-10-31/"
_BACKTRACK_STATUSES: Final = ("applying", "completed", "failed", "pending")
_MIN_MAX_RECORDS: Final = 20
_MAX_MAX_RECORDS: Final = 100


class ScriptedPage(TypedDict):
    """One scripted ``ListBackups`` response.

    ``items`` are backup summaries as botocore returns them (``datetime`` values are sent
    as epoch seconds); ``next`` is the ``LastEvaluatedBackupArn`` to send, absent or
    ``None`` for the last page.
    """

    items: Sequence[Mapping[str, Any]]
    next: NotRequired[str | None]


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _Backup:
    table_name: str
    table_arn: str
    arn: str
    backup_type: str
    created: float
    wire: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Backtrack:
    identifier: str
    status: str
    xml: str


class _AWSError(Exception):
    """An error reply in the protocol of the operation that raised it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# (TableName, TimeRangeLowerBound, TimeRangeUpperBound, BackupType) as sent.
_BackupQuery = tuple[str | None, float | None, float | None, str]


class ScriptedAWS:
    """A threaded HTTP/1.1 server on 127.0.0.1 that pages in-memory AWS data.

    Use it as a context manager, or call :meth:`start` and :meth:`stop` (it can be started
    again, on a new port). Data may be added, scripted or cleared at any time, from any
    thread, while requests are being served.

    Args:
        latency: seconds the server waits before answering each request (see
            :attr:`latency`).
        region: the region written into generated ARNs.
    """

    def __init__(self, *, latency: float = 0.0, region: str = "us-east-1") -> None:
        self._lock = threading.Lock()
        self._region = region
        self._latency = _check_latency(latency)
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._reset()

    def _reset(self) -> None:
        self._backups: list[_Backup] = []
        self._backtracks: dict[str, list[_Backtrack]] = {}
        self._log_files: dict[tuple[str, str], list[str]] = {}
        self._backup_serial = 0
        self._script: dict[str | None, _Reply] | None = None
        self._views: dict[_BackupQuery, tuple[list[_Backup], dict[str, int]]] = {}
        # (query, Limit, ExclusiveStartBackupArn) -> (reply, LastEvaluatedBackupArn)
        self._pages: dict[tuple[_BackupQuery, int, str | None], tuple[_Reply, str | None]] = {}
        self._requests = 0
        self._calls: dict[str, list[dict[str, Any]]] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Bind a random port on 127.0.0.1 and serve in a background thread.

        Raises:
            RuntimeError: the server is already running.
        """
        if self._server is not None:
            raise RuntimeError("ScriptedAWS is already running")
        self._stopping.clear()
        server = _HTTPServer(self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ScriptedAWS:{server.server_address[1]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join every thread; idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        """True while :meth:`stop` is closing the server."""
        return self._stopping.is_set()

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``create_client(endpoint_url=...)``.

        Raises:
            RuntimeError: the server is not running.
        """
        if self._server is None:
            raise RuntimeError("ScriptedAWS is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def latency(self) -> float:
        """Seconds waited server side before each response; settable while running."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._latency = _check_latency(seconds)

    @property
    def requests(self) -> int:
        """How many AWS calls (POST requests) reached the server, errors included."""
        with self._lock:
            return self._requests

    @property
    def calls(self) -> dict[str, list[dict[str, Any]]]:
        """The parameters of every request, per operation name, in arrival order.

        ``ListBackups`` entries are the JSON body as sent (timestamps are epoch seconds);
        ``DescribeDBClusterBacktracks`` entries are the decoded form, with ``Filters`` as
        ``[{"Name": ..., "Values": [...]}]`` and ``MaxRecords`` as an ``int``. A snapshot.
        """
        with self._lock:
            return {name: list(params) for name, params in self._calls.items()}

    def __repr__(self) -> str:
        where = self.endpoint_url if self._server is not None else "stopped"
        return f"<ScriptedAWS {where} requests={self.requests}>"

    # -- data ----------------------------------------------------------------------------

    def add_backups(
        self,
        table_name: str,
        count: int,
        *,
        backup_type: str = "USER",
        start: dt.datetime = _DEFAULT_START,
        step: dt.timedelta = dt.timedelta(minutes=1),
    ) -> list[dict[str, Any]]:
        """Add ``count`` available backups of ``table_name``, created ``step`` apart.

        Backups are listed in the order they were added. A naive ``start`` is taken as UTC.

        Returns:
            The backup summaries exactly as botocore parses them from a ``ListBackups``
            response (timezone-aware datetimes), in listing order.

        Raises:
            ValueError: ``backup_type`` is not USER, SYSTEM or AWS_BACKUP, or ``count`` < 0.
        """
        if backup_type not in _BACKUP_TYPES:
            raise ValueError(f"backup_type must be one of {_BACKUP_TYPES}, not {backup_type!r}")
        if count < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        start = _aware(start)
        table_arn = f"arn:aws:dynamodb:{self._region}:{_ACCOUNT}:table/{table_name}"
        table_id = str(uuid.uuid5(uuid.NAMESPACE_URL, table_arn))
        parsed: list[dict[str, Any]] = []
        added: list[_Backup] = []
        with self._lock:
            serial = self._backup_serial
            self._backup_serial += count
        for i in range(count):
            created = start + i * step
            millis = int(created.timestamp() * 1000)
            summary: dict[str, Any] = {
                "TableName": table_name,
                "TableId": table_id,
                "TableArn": table_arn,
                "BackupArn": f"{table_arn}/backup/{millis:017d}-{serial + i:08x}",
                "BackupName": f"{table_name}-backup-{serial + i}",
                "BackupCreationDateTime": created,
            }
            if backup_type == "SYSTEM":
                summary["BackupExpiryDateTime"] = created + _SYSTEM_BACKUP_RETENTION
            summary |= {
                "BackupStatus": "AVAILABLE",
                "BackupType": backup_type,
                "BackupSizeBytes": 1024 * (serial + i + 1),
            }
            parsed.append(summary)
            added.append(
                _Backup(
                    table_name=table_name,
                    table_arn=table_arn,
                    arn=summary["BackupArn"],
                    backup_type=backup_type,
                    created=created.timestamp(),
                    wire=_to_wire(summary),
                )
            )
        with self._lock:
            self._backups.extend(added)
            self._views.clear()
            self._pages.clear()
        return parsed

    def add_backtracks(
        self,
        cluster_id: str,
        count: int,
        *,
        statuses: Sequence[str] = ("completed",),
        start: dt.datetime = _DEFAULT_START,
        step: dt.timedelta = dt.timedelta(hours=1),
    ) -> list[dict[str, Any]]:
        """Add ``count`` backtracks of DB cluster ``cluster_id``, requested ``step`` apart.

        The cluster exists from the first call on, even with ``count=0``. Like RDS, the
        identifier is stored lowercase. ``statuses`` are cycled through:
        ``("completed", "failed")`` alternates. A naive ``start`` is taken as UTC.

        Returns:
            The backtracks exactly as botocore parses them, in listing order.

        Raises:
            ValueError: an unknown status, no statuses, or ``count`` < 0.
        """
        if not statuses or any(s not in _BACKTRACK_STATUSES for s in statuses):
            raise ValueError(f"statuses must be taken from {_BACKTRACK_STATUSES}: {statuses!r}")
        if count < 0:
            raise ValueError(f"count must be >= 0, not {count}")
        cluster = cluster_id.lower()
        start = _aware(start)
        parsed: list[dict[str, Any]] = []
        with self._lock:
            backtracks = self._backtracks.setdefault(cluster, [])
            for i in range(count):
                requested = start + i * step
                item: dict[str, Any] = {
                    "DBClusterIdentifier": cluster,
                    "BacktrackIdentifier": str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster}/{len(backtracks)}")
                    ),
                    "BacktrackTo": requested - dt.timedelta(minutes=30),
                    "BacktrackedFrom": requested,
                    "BacktrackRequestCreationTime": requested,
                    "Status": statuses[i % len(statuses)],
                }
                parsed.append(item)
                backtracks.append(
                    _Backtrack(item["BacktrackIdentifier"], item["Status"], _backtrack_xml(item))
                )
        return parsed

    def script_list_backups(self, pages: Sequence[ScriptedPage] | None) -> None:
        """Answer every ``ListBackups`` request from ``pages`` instead of the data.

        Page *i* answers the request whose ``ExclusiveStartBackupArn`` is page *i-1*'s
        ``next`` (the first page answers a request without one); a token no page answers
        gets a ``ValidationException``. Filters and ``Limit`` are then ignored (``Limit``
        is still validated). Since a token maps to one page, a cycle is scripted by its
        first lap: ``[{..., "next": A}, {..., "next": B}, {..., "next": A}]`` serves
        A, B, A, B, ... forever. ``None`` removes the script.

        Raises:
            ValueError: two pages answer the same token.
        """
        if pages is None:
            script = None
        else:
            script = {}
            token: str | None = None
            for number, page in enumerate(pages, start=1):
                if token in script:
                    raise ValueError(
                        f"page {number} answers token {token!r}, which an earlier page "
                        "already answers; script only the first lap of a cycle"
                    )
                script[token] = _list_backups_reply(
                    [_to_wire(item) for item in page["items"]], page.get("next")
                )
                token = page.get("next")
        with self._lock:
            self._script = script

    def prerender_backups(
        self, table_name: str | None = None, *, page_size: int = 100, backup_type: str = "USER"
    ) -> int:
        """Render every page of one ``ListBackups`` listing now, so serving it is a lookup.

        It matches requests carrying exactly these parameters and no time range (absent
        ``Limit`` means 100; absent ``BackupType`` means USER).

        Returns:
            The number of pages rendered.
        """
        if not 1 <= page_size <= _LIST_BACKUPS_MAX_LIMIT:
            raise ValueError(f"page_size must be 1..{_LIST_BACKUPS_MAX_LIMIT}, not {page_size}")
        if backup_type not in _BACKUP_TYPE_FILTERS:
            raise ValueError(f"backup_type must be one of {_BACKUP_TYPE_FILTERS}")
        query: _BackupQuery = (table_name, None, None, backup_type)
        start_arn: str | None = None
        pages = 0
        with self._lock:
            while True:
                pages += 1
                start_arn = self._data_page(query, page_size, start_arn)[1]
                if start_arn is None:
                    return pages

    def add_log_file(self, instance_id: str, file_name: str, lines: Sequence[str]) -> str:
        """Serve ``lines`` as the log file ``file_name`` of DB instance ``instance_id``.

        Returns:
            The whole file as ``DownloadDBLogFilePortion`` pages it: every line followed
            by a newline.
        """
        with self._lock:
            self._log_files[(instance_id.lower(), file_name)] = list(lines)
        return "".join(line + "\n" for line in lines)

    def clear(self) -> None:
        """Forget all data, the script, cached pages, ``requests`` and ``calls``."""
        with self._lock:
            self._reset()

    # -- serving -------------------------------------------------------------------------

    def handle(self, headers: Message, body: bytes) -> _Reply:
        """Answer one request (called by the HTTP handler)."""
        request_id = str(uuid.uuid4())
        with self._lock:
            self._requests += 1
        target = headers.get("X-Amz-Target")
        if target is not None:
            reply = self._handle_json(target, body)
        else:
            reply = self._handle_query(body, request_id)
        latency = self._latency
        if latency > 0:
            self._stopping.wait(latency)
        return _Reply(
            reply.status,
            reply.content_type,
            reply.body,
            (("x-amzn-RequestId", request_id), *reply.headers),
        )

    def _record(self, operation: str, params: dict[str, Any]) -> None:
        """Log one call; the caller holds ``self._lock``."""
        self._calls.setdefault(operation, []).append(params)

    def _handle_json(self, target: str, body: bytes) -> _Reply:
        try:
            if target != _DYNAMODB_TARGET_PREFIX + "ListBackups":
                raise _AWSError(400, "UnknownOperationException", f"Unknown target {target}")
            try:
                params = json.loads(body or b"{}")
            except ValueError:
                params = None
            if not isinstance(params, dict):
                raise _AWSError(400, "SerializationException", "Malformed JSON request body")
            with self._lock:
                self._record("ListBackups", params)
                return self._backups_page(params)
        except _AWSError as error:
            namespace = "validate" if error.code == "ValidationException" else "service"
            payload = {
                "__type": f"com.amazon.coral.{namespace}#{error.code}",
                "message": error.message,
            }
            return _Reply(error.status, _DYNAMODB_CONTENT_TYPE, _json_bytes(payload))

    def _backups_page(self, params: Mapping[str, Any]) -> _Reply:
        """Answer ``ListBackups``; the caller holds ``self._lock``."""
        limit = params.get("Limit", _LIST_BACKUPS_MAX_LIMIT)
        if not _is_int(limit):
            raise _AWSError(400, "SerializationException", "Limit must be an integer")
        if limit < 1:
            raise _AWSError(400, "ValidationException", _range_message(limit, "greater", 1))
        if limit > _LIST_BACKUPS_MAX_LIMIT:
            raise _AWSError(
                400, "ValidationException", _range_message(limit, "less", _LIST_BACKUPS_MAX_LIMIT)
            )
        start_arn = params.get("ExclusiveStartBackupArn")
        if start_arn is not None and not isinstance(start_arn, str):
            raise _AWSError(400, "SerializationException", "ExclusiveStartBackupArn: string")
        if self._script is not None:
            scripted = self._script.get(start_arn)
            if scripted is None:
                raise _AWSError(400, "ValidationException", _bad_start_arn(start_arn))
            return scripted
        return self._data_page(_backup_query(params), limit, start_arn)[0]

    def _data_page(
        self, query: _BackupQuery, limit: int, start_arn: str | None
    ) -> tuple[_Reply, str | None]:
        """One page of the added backups, rendered once; the caller holds ``self._lock``."""
        cached = self._pages.get((query, limit, start_arn))
        if cached is not None:
            return cached
        view = self._views.get(query)
        if view is None:
            table, lower, upper, backup_type = query
            matching = [
                b
                for b in self._backups
                if (table is None or table in (b.table_name, b.table_arn))
                and (lower is None or b.created >= lower)
                and (upper is None or b.created < upper)
                and (backup_type == "ALL" or b.backup_type == backup_type)
            ]
            view = self._views[query] = (matching, {b.arn: i for i, b in enumerate(matching)})
        matching, positions = view
        first = 0
        if start_arn is not None:
            if start_arn not in positions:
                raise _AWSError(400, "ValidationException", _bad_start_arn(start_arn))
            first = positions[start_arn] + 1
        page = matching[first : first + limit]
        last_arn = page[-1].arn if first + limit < len(matching) else None
        rendered = _list_backups_reply([b.wire for b in page], last_arn), last_arn
        self._pages[(query, limit, start_arn)] = rendered
        return rendered

    def _handle_query(self, body: bytes, request_id: str) -> _Reply:
        try:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            action = form.get("Action")
            if action == "DownloadDBLogFilePortion":
                with self._lock:
                    self._record(action, dict(form))
                    body_xml = self._log_file_page(form, request_id)
                return _Reply(200, "text/xml", body_xml)
            if action != "DescribeDBClusterBacktracks":
                if action is None:
                    raise _AWSError(400, "MissingAction", "Missing Action")
                raise _AWSError(400, "InvalidAction", f"Could not find operation {action}")
            params = _decode_backtracks_form(form)
            with self._lock:
                self._record(action, params)
                page, marker = self._backtracks_page(params)
            return _Reply(200, "text/xml", _backtracks_xml(page, marker, request_id))
        except _AWSError as error:
            return _Reply(error.status, "text/xml", _query_error_xml(error, request_id))

    def _backtracks_page(self, params: Mapping[str, Any]) -> tuple[list[_Backtrack], str | None]:
        """Answer ``DescribeDBClusterBacktracks``; the caller holds ``self._lock``."""
        cluster_id = params.get("DBClusterIdentifier")
        if cluster_id is None:
            raise _AWSError(
                400,
                "MissingParameter",
                "The request must contain the parameter DBClusterIdentifier",
            )
        backtracks = self._backtracks.get(cluster_id.lower())
        if backtracks is None:
            raise _AWSError(404, "DBClusterNotFoundFault", f"DBCluster {cluster_id} not found.")
        max_records = params.get("MaxRecords", _MAX_MAX_RECORDS)
        if not _MIN_MAX_RECORDS <= max_records <= _MAX_MAX_RECORDS:
            raise _AWSError(
                400,
                "InvalidParameterValue",
                f"Invalid value {max_records} for MaxRecords. Must be between "
                f"{_MIN_MAX_RECORDS} and {_MAX_MAX_RECORDS}",
            )
        wanted_id = params.get("BacktrackIdentifier")
        if wanted_id is not None:
            backtracks = [b for b in backtracks if b.identifier == wanted_id]
            if not backtracks:
                raise _AWSError(
                    404,
                    "DBClusterBacktrackNotFoundFault",
                    f"Backtrack {wanted_id} not found for DBCluster {cluster_id}.",
                )
        for name, values in ((f["Name"], f["Values"]) for f in params.get("Filters", ())):
            if name == "db-cluster-backtrack-id":
                backtracks = [b for b in backtracks if b.identifier in values]
            elif name == "db-cluster-backtrack-status":
                backtracks = [b for b in backtracks if b.status in values]
            else:
                raise _AWSError(400, "InvalidParameterValue", f"Unrecognized filter name: {name}")
        first = 0
        marker = params.get("Marker")
        if marker is not None:
            ids = [b.identifier for b in backtracks]
            if marker not in ids:
                raise _AWSError(400, "InvalidParameterValue", f"Invalid marker: {marker}")
            first = ids.index(marker) + 1
        page = backtracks[first : first + max_records]
        more = first + max_records < len(backtracks)
        return page, page[-1].identifier if more else None

    def _log_file_page(self, form: Mapping[str, str], request_id: str) -> bytes:
        """Answer ``DownloadDBLogFilePortion``; the caller holds ``self._lock``."""
        instance = form.get("DBInstanceIdentifier", "")
        name = form.get("LogFileName", "")
        lines = self._log_files.get((instance.lower(), name))
        if lines is None:
            raise _AWSError(404, "DBLogFileNotFoundFault", f"DBLog File: {name}, is not found")
        marker = form.get("Marker", "0")
        count = form.get("NumberOfLines", "10000")
        if not (marker.isdigit() and count.isdigit()):
            raise _AWSError(400, "InvalidParameterValue", "Invalid Marker or NumberOfLines")
        first, end = int(marker), int(marker) + int(count)
        data = "".join(line + "\n" for line in lines[first:end])
        more = end < len(lines)
        return (
            f'<DownloadDBLogFilePortionResponse xmlns="{_RDS_XMLNS}">'
            f"<DownloadDBLogFilePortionResult><LogFileData>{escape(data)}</LogFileData>"
            f"<Marker>{min(end, len(lines))}</Marker>"
            f"<AdditionalDataPending>{str(more).lower()}</AdditionalDataPending>"
            "</DownloadDBLogFilePortionResult>"
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
            "</DownloadDBLogFilePortionResponse>"
        ).encode()


class _HTTPServer(http.server.ThreadingHTTPServer):
    """Tracks its connections and handler threads so that ``stop()`` leaves nothing behind."""

    daemon_threads = True
    block_on_close = False
    # socketserver's default is 5: a client opening more connections than that at once
    # (a fan-out over many regions, each client its own) has its SYNs dropped and waits
    # out TCP's one-second retransmission. AWS's endpoints queue far more.
    request_queue_size = 256

    def __init__(self, app: ScriptedAWS) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._handlers: list[threading.Thread] = []
        self._tracking = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"ScriptedAWS:{self.server_address[1]}:{client_address[1]}",
            daemon=True,
        )
        with self._tracking:
            self._connections.add(request)
            self._handlers = [t for t in self._handlers if t.is_alive()]
            self._handlers.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._tracking:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response (or stop() closing a keep-alive connection)
        # is normal for a test server; anything else is a bug worth a traceback.
        if not isinstance(sys.exception(), OSError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake every handler blocked on a keep-alive connection, then join them."""
        with self._tracking:
            for connection in self._connections:
                with contextlib.suppress(OSError):  # already closed by its handler
                    connection.shutdown(socket.SHUT_RDWR)
            handlers, self._handlers = self._handlers, []
        for thread in handlers:
            thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Each reply is a single small write: let it go out at once.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_POST(self) -> None:
        body = self._read_body()
        app = self.server.app
        try:
            reply = app.handle(self.headers, body)
        except Exception as error:  # a bug here must reach the client, not hang it
            reply = _Reply(500, "text/plain", f"ScriptedAWS failed: {error!r}".encode())
        if app.stopping:
            self.close_connection = True
            return
        self._send(reply)

    def do_GET(self) -> None:
        self._send(_Reply(404, "text/plain", b"ScriptedAWS serves POST requests only"))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, reply: _Reply) -> None:
        lines = [
            f"HTTP/1.1 {reply.status} {http.HTTPStatus(reply.status).phrase}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            *(f"{name}: {value}" for name, value in reply.headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one stderr line per request would drown test output


def _check_latency(seconds: float) -> float:
    if not seconds >= 0:
        raise ValueError(f"latency must be >= 0 seconds, not {seconds!r}")
    return float(seconds)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _to_wire(item: Mapping[str, Any]) -> dict[str, Any]:
    """Epoch seconds for datetimes, as the awsJson protocols send timestamps."""
    return {
        key: _aware(value).timestamp() if isinstance(value, dt.datetime) else value
        for key, value in item.items()
    }


def _list_backups_reply(summaries: list[dict[str, Any]], last_arn: str | None) -> _Reply:
    payload: dict[str, Any] = {"BackupSummaries": summaries}
    if last_arn is not None:
        payload["LastEvaluatedBackupArn"] = last_arn
    body = _json_bytes(payload)
    # botocore checks x-amz-crc32 on DynamoDB responses when present, as DynamoDB sends it.
    return _Reply(200, _DYNAMODB_CONTENT_TYPE, body, (("x-amz-crc32", str(zlib.crc32(body))),))


def _backup_query(params: Mapping[str, Any]) -> _BackupQuery:
    table = params.get("TableName")
    if table is not None and not isinstance(table, str):
        raise _AWSError(400, "SerializationException", "TableName must be a string")
    bounds: list[float | None] = []
    for name in ("TimeRangeLowerBound", "TimeRangeUpperBound"):
        value = params.get(name)
        if value is not None and not _is_number(value):
            raise _AWSError(400, "SerializationException", f"{name} must be epoch seconds")
        bounds.append(value)
    backup_type = params.get("BackupType", "USER")
    if backup_type not in _BACKUP_TYPE_FILTERS:
        raise _AWSError(
            400,
            "ValidationException",
            f"1 validation error detected: Value '{backup_type}' at 'backupType' failed to "
            f"satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(_BACKUP_TYPE_FILTERS)}]",
        )
    return table, bounds[0], bounds[1], backup_type


def _range_message(limit: int, relation: str, bound: int) -> str:
    return (
        f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
        f"constraint: Member must have value {relation} than or equal to {bound}"
    )


def _bad_start_arn(arn: str | None) -> str:
    return f"Invalid ExclusiveStartBackupArn: {arn}"


def _decode_backtracks_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The query-protocol form as botocore built it from the operation's parameters."""
    params: dict[str, Any] = {}
    for name in ("DBClusterIdentifier", "BacktrackIdentifier", "Marker"):
        if name in form:
            params[name] = form[name]
    if "MaxRecords" in form:
        try:
            params["MaxRecords"] = int(form["MaxRecords"])
        except ValueError:
            raise _AWSError(
                400, "InvalidParameterValue", f"Invalid value {form['MaxRecords']} for MaxRecords"
            ) from None
    filters: list[dict[str, Any]] = []
    while (prefix := f"Filters.Filter.{len(filters) + 1}.") + "Name" in form:
        values: list[str] = []
        while (key := f"{prefix}Values.Value.{len(values) + 1}") in form:
            values.append(form[key])
        filters.append({"Name": form[prefix + "Name"], "Values": values})
    if filters or "Filters" in form:
        params["Filters"] = filters
    return params


def _xml_time(moment: dt.datetime) -> str:
    moment = _aware(moment).astimezone(_UTC)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _backtrack_xml(item: Mapping[str, Any]) -> str:
    fields = "".join(
        f"<{name}>{_xml_time(value) if isinstance(value, dt.datetime) else escape(value)}</{name}>"
        for name, value in item.items()
    )
    return f"<DBClusterBacktrack>{fields}</DBClusterBacktrack>"


def _backtracks_xml(page: list[_Backtrack], marker: str | None, request_id: str) -> bytes:
    marker_xml = "" if marker is None else f"<Marker>{escape(marker)}</Marker>"
    return (
        f'<DescribeDBClusterBacktracksResponse xmlns="{_RDS_XMLNS}">'
        f"<DescribeDBClusterBacktracksResult>{marker_xml}"
        f"<DBClusterBacktracks>{''.join(b.xml for b in page)}</DBClusterBacktracks>"
        "</DescribeDBClusterBacktracksResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</DescribeDBClusterBacktracksResponse>"
    ).encode()


def _query_error_xml(error: _AWSError, request_id: str) -> bytes:
    kind = "Sender" if error.status < 500 else "Receiver"
    return (
        f'<ErrorResponse xmlns="{_RDS_XMLNS}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
