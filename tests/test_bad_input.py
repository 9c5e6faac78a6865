"""Bad input fails at ``paginate()``/``search()`` with asyncpage's own error, sending nothing.

Every client here points at a :class:`ScriptedAWS`, whose request counter proves that no
request reached the server. Each error is an :class:`asyncpage.InvalidPaginationError`
subclass, hence also a ``ValueError``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import OperationNotPageableError, PaginationError
from botocore.paginate import TokenEncoder

import asyncpage
from asyncpage.testing._scripted import ScriptedAWS

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

SCAN_TOKEN = TokenEncoder().encode({"ExclusiveStartKey": {"pk": {"S": "k"}}})
S3_TOKEN = TokenEncoder().encode({"ContinuationToken": "1a2b3c"})


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # only client construction is async; nothing is ever sent


@pytest.fixture(scope="module")
def aws() -> Iterator[ScriptedAWS]:
    with ScriptedAWS() as server:
        yield server


@pytest.fixture(scope="module")
async def clients(anyio_backend: str, aws: ScriptedAWS) -> AsyncIterator[dict[str, Any]]:
    session = get_session()
    async with (
        session.create_client(
            "dynamodb", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
        ) as dynamodb,
        session.create_client(
            "s3", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
        ) as s3,
        session.create_client(
            "sns", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
        ) as sns,
    ):
        yield {"dynamodb": dynamodb, "s3": s3, "sns": sns}


@pytest.fixture(autouse=True)
def nothing_sent(aws: ScriptedAWS) -> Iterator[None]:
    before = aws.requests
    yield
    assert aws.requests == before == 0, "a request reached the server"


def scan(clients: dict[str, Any], **config: Any) -> asyncpage.AsyncPageIterator:
    return asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", PaginationConfig=config)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- PaginationConfig ------------------------------------------------------------------------


def test_pagination_config_none(clients: dict[str, Any]) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="PaginationConfig"):
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", PaginationConfig=None)


@pytest.mark.parametrize("key", ["MaxItems", "PageSize"])
@pytest.mark.parametrize(
    "value",
    [0, -1, -100, "abc", "", "2.5", True, False, 2.5, 0.5, float("nan"), [3], {"n": 3}],
    ids=repr,
)
def test_bad_numbers(clients: dict[str, Any], key: str, value: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match=key) as info:
        scan(clients, **{key: value})
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, asyncpage.InvalidPaginationError)


@pytest.mark.parametrize("value", ["7", 7.0])
def test_numbers_botocore_accepts_are_accepted(clients: dict[str, Any], value: Any) -> None:
    # botocore takes int(value): "7" and 7.0 are fine there, so they are fine here.
    it = scan(clients, MaxItems=value, PageSize=value)
    assert it.resume_token is None


@pytest.mark.parametrize("key", ["MaxItem", "pagesize", "StartToken", "Limit"])
def test_unknown_pagination_config_key(clients: dict[str, Any], key: str) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError) as info:
        scan(clients, **{key: 5})
    message = str(info.value)
    assert key in message
    for valid in ("MaxItems", "PageSize", "StartingToken"):
        assert valid in message


def test_page_size_on_an_operation_without_a_limit_key(clients: dict[str, Any]) -> None:
    # botocore's paginators-1.json: sns ListTopics has no limit_key (boto3 raises its
    # PaginationError, which is no ValueError).
    assert asyncpage.paginate(clients["sns"], "list_topics").model.limit_key is None
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="PageSize") as info:
        asyncpage.paginate(clients["sns"], "list_topics", PaginationConfig={"PageSize": 10})
    assert isinstance(info.value, ValueError)
    # MaxItems alone is fine there.
    asyncpage.paginate(clients["sns"], "list_topics", PaginationConfig={"MaxItems": 10})


def test_page_size_without_a_limit_key_is_botocores_pagination_error(
    clients: dict[str, Any],
) -> None:
    # Code written against botocore catches PaginationError here; it still does.
    with pytest.raises(PaginationError) as info:
        asyncpage.paginate(clients["sns"], "list_topics", PaginationConfig={"PageSize": 10})
    error = info.value
    assert isinstance(error, asyncpage.InvalidPaginationConfigError)
    # asyncpage's message as it is (not botocore's "Error during pagination: ..."), and
    # botocore's fields where botocore code reads them.
    assert str(error).startswith("PageSize is not supported by list_topics")
    assert error.kwargs == {"message": str(error)}


@pytest.mark.parametrize("prefetch", [-1, True, 1.5, "2"], ids=repr)
def test_bad_prefetch(clients: dict[str, Any], prefetch: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="prefetch"):
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", prefetch=prefetch)


def test_retry_must_be_a_retry(clients: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="Retry"):
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", retry=3)  # type: ignore[arg-type]


# -- StartingToken ---------------------------------------------------------------------------

BAD_TOKENS = {
    "garbage": "this is not a token!",
    "base64 of non-JSON": b64("hello, world"),
    "base64 of a JSON list": b64("[1, 2]"),
    "base64 of a JSON string": b64('"ExclusiveStartKey"'),
    "truncated base64": SCAN_TOKEN[:-3],
    "another operation's token (S3 ContinuationToken)": S3_TOKEN,
    "another operation's token (ListBackups)": TokenEncoder().encode(
        {"ExclusiveStartBackupArn": "arn:aws:dynamodb:us-east-1:1:table/t/backup/1"}
    ),
    "extra key": TokenEncoder().encode({"ExclusiveStartKey": None, "Other": 1}),
    "raw DynamoDB key": json.dumps({"pk": {"S": "k"}}),
    "raw S3 continuation token": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
    "negative boto_truncate_amount": TokenEncoder().encode(
        {"ExclusiveStartKey": {"pk": {"S": "k"}}, "boto_truncate_amount": -1}
    ),
    "string boto_truncate_amount": TokenEncoder().encode(
        {"ExclusiveStartKey": {"pk": {"S": "k"}}, "boto_truncate_amount": "2"}
    ),
    "bool boto_truncate_amount": TokenEncoder().encode(
        {"ExclusiveStartKey": {"pk": {"S": "k"}}, "boto_truncate_amount": True}
    ),
    "bad boto_encoded_keys": b64(
        json.dumps({"ExclusiveStartKey": {"pk": {"B": "AA=="}}, "boto_encoded_keys": [["nope"]]})
    ),
}


@pytest.mark.parametrize("token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_starting_token_that_is_not_a_token(clients: dict[str, Any], token: str) -> None:
    with pytest.raises(asyncpage.InvalidStartingTokenError) as info:
        scan(clients, StartingToken=token)
    assert isinstance(info.value, ValueError)


def test_raw_service_token_message_says_where_it_goes(clients: dict[str, Any]) -> None:
    with pytest.raises(asyncpage.InvalidStartingTokenError, match="ContinuationToken"):
        asyncpage.paginate(
            clients["s3"],
            "list_objects_v2",
            Bucket="b",
            PaginationConfig={"StartingToken": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J"},
        )


@pytest.mark.parametrize("token", [5, b"token", ["a"], {"ExclusiveStartKey": None}], ids=repr)
def test_starting_token_of_the_wrong_type(clients: dict[str, Any], token: Any) -> None:
    with pytest.raises(asyncpage.InvalidStartingTokenError, match="str"):
        scan(clients, StartingToken=token)


def test_bad_starting_token_is_also_botocores_pagination_error(clients: dict[str, Any]) -> None:
    # botocore's paginator raises ValueError("Bad starting token: ...") for a token it cannot
    # use; asyncpage's error is that ValueError and, like its other PaginationConfig
    # errors, botocore's PaginationError too.
    with pytest.raises(PaginationError) as info:
        scan(clients, StartingToken=S3_TOKEN)
    assert isinstance(info.value, asyncpage.InvalidStartingTokenError)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("StartingToken holds")


def test_good_tokens_are_accepted(clients: dict[str, Any]) -> None:
    scan(clients, StartingToken=SCAN_TOKEN)
    with_skip = TokenEncoder().encode(
        {"ExclusiveStartKey": {"pk": {"B": b"\x00\xff"}}, "boto_truncate_amount": 3}
    )
    assert scan(clients, StartingToken=with_skip).resume_token == with_skip


# -- operation names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "name", "paginated"),
    [
        ("dynamodb", "scan_table", "scan"),  # unknown
        ("dynamodb", "ListTables", "list_tables"),  # the API name, not the method name
        ("dynamodb", "put_item", "query"),  # exists, not paginated
        ("s3", "get_object", "list_objects_v2"),
        ("s3", "list_buckets_v3", "list_object_versions"),
    ],
)
def test_operation_that_cannot_be_paginated(
    clients: dict[str, Any], service: str, name: str, paginated: str
) -> None:
    client = clients[service]
    with pytest.raises(asyncpage.OperationNotPaginatedError) as info:
        asyncpage.paginate(client, name)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.operation_name == name
    assert error.paginated == asyncpage.paginated_operations(client)
    assert paginated in error.paginated
    assert name in str(error)
    # The message lists every paginated operation of this client.
    for operation in error.paginated:
        assert operation in str(error)
    assert all(client.can_paginate(operation) for operation in error.paginated)


@pytest.mark.parametrize("name", [None, 7, b"scan", ["scan"]], ids=repr)
def test_operation_name_that_is_not_a_str(clients: dict[str, Any], name: Any) -> None:
    with pytest.raises(asyncpage.OperationNotPaginatedError, match="str") as info:
        asyncpage.paginate(clients["dynamodb"], name)
    assert isinstance(info.value, ValueError)
    assert "scan" in info.value.paginated


def test_operation_not_paginated_is_botocores_operation_not_pageable(
    clients: dict[str, Any],
) -> None:
    # What client.get_paginator("put_item") raises; code catching it keeps working.
    with pytest.raises(OperationNotPageableError) as info:
        asyncpage.paginate(clients["dynamodb"], "put_item")
    assert isinstance(info.value, asyncpage.OperationNotPaginatedError)
    assert info.value.kwargs["operation_name"] == "put_item"
    assert str(info.value).startswith("dynamodb client cannot paginate 'put_item'")


# -- search() --------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["Items[?", "Items[].[", "`", "Items | | x", "", 42])
def test_invalid_jmespath_expression(clients: dict[str, Any], expression: Any) -> None:
    it = scan(clients, PageSize=5)
    with pytest.raises(asyncpage.InvalidExpressionError) as info:
        it.search(expression)
    assert isinstance(info.value, ValueError)
