"""Paginate, search and resume with asyncpage, against the embedded demo endpoint.

Runs with no AWS account: it starts moto's server in this process on 127.0.0.1 and seeds it
(``asyncpage.testing.DemoEndpoint``; the ``demo`` extra: ``pip install '.[demo]'`` in a
checkout), showing each seeding step as it finishes. Set ``ASYNCPAGE_ENDPOINT_URL`` to use
another AWS-compatible endpoint instead (the demo's tables and buckets must exist there,
as ``python -m asyncpage.testing`` serves them).

    python examples/quickstart.py
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from typing import Any

import anyio
from aiobotocore.session import get_session

import asyncpage
from asyncpage.testing import DemoEndpoint, SeedProgress

REGION = "us-east-1"


async def main() -> None:
    async with AsyncExitStack() as stack:
        url = os.environ.get("ASYNCPAGE_ENDPOINT_URL")
        if url:
            kwargs: dict[str, Any] = {"endpoint_url": url, "region_name": REGION}
        else:
            print(f"starting the demo endpoint (moto, in this process), seeding {REGION}: seconds")
            demo = await stack.enter_async_context(
                DemoEndpoint.start(seed=True, scale=0.5, regions=[REGION], on_progress=progress)
            )
            kwargs = demo.client_kwargs(REGION)
            print(f"demo endpoint: {demo.endpoint_url} (moto, seeded, in this process)")
        session = get_session()
        ddb = await stack.enter_async_context(session.create_client("dynamodb", **kwargs))
        s3 = await stack.enter_async_context(session.create_client("s3", **kwargs))

        # 1. Pages, read one ahead while we work on the current one.
        tables = await asyncpage.paginate(ddb, "list_tables").build_full_result()
        table = tables["TableNames"][0]
        pages = asyncpage.paginate(ddb, "scan", TableName=table, PaginationConfig={"PageSize": 50})
        async with pages:
            counts = [page["Count"] async for page in pages]
        print(f"scan {table}: {len(counts)} pages, {sum(counts)} items; {pages.statistics()}")

        # 2. search(): a JMESPath expression over every page, flattened.
        bucket = (await s3.list_buckets())["Buckets"][0]["Name"]
        keys = asyncpage.paginate(
            s3, "list_objects_v2", Bucket=bucket, PaginationConfig={"PageSize": 25}
        )
        big = [key async for key in keys.search("Contents[?Size > `1000`].Key")]
        print(f"s3://{bucket}: {len(big)} objects over 1,000 bytes")

        # 3. Stop anywhere, keep the token, resume later: nothing lost, nothing repeated.
        first = asyncpage.paginate(
            ddb, "scan", TableName=table, PaginationConfig={"PageSize": 40, "MaxItems": 70}
        )
        seen = [item async for item in first.items()]
        token = first.resume_token
        print(f"first run: {len(seen)} items, resume token {token[:24] if token else None}...")
        rest = asyncpage.paginate(
            ddb, "scan", TableName=table, PaginationConfig={"PageSize": 40, "StartingToken": token}
        )
        remaining = [item async for item in rest.items()]
        total = (await ddb.describe_table(TableName=table))["Table"]["ItemCount"]
        print(f"resumed: {len(remaining)} more, {len(seen) + len(remaining)} of {total} in all")
        # The same token resumes boto3's and aiobotocore's own paginators too.
        tail = ddb.get_paginator("scan").paginate(
            TableName=table, PaginationConfig={"PageSize": 40, "StartingToken": token}
        )
        same = [item async for item in tail.search("Items[]")]
        print(
            f"aiobotocore's paginator from that token: {len(same)} items, same: {same == remaining}"
        )


def progress(step: SeedProgress) -> None:
    print(f"  [{step.seconds:4.1f}s] {step}")


if __name__ == "__main__":
    anyio.run(main)
