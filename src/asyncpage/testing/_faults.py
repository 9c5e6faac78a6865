"""Error responses in the wire formats AWS services use, built for the fault proxy.

The proxy reads two facts from a request: the service named in the SigV4 credential scope
(``Credential=AKID/20240101/us-east-1/dynamodb/aws4_request``) and the wire protocol the
client spoke. The protocol picks the envelope; the service picks the status and the code:

===============================  ======  ============================  ===========================
requests                         status  throttle code                 server error code (500)
===============================  ======  ============================  ===========================
JSON (``X-Amz-Target``): logs,   400     ``ThrottlingException``       ``InternalFailure``
ssm, kms, secretsmanager, …
dynamodb (JSON)                  400     ``ThrottlingException``       ``InternalServerError``
sqs (JSON, query-compatible)     400     ``RequestThrottled``, with    ``InternalFailure``
                                         ``x-amzn-query-error``
ec2 (query, EC2 envelope)        503     ``RequestLimitExceeded``      ``InternalError``
query: iam, sns, rds, sts, …     400     ``Throttling``                ``InternalFailure``
s3 (rest-xml, ``<Error>``)       503     ``SlowDown``                  ``InternalError``
other rest-xml (route53, …)      400     ``Throttling``                ``InternalFailure``
lambda (rest-json)               429     ``TooManyRequestsException``  ``ServiceException``
other rest-json                  429     ``ThrottlingException``       ``InternalServerException``
===============================  ======  ============================  ===========================

Any other error (``kind="error"``) takes its code and status from the caller, for example
``AccessDeniedException`` with 400 for DynamoDB or ``NoSuchBucket`` with 404 for S3, in the
same envelope.

A request whose service cannot be read (no SigV4 scope) gets the envelope of its protocol:
JSON for ``application/x-amz-json-*`` bodies, query for form bodies, rest-json otherwise.
XML envelopes carry no ``xmlns``: botocore ignores it and its value differs per API version.
A response to ``HEAD`` has no body, as on AWS, so botocore reports the HTTP status as code.
"""

from __future__ import annotations

import http
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

__all__ = [
    "ErrorKind",
    "ErrorResponse",
    "FaultKind",
    "RequestFacts",
    "Wire",
    "error_response",
    "read_request_facts",
]

FaultKind = Literal["throttle", "server_error", "error", "reset"]
"""What the proxy does to a request instead of forwarding it."""

ErrorKind = Literal["throttle", "server_error", "error"]
"""The faults that are answered with an error response."""

Wire = Literal["json", "query", "ec2", "s3", "rest-xml", "rest-json"]
"""The error envelope a client expects, named after the protocol it speaks."""

