"""S3 and DynamoDB listings behind an HTTP API, with sealed cursors and NDJSON streams.

Run it (with no AWS account: an embedded, seeded moto server starts with the app)::

    pip install '.[fastapi,demo]'        # in a checkout of asyncpage
    uvicorn examples.fastapi_app:app     # from the checkout's root

    curl 'http://127.0.0.1:8000/buckets/orders-prod/objects?limit=50'
    curl 'http://127.0.0.1:8000/buckets/orders-prod/objects?limit=50&cursor=<next_cursor>'
    curl 'http://127.0.0.1:8000/buckets/orders-prod/objects.ndjson?page_size=40'
    curl 'http://127.0.0.1:8000/tables/orders-prod/items?limit=100'

Configuration, read from the environment when the app starts:

``ASYNCPAGE_ENDPOINT_URL``
    An AWS-compatible endpoint (moto, LocalStack). Unset: the embedded demo endpoint is
    started and seeded in ``AWS_DEFAULT_REGION`` before the app answers, each step logged
    as it finishes. Credentials come from the usual places.
``ASYNCPAGE_CURSOR_SECRET``
    The secret that seals cursors (at least 32 bytes, at least 8 distinct characters, not
    a short block repeated); several, newest first, separated by commas, while rotating.
    Required with ``ASYNCPAGE_ENDPOINT_URL``, because cursors from a generated secret
    break on restart and across workers. In demo mode a random one is generated, with a
    warning.
``ASYNCPAGE_CURSOR_TTL``
    Seconds a cursor stays valid (default 3600).
``AWS_DEFAULT_REGION``
    The region of the clients (default us-east-1).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response

from asyncpage.fastapi import (
    AWSClients,
    CursorPage,
    CursorSigner,
    NDJSONResponse,
    Pager,
    add_exception_handlers,
    aws_client,
)

# uvicorn prints this logger's INFO lines beside its own startup lines (whatever its name
# says); a logger of the app's own would print nothing unless the app configured logging.
log = logging.getLogger("uvicorn.error")

MAX_LIMIT = 1000
"""The largest ``limit`` a client may ask for."""
DEFAULT_LIMIT = 100
PAGE_SIZE = 100
"""Items asked of AWS per request."""
PURPOSE = "asyncpage-example"
"""Names this app's cursors: another app sharing the secret cannot use them."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """Start the demo endpoint if needed, open the clients once, close them at shutdown."""
    region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint_url = os.environ.get("ASYNCPAGE_ENDPOINT_URL") or None
    secrets = [s.strip() for s in os.environ.get("ASYNCPAGE_CURSOR_SECRET", "").split(",")]
    secrets = [s for s in secrets if s]
    ttl = float(os.environ.get("ASYNCPAGE_CURSOR_TTL") or 3600)
    async with AsyncExitStack() as stack:
        credentials: dict[str, str] = {}
        if endpoint_url is None:
            from asyncpage.testing import DemoEndpoint, SeedProgress

            def progress(step: SeedProgress) -> None:
                log.info("[%4.1fs] %s", step.seconds, step)

            log.info(
                "ASYNCPAGE_ENDPOINT_URL is not set: starting the demo endpoint (moto, in this "
                "process) and seeding %s, a few seconds",
                region,
            )
            demo = await stack.enter_async_context(
                DemoEndpoint.start(seed=True, regions=(region,), on_progress=progress)
            )
            log.info("demo endpoint %s (moto, seeded)", demo.endpoint_url)
            demo_kwargs = demo.client_kwargs(region)
            endpoint_url = demo_kwargs["endpoint_url"]
            credentials = {
                "aws_access_key_id": demo_kwargs["aws_access_key_id"],
                "aws_secret_access_key": demo_kwargs["aws_secret_access_key"],
            }
            if not secrets:
                log.warning(
                    "ASYNCPAGE_CURSOR_SECRET is not set: using a random secret, so cursors "
                    "stop working when the app restarts and differ between workers"
                )
                secrets = [CursorSigner.generate_secret()]
        elif not secrets:
            raise RuntimeError(
                "ASYNCPAGE_CURSOR_SECRET must be set with ASYNCPAGE_ENDPOINT_URL; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        clients = await stack.enter_async_context(
            AWSClients(["s3", "dynamodb"], region=region, endpoint_url=endpoint_url, **credentials)
        )
        pager = Pager(
            CursorSigner(secrets, ttl=ttl),
            purpose=PURPOSE,
            max_limit=MAX_LIMIT,
            page_size=PAGE_SIZE,
        )
        yield {AWSClients.state_key: clients, "pager": pager}


app = FastAPI(title="asyncpage FastAPI example", lifespan=lifespan)
add_exception_handlers(app)


def get_pager(request: Request) -> Pager:
    """The app's :class:`Pager`, made in the lifespan."""
    pager: Pager = request.state.pager
    return pager


S3 = Annotated[Any, Depends(aws_client("s3"))]
DynamoDB = Annotated[Any, Depends(aws_client("dynamodb"))]
AppPager = Annotated[Pager, Depends(get_pager)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items in this page.")]
CursorParam = Annotated[
    str | None, Query(description="`next_cursor` of the previous page; omit for the first.")
]


def s3_object(item: dict[str, Any]) -> dict[str, Any]:
    """The fields of an S3 object this API shows."""
    return {"Key": item["Key"], "Size": item["Size"]}


@app.get("/buckets/{bucket}/objects")
async def list_objects(
    bucket: str,
    s3: S3,
    pager: AppPager,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> CursorPage[Any]:
    """A page of the bucket's objects, in key order; ``Link: <...>; rel="next"`` if more."""
    return await pager.page(
        s3,
        "list_objects_v2",
        limit=limit,
        cursor=cursor,
        transform=s3_object,
        request=request,
        response=response,
        Bucket=bucket,
    )


@app.get("/buckets/{bucket}/objects.ndjson", response_class=NDJSONResponse)
async def stream_objects(
    bucket: str,
    s3: S3,
    pager: AppPager,
    cursor: CursorParam = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = PAGE_SIZE,
) -> NDJSONResponse:
    """Every object of the bucket, one JSON object a line, then a ``{"summary": ...}`` line."""
    return pager.stream(
        s3,
        "list_objects_v2",
        cursor=cursor,
        page_size=page_size,
        transform=s3_object,
        Bucket=bucket,
    )


@app.get("/tables/{table}/items")
async def scan_table(
    table: str,
    dynamodb: DynamoDB,
    pager: AppPager,
    request: Request,
    response: Response,
    limit: Limit = DEFAULT_LIMIT,
    cursor: CursorParam = None,
) -> CursorPage[Any]:
    """A page of a DynamoDB scan of the table, items in DynamoDB's JSON."""
    return await pager.page(
        dynamodb,
        "scan",
        limit=limit,
        cursor=cursor,
        request=request,
        response=response,
        TableName=table,
    )
