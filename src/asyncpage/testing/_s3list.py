"""A local S3 ``ListObjectsV2`` endpoint in the real wire format, fast enough for 100,000 keys.

moto lists S3 at about 20 ms of its own CPU a page and seeds 150-330 objects a second;
it also cannot play an endpoint that ignores ``StartAfter`` or a directory bucket (whose
listings are not in key order). :class:`ListObjectsServer` serves one bucket's keys from
a sorted list, over real HTTP/1.1 (threads of its own, so any event loop and either
aiobotocore HTTP backend works), with the semantics of ListObjectsV2: ``prefix``,
``delimiter`` (``CommonPrefixes``, counted in ``max-keys`` as S3 counts them),
``start-after``, ``continuation-token``, ``max-keys`` (default and most 1,000),
``encoding-type=url`` (which botocore always asks for) and ``fetch-owner``. Each distinct
request's response is rendered once and cached, so a listing served again costs the
server a dict lookup and its latency::

    with ListObjectsServer(keys, latency=0.02) as server:
        s3 = session.create_client("s3", endpoint_url=server.endpoint_url, ...)

Modes for the guards of :func:`~asyncpage.parallel_list_objects`:

* ``ignore_start_after=True``: an endpoint that ignores ``StartAfter``;
* ``unordered=True``: a directory bucket: keys listed in a fixed scrambled order, and
  ``StartAfter`` refused (``InvalidArgument``), as S3 Express One Zone does;
* :meth:`deny_start_after`: ``AccessDenied`` (403) for every request with ``StartAfter``.
"""

from __future__ import annotations

import base64
import http.server
import sys
import threading
import time
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, quote_plus, urlsplit
from xml.sax.saxutils import escape

__all__ = ["ListObjectsServer"]

_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_MAX_KEYS = 1000


def _successor(prefix: str) -> str:
    """The least string above every string that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ListObjectsServer:
    """One bucket's ``ListObjectsV2`` on 127.0.0.1; see the module docs."""

    def __init__(
        self,
        keys: Iterable[str],
        *,
        bucket: str = "bucket",
        latency: float = 0.0,
        ignore_start_after: bool = False,
        unordered: bool = False,
    ) -> None:
        self.bucket = bucket
        self.latency = latency
        self.ignore_start_after = ignore_start_after
        self.unordered = unordered
        self._keys = sorted(set(keys))
        self._order = (
            sorted(self._keys, key=lambda k: zlib.crc32(k.encode())) if unordered else self._keys
        )
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._denied: frozenset[str] = frozenset()
        self.requests = 0
        #: The query of every request, in arrival order (``{name: value}``).
        self.log: list[dict[str, str]] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def deny_start_after(self, deny: bool = True) -> None:
        """Answer every request with ``StartAfter`` with 403 ``AccessDenied``."""
        self.deny(*(("start-after",) if deny else ()))

    def deny(self, *parameters: str) -> None:
        """Answer every request that has one of these query ``parameters`` (as S3 names
        them: ``"start-after"``, ``"delimiter"``, ``"list-type"`` for every
        ``ListObjectsV2``) with 403 ``AccessDenied``; ``deny()`` denies nothing again."""
        self._denied = frozenset(parameters)

    def start(self) -> Self:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The status line and headers go out before the body, in a write of their
            # own: with Nagle's algorithm on, the body then waited for the client's
            # delayed ACK, about 40 ms a response on loopback (a 30-page listing took
            # 1.6 s instead of 0.4 s).
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                status, body = server.answer(self.path)
                if server.latency:
                    time.sleep(server.latency)
                self._send(status, body)

            def do_POST(self) -> None:
                # Any other API (EC2's DescribeRegions, say): an S3 error, as an S3
                # endpoint gives it, so that the caller's SDK sees a refusal, not HTML.
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send(405, _error("MethodNotAllowed", "Only ListObjectsV2 is served here"))

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- answering ------------------------------------------------------------------

    def answer(self, path: str) -> tuple[int, bytes]:
        """The status and body for a request to ``path`` (its query included)."""
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests += 1
            self.log.append(query)
        if parts.path.strip("/") != self.bucket:
            return 404, _error("NoSuchBucket", "The specified bucket does not exist")
        if not self._denied.isdisjoint(query):
            return 403, _error("AccessDenied", "Access Denied")
        if "start-after" in query and self.unordered:
            return 400, _error("InvalidArgument", "StartAfter is not supported here")
        cache_key = parts.query
        body = self._cache.get(cache_key)
        if body is None:
            body = self._cache[cache_key] = self._render(query)
        return 200, body

    def _render(self, query: dict[str, str]) -> bytes:
        keys = self._order
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        max_keys = min(int(query.get("max-keys", _MAX_KEYS)), _MAX_KEYS)
        encode = query.get("encoding-type") == "url"
        token = query.get("continuation-token")
        start_after = None if self.ignore_start_after else query.get("start-after")
        if token is not None:
            index = int(base64.urlsafe_b64decode(token.encode()).decode())
        elif start_after and not self.unordered:
            index = bisect_right(keys, start_after)
        else:
            index = 0
        if not self.unordered:
            index = max(index, bisect_left(keys, prefix))
        contents: list[str] = []
        prefixes: list[str] = []
        while index < len(keys) and len(contents) + len(prefixes) < max_keys:
            key = keys[index]
            if not key.startswith(prefix):
                if self.unordered:
                    index += 1
                    continue
                break
            at = key.find(delimiter, len(prefix)) if delimiter else -1
            if at < 0:
                contents.append(key)
                index += 1
                continue
            group = key[: at + len(delimiter)]
            prefixes.append(group)
            if self.unordered:
                index += 1
                while index < len(keys) and keys[index].startswith(group):
                    index += 1
            else:
                index = bisect_left(keys, _successor(group))
        more = any(k.startswith(prefix) for k in keys[index : index + 1]) or (
            self.unordered and any(k.startswith(prefix) for k in keys[index:])
        )

        def text(value: str) -> str:
            return escape(quote_plus(value, safe="/") if encode else value)

        out = [
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_NS}">',
            f"<Name>{escape(self.bucket)}</Name><Prefix>{text(prefix)}</Prefix>",
            f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
        ]
        if delimiter:
            out.append(f"<Delimiter>{text(delimiter)}</Delimiter>")
        if start_after is not None and "start-after" in query:
            out.append(f"<StartAfter>{text(query['start-after'])}</StartAfter>")
        if token is not None:
            out.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        out.append(f"<IsTruncated>{'true' if more else 'false'}</IsTruncated>")
        if more:
            next_token = base64.urlsafe_b64encode(str(index).encode()).decode()
            out.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        if encode:
            out.append("<EncodingType>url</EncodingType>")
        owner = query.get("fetch-owner") == "true"
        for key in contents:
            crc = zlib.crc32(key.encode())
            out.append(
                f"<Contents><Key>{text(key)}</Key>"
                f"<LastModified>2026-01-{crc % 28 + 1:02d}T{crc % 24:02d}:00:00.000Z</LastModified>"
                f"<ETag>&quot;{crc:032x}&quot;</ETag><Size>{crc % 100_000}</Size>"
                + ("<Owner><ID>owner-id</ID></Owner>" if owner else "")
                + "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        for group in prefixes:
            out.append(f"<CommonPrefixes><Prefix>{text(group)}</Prefix></CommonPrefixes>")
        out.append("</ListBucketResult>")
        return "".join(out).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that went away (killed, or closed mid-response) is not the server's
        # error: say nothing. Anything else is printed as socketserver does.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


def _error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message><RequestId>0</RequestId></Error>"
    ).encode()