_CREDENTIAL_SCOPE: Final = re.compile(
    r"Credential=([^/,\s]+)/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request"
)
_S3_SERVICES: Final = frozenset({"s3", "s3-outposts", "s3express"})
_REST_XML_SERVICES: Final = frozenset({"route53", "cloudfront"})
_QUERY_COMPATIBLE: Final = frozenset({"sqs"})


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the proxy knows about a request when it decides its fate."""

    service: str | None
    """The service in the SigV4 credential scope (``"dynamodb"``), if signed."""
    operation: str | None
    """The operation for JSON (``X-Amz-Target``) and query (``Action=``) requests."""
    wire: Wire
    """The envelope an error response to this request must use."""
    content_type: str
    """The request's ``Content-Type``, echoed in JSON error responses."""
    access_key: str | None = None
    """The access key id that signed the request (SigV4 ``Credential=``), if signed."""


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """A complete HTTP error response, ready to be written."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class _Spec:
    status: int
    code: str
    message: str


_RATE_EXCEEDED: Final = "Rate exceeded"
_INTERNAL: Final = "We encountered an internal error. Please try again."

_THROTTLE_BY_SERVICE: Final[Mapping[str, _Spec]] = {
    "ec2": _Spec(503, "RequestLimitExceeded", "Request limit exceeded."),
    "s3": _Spec(503, "SlowDown", "Please reduce your request rate."),
    "lambda": _Spec(429, "TooManyRequestsException", _RATE_EXCEEDED),
    "sqs": _Spec(400, "RequestThrottled", _RATE_EXCEEDED),
}
_THROTTLE_BY_WIRE: Final[Mapping[Wire, _Spec]] = {
    "json": _Spec(400, "ThrottlingException", _RATE_EXCEEDED),
    "query": _Spec(400, "Throttling", _RATE_EXCEEDED),
    "ec2": _THROTTLE_BY_SERVICE["ec2"],
    "s3": _THROTTLE_BY_SERVICE["s3"],
    "rest-xml": _Spec(400, "Throttling", _RATE_EXCEEDED),
    "rest-json": _Spec(429, "ThrottlingException", _RATE_EXCEEDED),
}
_SERVER_ERROR_BY_SERVICE: Final[Mapping[str, _Spec]] = {
    "dynamodb": _Spec(500, "InternalServerError", "Internal server error"),
    "lambda": _Spec(500, "ServiceException", "An internal error occurred."),
}
_SERVER_ERROR_BY_WIRE: Final[Mapping[Wire, _Spec]] = {
    "json": _Spec(500, "InternalFailure", _INTERNAL),
    "query": _Spec(500, "InternalFailure", _INTERNAL),
    "ec2": _Spec(500, "InternalError", "An internal error has occurred."),
    "s3": _Spec(500, "InternalError", _INTERNAL),
    "rest-xml": _Spec(500, "InternalFailure", _INTERNAL),
    "rest-json": _Spec(500, "InternalServerException", _INTERNAL),
}


def read_request_facts(target: str, headers: Mapping[str, str], body: bytes) -> RequestFacts:
    """Read the service, operation and wire protocol of a signed AWS request.

    Args:
        target: the request target in origin form (``/path?query``).
        headers: the request headers, names in lower case.
        body: the request body.
    """
    service = _service_of(target, headers)
    content_type = headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    operation: str | None = None
    wire: Wire
    if "x-amz-target" in headers or kind.startswith("application/x-amz-json"):
        wire = "json"
        operation = headers.get("x-amz-target", "").rpartition(".")[2] or None
    elif service in _S3_SERVICES:
        wire = "s3"
    elif kind == "application/x-www-form-urlencoded" or service == "ec2":
        wire = "ec2" if service == "ec2" else "query"
        actions = parse_qs(body.decode("latin-1")).get("Action") if body else None
        operation = actions[0] if actions else None
    elif service in _REST_XML_SERVICES:
        wire = "rest-xml"
    else:
        wire = "rest-json"
    return RequestFacts(service, operation, wire, content_type, _access_key_of(target, headers))


def _access_key_of(target: str, headers: Mapping[str, str]) -> str | None:
    match = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    if match is not None:
        return match.group(1)
    credential = parse_qs(urlsplit(target).query).get("X-Amz-Credential")
    return credential[0].split("/")[0] if credential else None


def _service_of(target: str, headers: Mapping[str, str]) -> str | None:
    match = _CREDENTIAL_SCOPE.search(headers.get("authorization", ""))
    if match is not None:
        return match.group(2)
    # A presigned URL carries the same scope in its query string.
    credential = parse_qs(urlsplit(target).query).get("X-Amz-Credential")
    if credential:
        parts = credential[0].split("/")
        if len(parts) == 5:
            return parts[3]
    return None


def error_response(
    kind: ErrorKind,
    facts: RequestFacts,
    *,
    method: str = "POST",
    code: str | None = None,
    status: int | None = None,
    retry_after: float | None = None,
) -> ErrorResponse:
    """Build the response AWS sends for a throttle, an internal error or any error code.

    Args:
        kind: ``"throttle"``, ``"server_error"`` or ``"error"`` (``code`` and ``status``
            required).
        facts: what :func:`read_request_facts` read from the request.
        method: the request method; a response to ``HEAD`` has no body.
        code: an error code to send instead of the service's usual one (for example
            ``"ProvisionedThroughputExceededException"`` for DynamoDB).
        status: an HTTP status (400..599) to send instead of the service's usual one.
        retry_after: seconds; adds ``Retry-After`` (whole seconds, rounded up) and
            ``x-amz-retry-after`` (milliseconds, the header botocore's standard retry mode
            reads) to a throttle.

    Raises:
        ValueError: ``kind="error"`` without ``code`` or ``status``, or a status outside
            400..599.
    """
    service = facts.service or ""
    if kind == "throttle":
        spec = _THROTTLE_BY_SERVICE.get(service, _THROTTLE_BY_WIRE[facts.wire])
    elif kind == "server_error":
        spec = _SERVER_ERROR_BY_SERVICE.get(service, _SERVER_ERROR_BY_WIRE[facts.wire])
    elif code is None or status is None:
        raise ValueError('an "error" needs its code and its HTTP status')
    else:
        spec = _Spec(status, code, f"{code} (sent by asyncpage's fault proxy)")
    if status is not None and not 400 <= status <= 599:
        raise ValueError(f"an error status is 400..599, got {status!r}")
    spec = _Spec(status or spec.status, code or spec.code, spec.message)
    request_id = str(uuid.uuid4())
    headers, body = _ENVELOPES[facts.wire](spec, service, facts.content_type, request_id)
    if facts.wire == "json" and service in _QUERY_COMPATIBLE:
        fault = "Sender" if spec.status < 500 else "Receiver"
        headers.append(("x-amzn-query-error", f"{spec.code};{fault}"))
    if kind == "throttle" and retry_after is not None:
        milliseconds = round(retry_after * 1000)
        headers.append(("Retry-After", str(-(-milliseconds // 1000))))
        headers.append(("x-amz-retry-after", str(milliseconds)))
    if method.upper() == "HEAD":
        body = b""
    headers.append(("Content-Length", str(len(body))))
    try:
        reason = http.HTTPStatus(spec.status).phrase
    except ValueError:
        reason = "Error"  # a status that HTTP does not name, such as 499
    return ErrorResponse(spec.status, reason, tuple(headers), body)


_Envelope = tuple[list[tuple[str, str]], bytes]


def _json_envelope(spec: _Spec, service: str, content_type: str, request_id: str) -> _Envelope:
    namespace = "com.amazonaws.dynamodb.v20120810" if service == "dynamodb" else None
    namespace = namespace or (f"com.amazonaws.{service}" if service else None)
    error_type = f"{namespace}#{spec.code}" if namespace else spec.code
    body = json.dumps({"__type": error_type, "message": spec.message}, separators=(",", ":"))
    if not content_type.lower().startswith("application/x-amz-json"):
        content_type = "application/x-amz-json-1.0"
    headers = [
        ("Content-Type", content_type),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", spec.code),
    ]
    return headers, body.encode()


def _query_envelope(spec: _Spec, service: str, content_type: str, request_id: str) -> _Envelope:
    fault = "Sender" if spec.status < 500 else "Receiver"
    body = (
        f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(spec.code)}</Code>"
        f"<Message>{escape(spec.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()


def _ec2_envelope(spec: _Spec, service: str, content_type: str, request_id: str) -> _Envelope:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
        f"<Code>{escape(spec.code)}</Code><Message>{escape(spec.message)}</Message>"
        f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
    )
    return [("Content-Type", "text/xml;charset=UTF-8")], body.encode()


def _s3_envelope(spec: _Spec, service: str, content_type: str, request_id: str) -> _Envelope:
    host_id = uuid.uuid4().hex
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(spec.code)}</Code>'
        f"<Message>{escape(spec.message)}</Message><RequestId>{request_id}</RequestId>"
        f"<HostId>{host_id}</HostId></Error>"
    )
    headers = [
        ("Content-Type", "application/xml"),
        ("x-amz-request-id", request_id),
        ("x-amz-id-2", host_id),
    ]
    return headers, body.encode()


def _rest_json_envelope(spec: _Spec, service: str, content_type: str, request_id: str) -> _Envelope:
    fault = "User" if spec.status < 500 else "Service"
    body = json.dumps({"Type": fault, "message": spec.message}, separators=(",", ":"))
    headers = [
        ("Content-Type", "application/json"),
        ("x-amzn-RequestId", request_id),
        ("x-amzn-ErrorType", spec.code),
    ]
    return headers, body.encode()


_ENVELOPES: Final = {
    "json": _json_envelope,
    "query": _query_envelope,
    "ec2": _ec2_envelope,
    "s3": _s3_envelope,
    "rest-xml": _query_envelope,
    "rest-json": _rest_json_envelope,
}
