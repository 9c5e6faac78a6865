"""Retry policy for single page requests, error classification, and shared backoff gates.

Two layers retry, on purpose:

* botocore retries each HTTP attempt inside one API call (``retries`` in the client's
  ``Config``: ``legacy`` mode by default, 5 attempts);
* asyncpage retries the *page* when an error survived botocore, from the cursor of the page
  not yet fetched, so nothing is lost or repeated.

The two multiply: a page may cost up to ``botocore_attempts * Retry.attempts`` HTTP requests.
Recommended: leave botocore's ``standard`` mode at 2 or 3 attempts (it handles one-off blips
quickly and its retry quota protects a struggling service) and let asyncpage's slower,
deadline-bound backoff ride out sustained throttling. asyncpage's layer works on its own
with ``total_max_attempts=1`` too.
"""

from __future__ import annotations

import logging
import math
import random
import reprlib
import socket
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import anyio
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import (
    EndpointConnectionError,
    HTTPClientError,
    SSLError,
    UnknownEndpointError,
)
from botocore.parsers import ResponseParserError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from ._errors import InvalidPaginationError, InvalidPaginationTypeError, PageFetchError

if TYPE_CHECKING:
    from ._cursor import Cursor
    from ._tracing import Listing

__all__ = [
    "BackoffGate",
    "ErrorKind",
    "PageFetcher",
    "Retry",
    "classify",
    "endpoint_missing",
    "set_testing",
]

log = logging.getLogger("asyncpage")

ErrorKind = Literal["throttling", "transient"]

# botocore's own throttling codes, plus what AWS services send that botocore misses
# (SQS's query-compatible RequestThrottled, S3's SlowDown, EC2's RequestLimitExceeded).
# botocore keeps its code lists as class attributes of its retry checkers (SLF001 below),
# private to botocore and absent from botocore-stubs.
_throttled: Any = ThrottledRetryableChecker
_transient: Any = TransientRetryableChecker
THROTTLING_CODES: frozenset[str] = frozenset(
    [
        *_throttled._THROTTLED_ERROR_CODES,  # noqa: SLF001
        "RequestThrottled",
        "SlowDown",
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottledException",
        "BandwidthLimitExceeded",
    ]
)
TRANSIENT_CODES: frozenset[str] = frozenset(
    [
        *_transient._TRANSIENT_ERROR_CODES,  # noqa: SLF001
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    ]
)
TRANSIENT_STATUS: frozenset[int] = frozenset(_transient._TRANSIENT_STATUS_CODES)  # noqa: SLF001

_testing = False


def set_testing(enabled: bool = True) -> None:
    """Make every asyncpage backoff wait zero seconds (for test suites), or restore them.

    Retries still happen and are still counted; only the sleeping is skipped.
    """
    global _testing
    _testing = enabled


def is_testing() -> bool:
    return _testing


def endpoint_missing(error: BaseException) -> bool:
    """True when an AWS service has no endpoint here: botocore knows none, or DNS has none.

    That is what a service looks like in a region where it is not offered; retrying cannot
    help. Only a definite "no such name" (not a temporary resolver failure) for an AWS
    endpoint (``*.amazonaws.com``, ``*.api.aws``...) counts: a custom ``endpoint_url`` that
    does not resolve is a mistake to report, and a refused or reset connection is transient.
    """
    if isinstance(error, UnknownEndpointError):
        return True
    if not isinstance(error, EndpointConnectionError):
        return False
    host = urlsplit(str(error.kwargs.get("endpoint_url", ""))).hostname or ""
    if not host.endswith(_AWS_DOMAINS):
        return False
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        for candidate in (current, getattr(current, "os_error", None)):
            if isinstance(candidate, socket.gaierror) and candidate.errno in _NO_SUCH_NAME:
                return True
        kwargs = getattr(current, "kwargs", None)
        wrapped = kwargs.get("error") if isinstance(kwargs, Mapping) else None
        pending += [wrapped, current.__cause__, current.__context__]
    return False


