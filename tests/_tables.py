"""A DynamoDB table of string keys, created and filled over HTTP, for the async tests."""

from __future__ import annotations

from typing import Any


async def create_table(ddb: Any, name: str, count: int, *, prefix: str | None = None) -> list[str]:
    """Create ``name`` with ``count`` items keyed ``{prefix or name}-00000``...; return the keys."""
    await ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    keys = [f"{prefix or name}-{i:05d}" for i in range(count)]
    for start in range(0, count, 25):
        chunk = keys[start : start + 25]
        await ddb.batch_write_item(
            RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": k}}}} for k in chunk]}
        )
    return keys
