"""FastAPI integration: AWS listings behind your own HTTP API, with sealed cursors.

Needs the ``fastapi`` extra (in a checkout of asyncpage: ``pip install '.[fastapi]'``).
Three pieces:

* :class:`AWSClients` opens aiobotocore clients once, in the app's lifespan, and closes
  them at shutdown; :func:`aws_client` is the dependency that hands one to an endpoint.
* :class:`Pager` turns a paginated call into a JSON page
  (``{"items": [...], "next_cursor": ..., "has_more": ...}``, with a
  ``Link: <...>; rel="next"`` header) or an NDJSON stream, with cursors made by a
  :class:`CursorSigner`: opaque (AES-256-GCM), bound to the request and expiring.
* :func:`add_exception_handlers` turns a bad cursor into an HTTP 400, what the caller got
  wrong (a missing resource, an invalid parameter) into a 404/400, and AWS failing into a
  502/503, each with a JSON body ``{"error": ..., "detail": ...}``.

Example::

    from typing import Annotated, Any
    from fastapi import Depends, FastAPI, Query, Request, Response
    from asyncpage.fastapi import (
        AWSClients, CursorPage, CursorSigner, Pager, add_exception_handlers, aws_client,
    )

    clients = AWSClients(["s3"], region="us-east-1")
    app = FastAPI(lifespan=clients.lifespan)
    add_exception_handlers(app)
    pager = Pager(CursorSigner(SECRET), purpose="objects", max_limit=1000)

    @app.get("/buckets/{bucket}/objects")
    async def objects(
        bucket: str,
        s3: Annotated[Any, Depends(aws_client("s3"))],
        request: Request,
        response: Response,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> CursorPage[Any]:
        return await pager.page(
            s3, "list_objects_v2", limit=limit, cursor=cursor, Bucket=bucket,
            request=request, response=response,  # for the Link header
        )

Cursor errors are raised before :func:`asyncpage.paginate` is called, so a bad cursor
never reaches AWS.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, Self, TypeVar
from urllib.parse import quote, urlencode

from botocore.exceptions import (
    InvalidHostLabelError,
    MissingParametersError,
    ParamValidationError,
)
from botocore.exceptions import ValidationError as BotocoreValidationError
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, computed_field
from starlette.responses import StreamingResponse
from starlette.types import Send

from ._cursor import Cursor
from ._errors import PageFetchError, TokenCycleError
from ._iterator import AsyncPageIterator, paginate
from ._model import PagingModel
from ._public import publish
from ._retry import Retry, classify, error_code
from ._signing import (
    CursorBinding,
    CursorError,
    CursorExpiredError,
    CursorMismatchError,
    CursorSigner,
    CursorTamperedError,
)
from ._validation import fit_page_size

__all__ = [
    "AWSClients",
    "CursorBinding",
    "CursorError",
    "CursorExpiredError",
    "CursorMismatchError",
    "CursorPage",
    "CursorSigner",
    "CursorTamperedError",
    "NDJSONResponse",
    "Pager",
    "add_exception_handlers",
    "aws_client",
    "to_jsonable",
]

log = logging.getLogger("asyncpage.fastapi")

ItemT = TypeVar("ItemT")
Transform = Callable[[Any], Any]

_DEFAULT_RETRY = Retry()


# -- clients ------------------------------------------------------------------------------


class AWSClients:
    """aiobotocore clients opened once for an app, shared by its requests, closed at shutdown.

    Args:
        services: the services to open a client for (``"s3"``, ``"dynamodb"``).
        region: their region (``None``: botocore's usual lookup, e.g. ``AWS_DEFAULT_REGION``).
        endpoint_url: an AWS-compatible endpoint instead of AWS (moto, LocalStack).
        session: an ``aiobotocore.session.AioSession`` (default: a new one).
        client_kwargs: passed to ``create_client`` for every service (``config=AioConfig(...)``,
            credentials).

    Use it as the app's lifespan, or inside your own::

        app = FastAPI(lifespan=AWSClients(["s3"]).lifespan)

        @asynccontextmanager
        async def lifespan(app):
            async with AWSClients(["s3"], region="eu-west-1") as clients:
                yield {AWSClients.state_key: clients, ...}
    """

    state_key: ClassVar[str] = "aws_clients"
    """The lifespan-state key under which :func:`aws_client` looks for the clients."""

    def __init__(
        self,
        services: Iterable[str],
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        session: Any = None,
        **client_kwargs: Any,
    ) -> None:
        self.services = tuple(dict.fromkeys(services))
        if not self.services:
            raise ValueError("AWSClients needs at least one service name")
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session
        self._client_kwargs = client_kwargs
        self._clients: dict[str, Any] = {}
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise RuntimeError("these AWSClients are already open")
        session = self._session
        if session is None:
            from aiobotocore.session import get_session

            session = get_session()
        async with AsyncExitStack() as stack:
            for service in self.services:
                self._clients[service] = await stack.enter_async_context(
                    session.create_client(
                        service,
                        region_name=self.region,
                        endpoint_url=self.endpoint_url,
                        **self._client_kwargs,
                    )
                )
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        self._clients.clear()
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    def get(self, service: str) -> Any:
        """The open client for ``service``; ``LookupError`` if it is not open."""
        try:
            return self._clients[service]
        except KeyError:
            state = "open" if self._stack is not None else "closed"
            raise LookupError(
                f"no {service!r} client: these AWSClients are {state} with services "
                f"{list(self.services)}"
            ) from None

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[dict[str, Any]]:
        """A FastAPI lifespan that opens the clients and publishes them to :func:`aws_client`."""
        async with self:
            yield {self.state_key: self}


def aws_client(service: str) -> Callable[[Request], Any]:
    """A dependency returning the app's open client for ``service``.

    The clients come from the :class:`AWSClients` the lifespan yielded under
    :attr:`AWSClients.state_key`::

        S3 = Annotated[Any, Depends(aws_client("s3"))]
    """

    def dependency(request: Request) -> Any:
        clients = getattr(request.state, AWSClients.state_key, None)
        if not isinstance(clients, AWSClients):
            raise RuntimeError(
                f"no AWSClients in the app's lifespan state: use FastAPI(lifespan="
                f"AWSClients([...]).lifespan) or yield {{{AWSClients.state_key!r}: clients}} "
                "from your lifespan"
            )
        return clients.get(service)

    dependency.__name__ = f"aws_client_{service}"
    return dependency


# -- pages and streams -----------------------------------------------------------------------


class CursorPage(BaseModel, Generic[ItemT]):
    """One page of a listing for an HTTP client: its items and the cursor of the next page.

    ``next_cursor`` is ``None`` when the listing is complete; ``has_more`` says the same
    (from :meth:`Pager.page`, it is exact: a cursor never leads to an empty page).
    """

    items: list[ItemT]
    next_cursor: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_more(self) -> bool:
        """Whether another page follows: ``next_cursor`` is set."""
        return self.next_cursor is not None


class Pager:
    """Serves a paginated AWS call as JSON pages or an NDJSON stream, with sealed cursors.

    Args:
        signer: makes and checks the cursors.
        purpose: names this Pager's cursors (``"orders-api/objects"``): a Pager opens only
            cursors made with its own purpose, so Pagers and apps that share a secret never
            accept each other's. Keep it stable across restarts and workers.
        max_limit: the largest ``limit`` :meth:`page` accepts (declare the same bound on the
            query parameter, ``Query(ge=1, le=max_limit)``, to get a 422 from FastAPI).
        page_size: the most items asked of AWS per request (``PageSize``). ``None``: a JSON
            page asks for ``limit`` items at once, a stream uses the service's default.
        prefetch: pages read ahead while a stream is being written.
        retry: asyncpage's page-level :class:`~asyncpage.Retry`, ``None`` for none.
    """

    def __init__(
        self,
        signer: CursorSigner,
        *,
        purpose: str,
        max_limit: int = 1000,
        page_size: int | None = None,
        prefetch: int = 1,
        retry: Retry | None = _DEFAULT_RETRY,
    ) -> None:
        if isinstance(max_limit, bool) or not isinstance(max_limit, int) or max_limit < 1:
            raise ValueError(f"max_limit must be an int >= 1, not {max_limit!r}")
        if page_size is not None and (
            isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1
        ):
            raise ValueError(f"page_size must be an int >= 1 or None, not {page_size!r}")
        if not isinstance(purpose, str) or not purpose:
            raise ValueError(f"purpose must be a non-empty str, not {purpose!r}")
        self.signer = signer
        self.purpose = purpose
        self.max_limit = max_limit
        self.page_size = page_size
        self.prefetch = prefetch
        self.retry = retry

    def binding(
        self,
        client: Any,
        operation: str,
        params: Mapping[str, Any],
        *,
        principal: str | None = None,
    ) -> CursorBinding:
        """What this listing's cursors are bound to (the client's service and region)."""
        return CursorBinding.for_client(client, operation, params, principal=principal)

    async def page(
        self,
        client: Any,
        operation: str,
        /,
        *,
        limit: int,
        cursor: str | None = None,
        principal: str | None = None,
        transform: Transform | None = None,
        request: Request | None = None,
        response: Response | None = None,
        **params: Any,
    ) -> CursorPage[Any]:
        """Up to ``limit`` items from ``cursor`` (or the start), and the next page's cursor.

        ``params`` are the operation's parameters (no ``PaginationConfig``); ``transform``
        maps each item before it is sent (e.g. to keep a few fields); the result is made
        JSON-safe with :func:`to_jsonable`. ``principal`` binds the cursors to a user or
        tenant: pass the same value when the client comes back.

        Given the endpoint's ``request`` and ``response``, a page that has a next one gets
        an RFC 8288 ``Link: </path?...&cursor=...>; rel="next"`` header: the request's own
        path and query with its ``cursor`` query parameter replaced.

        ``next_cursor`` (and ``has_more``) are exact. When the page ends where an AWS page
        ends and AWS sent a token, the items may also have run out (DynamoDB sends a token
        whenever ``Limit`` items were read), so the Pager asks AWS for one item from there
        (``PageSize`` 1); if that page is empty but AWS has more pages (a filtered scan),
        it reads on at ``page_size`` until an item or the end. A page that ends inside an
        AWS page, or at the last one, costs no extra request. If those requests fail, the
        page is still served, with its cursor.

        Raises :class:`CursorError` for a cursor that cannot be used (before any request),
        :class:`~asyncpage.PageFetchError` when AWS fails, ``ValueError`` for a ``limit``
        outside ``1..max_limit``, ``TypeError`` for a ``request`` without ``response`` or
        the other way round.
        """
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= self.max_limit
        ):
            raise ValueError(f"limit must be an int from 1 to {self.max_limit}, not {limit!r}")
        if (request is None) != (response is None):
            raise TypeError("pass both request and response to get a Link header, or neither")
        _reject_pagination_config(params)
        binding = self.binding(client, operation, params, principal=principal)
        token = (
            None if cursor is None else self.signer.verify(cursor, binding, purpose=self.purpose)
        )
        model = PagingModel.for_client(client, operation)
        page_size = limit if self.page_size is None else min(limit, self.page_size)
        iterator = self._paginate(
            client, operation, params, model, token=token, max_items=limit, page_size=page_size
        )
        items: list[Any] = []
        async with iterator:
            async for page in iterator:
                items.extend(_page_items(page, model))
        mapped = items if transform is None else [transform(item) for item in items]
        next_token = iterator.resume_token
        if next_token is not None and not await self._more_after(
            client, operation, params, model, next_token
        ):
            next_token = None
        next_cursor = (
            None
            if next_token is None
            else self.signer.sign(next_token, binding, purpose=self.purpose)
        )
        if request is not None and response is not None and next_cursor is not None:
            response.headers.append("Link", f'<{_next_url(request, next_cursor)}>; rel="next"')
        return CursorPage[Any](items=to_jsonable(mapped), next_cursor=next_cursor)

    async def _more_after(
        self,
        client: Any,
        operation: str,
        params: Mapping[str, Any],
        model: PagingModel,
        token: str,
    ) -> bool:
        """Whether any item follows ``token``: what an exact ``has_more`` costs."""
        if Cursor.decode(token, model.input_tokens).skip:
            return True  # the page was cut inside an AWS page: the rest of that page follows
        start: str | None = token
        try:
            # One item first, cheap for S3's XML; then, past empty pages, the normal size.
            for page_size in (1, self.page_size):
                probe = self._paginate(
                    client,
                    operation,
                    params,
                    model,
                    token=start,
                    max_items=1,
                    page_size=page_size,
                    prefetch=0,
                )
                async with probe:
                    async for page in probe:
                        if _page_items(page, model):
                            return True
                        if page_size == 1:
                            break
                start = probe.resume_token
                if start is None:
                    return False
        except (PageFetchError, TokenCycleError) as exc:
            # The page itself was fetched: serve it with its cursor rather than fail it.
            log.info("could not tell whether items follow this page: %s", exc)
            return True
        return False

    def stream(
        self,
        client: Any,
        operation: str,
        /,
        *,
        cursor: str | None = None,
        max_items: int | None = None,
        page_size: int | None = None,
        principal: str | None = None,
        transform: Transform | None = None,
        **params: Any,
    ) -> NDJSONResponse:
        """An NDJSON response: one item per line, then one ``{"summary": {...}}`` line.

        The summary is
        ``{"items": N, "pages": P, "error": null | {...}, "resume_cursor": null | "..."}``:
        ``resume_cursor`` continues the listing (on this endpoint or on the JSON one with
        the same parameters) when it stopped early, after an AWS failure (``error`` says
        which) or at ``max_items``. A failure on the first page, before any byte is sent,
        is an HTTP error instead, as for :meth:`page`. ``page_size`` replaces the Pager's
        for this stream.

        The cursor is checked here: a bad one raises :class:`CursorError` from the
        endpoint. A client that disconnects cancels the request in flight.
        """
        _reject_pagination_config(params)
        binding = self.binding(client, operation, params, principal=principal)
        token = (
            None if cursor is None else self.signer.verify(cursor, binding, purpose=self.purpose)
        )
        model = PagingModel.for_client(client, operation)
        if page_size is None:
            page_size = self.page_size
        iterator = self._paginate(
            client, operation, params, model, token=token, max_items=max_items, page_size=page_size
        )

        def resume(token: str | None) -> str | None:
            return None if token is None else self.signer.sign(token, binding, purpose=self.purpose)

        return NDJSONResponse(_NDJSONBody(iterator, model, transform, resume))

    def _paginate(
        self,
        client: Any,
        operation: str,
        params: Mapping[str, Any],
        model: PagingModel,
        *,
        token: str | None,
        max_items: int | None,
        page_size: int | None,
        prefetch: int | None = None,
    ) -> AsyncPageIterator:
        if not model.result_keys:
            raise ValueError(f"{model.py_name} has no result key to take items from")
        config: dict[str, Any] = {}
        if max_items is not None:
            config["MaxItems"] = max_items
        if page_size is not None and model.limit_key is not None:
            # limit 500 on a listing whose AWS maximum is 100 asks for pages of 100: the
            # client's limit is a number of items, not a page size AWS must accept.
            config["PageSize"] = fit_page_size(client, model, page_size)
        if token is not None:
            config["StartingToken"] = token
        return paginate(client, operation, PaginationConfig=config, **params).with_options(
            prefetch=self.prefetch if prefetch is None else prefetch, retry=self.retry
        )


def _reject_pagination_config(params: Mapping[str, Any]) -> None:
    if "PaginationConfig" in params:
        raise ValueError("pass limit/cursor/max_items to the Pager, not PaginationConfig")


def _next_url(request: Request, cursor: str) -> str:
    """The request's path and query, with ``cursor`` set: a reference relative to its host.

    A path-absolute reference (RFC 3986), so a proxy in front of the app (another host or
    scheme) does not make it wrong; RFC 8288 resolves it against the request's URL.
    """
    # The ASGI path includes the root path (Starlette's request.url uses it alone).
    path = quote(request.scope["path"], safe=_PATH_SAFE)
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return f"{path}?{urlencode([*query, ('cursor', cursor)])}"


# RFC 3986 pchar without "%": the ASGI path is already decoded.
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"


def _page_items(page: dict[str, Any], model: PagingModel) -> list[Any]:
    found = model.primary_result_key.search(page)
    return found if isinstance(found, list) else [] if found is None else list(found)


class _NDJSONBody:
    """The chunks of an NDJSON listing: one chunk of lines per page, then the summary line.

    An async context manager around the page iterator, so the read-ahead task lives in the
    task that writes the response and is cancelled with it.
    """

    def __init__(
        self,
        iterator: AsyncPageIterator,
        model: PagingModel,
        transform: Transform | None,
        resume: Callable[[str | None], str | None],
    ) -> None:
        self.iterator = iterator
        self._model = model
        self._transform = transform
        self._resume = resume
        self._pages: AsyncIterator[dict[str, Any]] | None = None
        self._done = False
        self.started = False
        self.items = 0
        self.pages = 0

    async def __aenter__(self) -> Self:
        await self.iterator.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self.iterator.__aexit__(exc_type, exc, tb)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        if self._pages is None:
            self._pages = aiter(self.iterator)
        try:
            page = await anext(self._pages)
        except StopAsyncIteration:
            self._done = True
            return self._summary(None, self.iterator.resume_token)
        except (PageFetchError, TokenCycleError) as exc:
            if not self.started:
                raise  # nothing sent yet: the response can still be an HTTP error
            self._done = True
            log.warning("NDJSON listing stopped after %d pages: %s", self.pages, exc)
            return self._summary(_error_body(exc)[1], exc.resume_token)
        self.started = True
        self.pages += 1
        items = _page_items(page, self._model)
        self.items += len(items)
        if self._transform is not None:
            items = [self._transform(item) for item in items]
        return b"".join(_json_line(to_jsonable(item)) for item in items)

    def _summary(self, error: dict[str, Any] | None, token: str | None) -> bytes:
        summary = {
            "items": self.items,
            "pages": self.pages,
            "error": error,
            "resume_cursor": self._resume(token),
        }
        return _json_line({"summary": summary})


class NDJSONResponse(StreamingResponse):
    """A ``application/x-ndjson`` listing made by :meth:`Pager.stream`.

    The page iterator is entered in the task that writes the response, so Starlette's
    cancellation on client disconnect cancels the AWS request in flight and the read-ahead.
    The first page is fetched before the status line: if it fails, the response is the same
    JSON error as :meth:`Pager.page` gives, not a 200 with an error summary.
    """

    media_type = "application/x-ndjson"

    def __init__(
        self,
        body: _NDJSONBody,
        status_code: int = 200,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # FastAPI's OpenAPI generator reads the default status of a ``response_class`` from
        # its ``__init__`` signature; without ``status_code`` /openapi.json fails.
        super().__init__(body, status_code=status_code, headers=headers, media_type=self.media_type)
        self._body = body

    async def stream_response(self, send: Send) -> None:
        async with self._body as body:
            try:
                first = await anext(body)
            except PageFetchError as exc:
                status, content = _error_body(exc)
                log.log(_log_level(status), "NDJSON listing failed on its first page: %s", exc)
                error = _json_response(status, content)
                await send(
                    {"type": "http.response.start", "status": status, "headers": error.raw_headers}
                )
                await send({"type": "http.response.body", "body": error.body})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            chunk: bytes | None = first
            while chunk is not None:
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await anext(body, None)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


# -- JSON and errors -------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """``value`` with AWS types made JSON-safe, as the pages and streams send them.

    ``datetime``/``date`` become ISO 8601 strings, ``bytes`` standard base64, ``Decimal``
    its exact string, sets lists; dicts, lists and tuples are converted recursively.
    """
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json_line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# What the caller of the API got wrong, in AWS's words: answered 4xx, so monitoring that
# pages on 5xx is not woken by a user's typo. Anything else AWS refuses is 502: the app's
# credentials, configuration or AWS itself are at fault, not the caller.
_NOT_FOUND_CODES: Final = frozenset(
    {
        "ResourceNotFoundException",  # DynamoDB (HTTP 400), Logs, Secrets Manager, ...
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "ParameterNotFound",
    }
)
# NoSuchBucket, NoSuchEntity (IAM); InvalidVpcID.NotFound (EC2), DBInstanceNotFound,
# DBClusterNotFoundFault (RDS), ClusterNotFoundException (ECS).
_NOT_FOUND_PREFIXES: Final = ("NoSuch",)
_NOT_FOUND_SUFFIXES: Final = ("NotFound", "NotFoundException", "NotFoundFault")
_INVALID_CODES: Final = frozenset(
    {
        "ValidationException",  # JSON protocol services (DynamoDB, Logs, SSM, ...)
        "ValidationError",  # query protocol services (CloudFormation, IAM, RDS, ...)
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidParameter",
        "InvalidParameterException",
        "InvalidParameterCombination",
        "InvalidParameterCombinationException",
        "MissingParameter",
        "InvalidArgument",  # S3
        "InvalidArgumentException",
        "InvalidBucketName",
        "InvalidInput",
        "InvalidInputException",
        "InvalidRequestException",
    }
)
# botocore refused the parameters before sending anything (a bucket name that does not
# match its pattern, a value too short, an unknown parameter).
_CLIENT_SIDE_INVALID: Final = (
    ParamValidationError,
    BotocoreValidationError,
    MissingParametersError,
    InvalidHostLabelError,
)


def _caller_error(cause: BaseException, code: str | None, status: object) -> int | None:
    """404 or 400 when the caller's parameters are at fault, else ``None``."""
    if isinstance(cause, _CLIENT_SIDE_INVALID):
        return 400
    if status == 404:
        return 404
    if not (isinstance(status, int) and 400 <= status < 500) or code is None:
        return None  # an AWS 5xx stays a 5xx, whatever its code says
    if (
        code in _NOT_FOUND_CODES
        or code.startswith(_NOT_FOUND_PREFIXES)
        or code.endswith(_NOT_FOUND_SUFFIXES)
    ):
        return 404
    if code in _INVALID_CODES or code.endswith(".Malformed"):  # EC2: InvalidVpcID.Malformed
        return 400
    return None