_AWS_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".c2s.ic.gov", ".sc2s.sgov.gov")
_NO_SUCH_NAME = frozenset(
    code
    for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None))
    if code is not None
)


def classify(error: BaseException) -> ErrorKind | None:
    """``"throttling"``, ``"transient"``, or ``None`` for errors that must not be retried."""
    if endpoint_missing(error) or isinstance(error, (SSLError, ssl.SSLCertVerificationError)):
        # No endpoint here, or one we must not trust: waiting will not change either.
        return None
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if code in THROTTLING_CODES:
            return "throttling"
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in TRANSIENT_CODES or status in TRANSIENT_STATUS:
            return "transient"
        return None
    if isinstance(error, (BotocoreConnectionError, HTTPClientError, ResponseParserError)):
        # ResponseParserError: a body cut short by a dropped connection fails to parse.
        return "transient"
    if isinstance(error, (TimeoutError, OSError)):
        return "transient"
    return None


def retry_after(error: BaseException) -> float | None:
    """Seconds the service asked us to wait (``x-amz-retry-after`` in ms, ``Retry-After`` in s)."""
    response = getattr(error, "response", None)
    if not isinstance(response, Mapping):
        return None
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
    try:
        if "x-amz-retry-after" in headers:
            return max(0.0, float(headers["x-amz-retry-after"]) / 1000.0)
        if "retry-after" in headers:
            return max(0.0, float(headers["retry-after"]))
    except (TypeError, ValueError):
        return None
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """How asyncpage retries one page request that failed after botocore's own retries.

    Attempt *n* (n >= 1 counts retries) waits
    ``uniform(0, min(wait_max, wait_initial * 2**(n-1)))`` seconds ("full jitter"); a
    ``Retry-After``/``x-amz-retry-after`` from the service raises that wait to at least
    what it asked, still capped by ``wait_max``.
    It gives up after ``attempts`` requests for the page, or when the next wait would end
    past ``timeout`` seconds from the page's first request, whichever comes first.

    Only throttling (botocore's throttling codes plus SlowDown, RequestThrottled,
    RequestLimitExceeded…) and transient errors (HTTP 5xx, connection errors, timeouts)
    are retried; anything else fails the page at once.

    ``attempts`` is an int >= 1; ``wait_initial`` and ``wait_max`` are finite seconds >= 0;
    ``timeout`` is seconds > 0 (``math.inf`` for no deadline). Anything else raises
    :class:`~asyncpage.InvalidPaginationError` (a ``ValueError``; for a wrong type, an
    :class:`~asyncpage.InvalidPaginationTypeError`, also a ``TypeError``).
    """

    attempts: int = 8
    wait_initial: float = 0.1
    wait_max: float = 5.0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise InvalidPaginationTypeError(
                f"Retry attempts must be an int >= 1, not {reprlib.repr(self.attempts)}"
            )
        if self.attempts < 1:
            raise InvalidPaginationError(f"Retry attempts must be at least 1, not {self.attempts}")
        for name in ("wait_initial", "wait_max", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidPaginationTypeError(
                    f"Retry {name} must be a number of seconds (int or float), "
                    f"not {reprlib.repr(value)}"
                )
            try:
                seconds = float(value)
            except OverflowError:  # an int beyond any float
                seconds = math.inf
            if name == "timeout":
                if not seconds > 0:  # NaN is not
                    raise InvalidPaginationError(
                        f"Retry timeout must be seconds > 0 (math.inf for no deadline), "
                        f"not {value!r}"
                    )
            elif not 0 <= seconds < math.inf:
                raise InvalidPaginationError(
                    f"Retry {name} must be a finite number of seconds >= 0, not {value!r}"
                )

    def wait(self, retry_number: int, rng: random.Random, asked: float | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        ceiling = min(self.wait_max, self.wait_initial * 2.0 ** min(retry_number - 1, 64))
        delay = rng.uniform(0.0, ceiling)
        if asked is not None:
            delay = max(delay, min(asked, self.wait_max))
        return delay


class BackoffGate:
    """A backoff shared by every pagination that hits one (service, region).

    When one of them is throttled it closes the gate for its backoff; the others wait at
    the gate before their next request instead of stampeding a throttled API.
    """

    def __init__(self) -> None:
        self._open_at = 0.0

    def close_for(self, seconds: float) -> None:
        self._open_at = max(self._open_at, anyio.current_time() + seconds)

    async def wait(self) -> float:
        """Wait until the gate is open; return the seconds waited."""
        if _testing:
            return 0.0
        delay = self._open_at - anyio.current_time()
        if delay <= 0:
            return 0.0
        await anyio.sleep(delay)
        return delay


def error_code(error: BaseException) -> str | None:
    response: Any = getattr(error, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


#: One random source for every fetcher's jitter: a ``random.Random`` per iterator cost
#: more memory than the rest of an unstarted iterator.
_jitter = random.Random()

#: ``call(params)`` sends one page request and returns the parsed response.
PageCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class PageFetcher:
    """Fetches one page, retried per the policy: the retry loop, its gate and its counters.

    A :class:`~asyncpage._walk.Walk` calls it as its ``fetch``. It never moves a cursor: a
    failed page raises :class:`~asyncpage.PageFetchError` carrying the token of the page
    it was asked for, and the walk stays on that page.
    """

    __slots__ = (
        "_call",
        "_name",
        "_policy",
        "gate",
        "requests",
        "retries",
        "seconds_waited",
        "throttles",
        "trace",
    )

    def __init__(self, call: PageCall, policy: Retry | None, *, name: str) -> None:
        self._call = call
        self._policy = policy
        self._name = name  # "service.operation", for messages and logs
        #: Sources sharing a (service, region) share one gate (set by fan_out).
        self.gate: BackoffGate | None = None
        self.requests = self.retries = self.throttles = 0
        self.seconds_waited = 0.0
        #: The span of the listing being fetched, when it is traced (set per iteration).
        self.trace: Listing | None = None

    async def __call__(self, params: dict[str, Any], cursor: Cursor) -> dict[str, Any]:
        policy = self._policy
        trace = self.trace
        attempt = 0
        started = anyio.current_time()
        while True:
            attempt += 1
            if self.gate is not None:
                waited = await self.gate.wait()
                self.seconds_waited += waited
                if waited and trace is not None:
                    trace.gate_wait(waited)
            self.requests += 1
            try:
                if trace is None:
                    return await self._call(params)
                # The AWS call's own span (botocore/aiobotocore instrumentation) is a
                # child of the listing's, whichever task sends it.
                with trace.current():
                    return await self._call(params)
            except Exception as exc:
                kind = classify(exc)
                if kind == "throttling":
                    self.throttles += 1
                if kind is None or policy is None or attempt >= policy.attempts:
                    raise self._give_up(exc, cursor, attempt, kind) from exc
                delay = policy.wait(attempt, _jitter, retry_after(exc))
                if anyio.current_time() - started + delay > policy.timeout:
                    raise self._give_up(exc, cursor, attempt, kind) from exc
                if kind == "throttling" and self.gate is not None:
                    self.gate.close_for(delay)
                log.debug(
                    "%s: %s error %s, retry %d of %d in %.3fs",
                    self._name,
                    kind,
                    type(exc).__name__,
                    attempt,
                    policy.attempts - 1,
                    delay,
                )
                self.retries += 1
                if trace is not None:
                    trace.backoff(attempt, delay, kind, exc)
                if not _testing:
                    await anyio.sleep(delay)
                    self.seconds_waited += delay

    def _give_up(
        self, exc: Exception, cursor: Cursor, attempts: int, kind: str | None
    ) -> PageFetchError:
        why = "not retryable" if kind is None else f"{kind}, gave up after {attempts} requests"
        if kind is not None and self._policy is None:
            why = f"{kind}, retry=None"
        return PageFetchError(
            f"{self._name} page failed ({why}): {exc}",
            error=exc,
            resume_token=cursor.encode(),
            attempts=attempts,
        )