def _error_body(exc: PageFetchError | TokenCycleError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for a listing AWS could not complete.

    AWS's own message is logged, not sent: it can name accounts, roles and resources.
    botocore's message about invalid parameters is not sent either: it quotes parameter
    values, some of which the app may have set itself.
    """
    if isinstance(exc, TokenCycleError):
        return 502, {
            "error": "upstream_error",
            "detail": "the service returned a pagination token it had already returned",
            "aws_error_code": None,
        }
    cause = exc.error
    code = error_code(cause)
    kind = classify(cause)
    response = getattr(cause, "response", None)
    status = None
    if isinstance(response, Mapping):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if kind == "throttling":
        return 503, {
            "error": "upstream_throttled",
            "detail": "AWS is throttling this listing; retry later with the same cursor",
            "aws_error_code": code,
        }
    if kind == "transient":
        return 503, {
            "error": "upstream_unavailable",
            "detail": "AWS failed transiently; retry later with the same cursor",
            "aws_error_code": code,
        }
    caller = _caller_error(cause, code, status)
    if caller == 404:
        return 404, {
            "error": "not_found",
            "detail": "AWS reports that the resource does not exist",
            "aws_error_code": code,
        }
    if caller == 400:
        return 400, {
            "error": "invalid_parameter",
            "detail": "a parameter of this request is not valid for AWS",
            "aws_error_code": code,
        }
    return 502, {
        "error": "upstream_error",
        "detail": "the AWS request for this listing failed",
        "aws_error_code": code,
    }


def _log_level(status: int) -> int:
    # The caller's mistakes are not the app's trouble: no warning for a 4xx.
    return logging.INFO if status < 500 else logging.WARNING


def _json_response(status: int, content: dict[str, Any]) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(content, status_code=status, headers=headers)


async def _cursor_error_handler(request: Request, exc: Exception) -> JSONResponse:
    code = exc.code if isinstance(exc, CursorError) else CursorError.code
    return JSONResponse({"error": code, "detail": str(exc)}, status_code=400)


async def _fetch_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, PageFetchError | TokenCycleError):  # pragma: no cover
        raise exc
    status, content = _error_body(exc)
    log.log(_log_level(status), "%s %s: %s", request.method, request.url.path, exc)
    return _json_response(status, content)


def add_exception_handlers(app: FastAPI) -> None:
    """Answer cursor errors and the caller's mistakes with 4xx, AWS failing with 5xx, as JSON.

    Bodies are ``{"error": code, "detail": text}`` where ``code`` is ``"cursor_tampered"``,
    ``"cursor_expired"`` or ``"cursor_mismatch"`` (400); ``"invalid_parameter"`` (400:
    botocore refused a parameter, or AWS answered 4xx ``ValidationException``,
    ``InvalidParameterValue``...); ``"not_found"`` (404: AWS answered 404, or 4xx
    ``ResourceNotFoundException``, ``NoSuch*``, ``*NotFound``...); ``"upstream_throttled"``
    or ``"upstream_unavailable"`` (503, with ``Retry-After``); ``"upstream_error"`` (502,
    anything else, such as ``AccessDenied`` for the app's credentials). AWS failures add
    ``aws_error_code``. 4xx answers are logged at INFO, 5xx at WARNING.
    """
    app.add_exception_handler(CursorError, _cursor_error_handler)
    app.add_exception_handler(PageFetchError, _fetch_error_handler)
    app.add_exception_handler(TokenCycleError, _fetch_error_handler)


publish(__name__, __all__, globals())
