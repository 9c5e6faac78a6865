"""Bad input fails at ``paginate()``/``search()`` with asyncpage's own error, sending nothing.

Every client here points at a :class:`ScriptedAWS`, whose request counter proves that no
request reached the server. Each error is an :class:`asyncpage.InvalidPaginationError`
subclass, hence also a ``ValueError``; an argument of the wrong type raises one that is
also a ``TypeError`` (an :class:`asyncpage.InvalidPaginationTypeError`). The cases written
out here are followed by generated ones (hypothesis): bad configs, tokens, expressions and
options, each checked the same way.
"""

from __future__ import annotations

import base64
import json
import math
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple, TypedDict

import botocore.session
import jmespath
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import ClientCreatorContext, get_session
from botocore.exceptions import OperationNotPageableError, PaginationError
from botocore.paginate import TokenDecoder, TokenEncoder
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jmespath.exceptions import JMESPathError
from jmespath.functions import Functions

import asyncpage
from asyncpage.testing._scripted import ScriptedAWS


class _Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str


#: A TypedDict, so that ``**CREDENTIALS`` type-checks against the stubs' create_client.
CREDENTIALS: _Credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def case_id(value: object) -> str:
    """A case's repr without object addresses: pytest-xdist's workers must collect one id."""
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


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
        session.create_client(
            "ssm", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
        ) as ssm,
        session.create_client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=aws.endpoint_url,
            config=AioConfig(parameter_validation=False),
            **CREDENTIALS,
        ) as unvalidated,
    ):
        yield {"dynamodb": dynamodb, "s3": s3, "sns": sns, "ssm": ssm, "unvalidated": unvalidated}


@pytest.fixture(autouse=True)
def nothing_sent(aws: ScriptedAWS) -> Iterator[None]:
    before = aws.requests
    yield
    assert aws.requests == before == 0, "a request reached the server"


def scan(clients: dict[str, Any], **config: Any) -> asyncpage.AsyncPageIterator:
    return asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", PaginationConfig=config)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_type_error(error: BaseException) -> None:
    """A wrong type: asyncpage's, a TypeError, and (like every bad input) a ValueError."""
    assert isinstance(error, asyncpage.InvalidPaginationTypeError)
    assert isinstance(error, TypeError)
    assert isinstance(error, ValueError)


def assert_value_error(error: BaseException) -> None:
    """A wrong value of an accepted type: asyncpage's and a ValueError, not a TypeError."""
    assert isinstance(error, asyncpage.InvalidPaginationError)
    assert isinstance(error, ValueError)
    assert not isinstance(error, TypeError)


# -- PaginationConfig ------------------------------------------------------------------------


def test_pagination_config_none(clients: dict[str, Any]) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="PaginationConfig"):
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", PaginationConfig=None)


BAD_NUMBER_VALUES = [
    0,
    -1,
    -100,
    "abc",
    "",
    "2.5",
    "inf",
    2.5,
    0.5,
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal("5.5"),
    Decimal("0.5"),
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("0"),
    Fraction(11, 2),
]
BAD_NUMBER_TYPES = [True, False, [3], {"n": 3}, b"3", (3,), object(), 3j]


@pytest.mark.parametrize("key", ["MaxItems", "PageSize"])
@pytest.mark.parametrize("value", BAD_NUMBER_VALUES, ids=case_id)
def test_bad_numbers(clients: dict[str, Any], key: str, value: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match=key) as info:
        scan(clients, **{key: value})
    assert_value_error(info.value)


@pytest.mark.parametrize("key", ["MaxItems", "PageSize"])
@pytest.mark.parametrize("value", BAD_NUMBER_TYPES, ids=case_id)
def test_numbers_of_the_wrong_type(clients: dict[str, Any], key: str, value: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match=key) as info:
        scan(clients, **{key: value})
    assert_type_error(info.value)


@pytest.mark.parametrize("value", ["7", 7.0, Decimal("7"), Decimal("7.000"), Fraction(14, 2)])
def test_numbers_botocore_accepts_are_accepted(clients: dict[str, Any], value: Any) -> None:
    # botocore takes int(value): "7", 7.0 and Decimal("7") are fine there, so they are
    # fine here (only a value int() would change, such as Decimal("5.5"), is refused).
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


def test_unknown_pagination_config_keys_of_mixed_types(clients: dict[str, Any]) -> None:
    config = {1: 2, "Foo": 3, None: 4, ("a", 1): 5, "MaxItems": 3}
    with pytest.raises(asyncpage.InvalidPaginationConfigError) as info:
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", PaginationConfig=config)
    assert_value_error(info.value)
    for key in (1, "Foo", None, ("a", 1)):
        assert repr(key) in str(info.value)


@pytest.mark.parametrize("config", [None, [], "MaxItems=3", 3, [("MaxItems", 3)]], ids=case_id)
def test_pagination_config_of_the_wrong_type(clients: dict[str, Any], config: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="PaginationConfig") as info:
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", PaginationConfig=config)
    assert_type_error(info.value)


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


@pytest.mark.parametrize(
    ("service", "operation", "page_size", "bounds"),
    [
        ("dynamodb", "list_tables", 101, "between 1 and 100"),
        ("dynamodb", "list_tables", 1000, "between 1 and 100"),
        ("dynamodb", "list_backups", 10**6, "between 1 and 100"),
        ("ssm", "describe_maintenance_windows", 5, "between 10 and 100"),
        ("ssm", "describe_maintenance_windows", "101", "between 10 and 100"),
    ],
)
def test_page_size_outside_the_limit_parameters_range(
    clients: dict[str, Any], service: str, operation: str, page_size: Any, bounds: str
) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="PageSize") as info:
        asyncpage.paginate(clients[service], operation, PaginationConfig={"PageSize": page_size})
    assert_value_error(info.value)
    assert bounds in str(info.value)


@pytest.mark.parametrize(
    ("service", "operation", "page_size"),
    [
        ("dynamodb", "list_tables", 1),
        ("dynamodb", "list_tables", 100),
        ("ssm", "describe_maintenance_windows", 10),
        ("dynamodb", "scan", 10**9),  # Scan's Limit has a min and no max
        ("s3", "list_objects_v2", 10**6),  # MaxKeys: no modelled range at all
    ],
)
def test_page_size_inside_the_range_is_accepted(
    clients: dict[str, Any], service: str, operation: str, page_size: int
) -> None:
    params = {"TableName": "t"} if operation == "scan" else {}
    if service == "s3":
        params = {"Bucket": "b"}
    asyncpage.paginate(
        clients[service], operation, PaginationConfig={"PageSize": page_size}, **params
    )


@pytest.mark.parametrize("prefetch", [-1, -100], ids=case_id)
def test_bad_prefetch(clients: dict[str, Any], prefetch: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="prefetch") as info:
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t").with_options(
            prefetch=prefetch
        )
    assert_value_error(info.value)


@pytest.mark.parametrize("prefetch", [True, 1.5, "2", None], ids=case_id)
def test_prefetch_of_the_wrong_type(clients: dict[str, Any], prefetch: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="prefetch") as info:
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t").with_options(
            prefetch=prefetch
        )
    assert_type_error(info.value)


# -- retry= and Retry(...) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry", [3, "standard", {"attempts": 3}, asyncpage.Retry, object()], ids=case_id
)
def test_retry_must_be_a_retry(clients: dict[str, Any], retry: Any) -> None:
    with pytest.raises(TypeError, match="Retry") as info:
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t").with_options(retry=retry)
    assert_type_error(info.value)


# -- options among the operation's parameters (deprecated) ------------------------------------


def test_options_among_the_parameters_warn_and_are_still_checked(
    clients: dict[str, Any],
) -> None:
    with pytest.warns(DeprecationWarning, match=r"with_options\(prefetch=, retry=") as caught:
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", prefetch=0, retry=None)
    assert caught[0].filename == __file__  # points at the caller's line
    with (
        pytest.warns(DeprecationWarning, match="with_options"),
        pytest.raises(asyncpage.InvalidPaginationConfigError, match="prefetch"),
    ):
        asyncpage.paginate(clients["dynamodb"], "scan", TableName="t", prefetch=-1)


# -- the first arguments: a client and an operation, or a paginator ---------------------------


def test_a_paginator_takes_keywords_only(clients: dict[str, Any]) -> None:
    paginator = clients["dynamodb"].get_paginator("scan")
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="keywords only") as info:
        asyncpage.paginate(paginator, "scan", TableName="t")
    assert_type_error(info.value)


@pytest.mark.parametrize("extra", [(), ("scan", "t")], ids=["no operation", "three"])
def test_a_client_needs_exactly_one_operation_name(
    clients: dict[str, Any], extra: tuple[str, ...]
) -> None:
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="operation name") as info:
        asyncpage.paginate(clients["dynamodb"], *extra)
    assert_type_error(info.value)


def test_a_synchronous_paginator(aws: ScriptedAWS) -> None:
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
    )
    # Any: with the stubs, mypy already refuses a synchronous paginator.
    paginator: Any = client.get_paginator("scan")
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="synchronous") as info:
        asyncpage.paginate(paginator, TableName="t")
    assert_type_error(info.value)
    client.close()


def test_a_paginator_is_checked_as_its_client_and_operation_are(
    clients: dict[str, Any],
) -> None:
    paginator = clients["s3"].get_paginator("list_objects_v2")
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="PageSize"):
        asyncpage.paginate(paginator, Bucket="b", PaginationConfig={"PageSize": 0})
    with pytest.raises(asyncpage.InvalidStartingTokenError):
        asyncpage.paginate(paginator, Bucket="b", PaginationConfig={"StartingToken": "junk"})


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": -3},
        {"wait_initial": -0.1},
        {"wait_initial": math.nan},
        {"wait_initial": math.inf},
        {"wait_max": -1},
        {"wait_max": math.nan},
        {"wait_max": math.inf},
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": math.nan},
    ],
    ids=case_id,
)
def test_retry_values(options: dict[str, Any]) -> None:
    (name,) = options
    with pytest.raises(asyncpage.InvalidPaginationError, match=name) as info:
        asyncpage.Retry(**options)
    assert_value_error(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 1.5},
        {"attempts": "3"},
        {"attempts": True},
        {"attempts": None},
        {"wait_initial": "0.1"},
        {"wait_initial": None},
        {"wait_max": True},
        {"wait_max": Decimal("1")},
        {"timeout": "60"},
        {"timeout": [60]},
    ],
    ids=case_id,
)
def test_retry_types(options: dict[str, Any]) -> None:
    (name,) = options
    with pytest.raises(asyncpage.InvalidPaginationError, match=name) as info:
        asyncpage.Retry(**options)
    assert_type_error(info.value)


def test_retry_values_that_make_sense_are_accepted() -> None:
    asyncpage.Retry(attempts=1, wait_initial=0, wait_max=0, timeout=math.inf)
    asyncpage.Retry(attempts=10**6, wait_initial=0.5, wait_max=0.1, timeout=0.001)


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


@pytest.mark.parametrize("token", [5, b"token", ["a"], {"ExclusiveStartKey": None}], ids=case_id)
def test_starting_token_of_the_wrong_type(clients: dict[str, Any], token: Any) -> None:
    with pytest.raises(asyncpage.InvalidStartingTokenError, match="str") as info:
        scan(clients, StartingToken=token)
    assert_type_error(info.value)


def test_bad_starting_token_is_also_botocores_pagination_error(clients: dict[str, Any]) -> None:
    # botocore's paginator raises ValueError("Bad starting token: ...") for a token it cannot
    # use; asyncpage's error is that ValueError and, like its other PaginationConfig
    # errors, botocore's PaginationError too.
    with pytest.raises(PaginationError) as info:
        scan(clients, StartingToken=S3_TOKEN)
    assert isinstance(info.value, asyncpage.InvalidStartingTokenError)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("StartingToken holds")


def nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = {"M": {"a": leaf}}
    return leaf


DEEP_TOKENS = {
    "100,000 nested JSON arrays": b64("[" * 100_000 + "]" * 100_000),
    "100,000 nested JSON objects": b64('{"a":' * 100_000 + "1" + "}" * 100_000),
    # Beyond json's own recursion limit: RecursionError while decoding.
    "ExclusiveStartKey 600 maps deep": b64(
        '{"ExclusiveStartKey": {"pk": ' + '{"M": {"a": ' * 600 + '{"S": "x"}' + "}}" * 600 + "}}"
    ),
    # Decodes within json's limit, but deeper than any key DynamoDB has (32 levels).
    "ExclusiveStartKey 200 maps deep": TokenEncoder().encode(
        {"ExclusiveStartKey": {"pk": nested(200, {"S": "x"})}}
    ),
}


@pytest.mark.parametrize("token", list(DEEP_TOKENS.values()), ids=list(DEEP_TOKENS))
def test_deeply_nested_starting_token(clients: dict[str, Any], token: str) -> None:
    with pytest.raises(asyncpage.InvalidStartingTokenError) as info:
        scan(clients, StartingToken=token)
    assert_value_error(info.value)


WRONGLY_TYPED_TOKENS = {
    "ExclusiveStartKey an int": ("dynamodb", {"ExclusiveStartKey": 5}),
    "ExclusiveStartKey a str": ("dynamodb", {"ExclusiveStartKey": "pk=k"}),
    "ExclusiveStartKey a list": ("dynamodb", {"ExclusiveStartKey": [{"S": "k"}]}),
    "AttributeValue a str": ("dynamodb", {"ExclusiveStartKey": {"pk": "k"}}),
    "S holding an int": ("dynamodb", {"ExclusiveStartKey": {"pk": {"S": 5}}}),
    "unknown AttributeValue member": ("dynamodb", {"ExclusiveStartKey": {"pk": {"Q": "k"}}}),
    "ContinuationToken an int": ("s3", {"ContinuationToken": 5}),
    "ContinuationToken a map": ("s3", {"ContinuationToken": {"a": "b"}}),
}


@pytest.mark.parametrize(
    ("service", "token"), list(WRONGLY_TYPED_TOKENS.values()), ids=list(WRONGLY_TYPED_TOKENS)
)
def test_starting_token_with_values_of_the_wrong_type(
    clients: dict[str, Any], service: str, token: dict[str, Any]
) -> None:
    encoded = TokenEncoder().encode(token)
    operation, params = ("scan", {"TableName": "t"})
    if service == "s3":
        operation, params = ("list_objects_v2", {"Bucket": "b"})
    with pytest.raises(asyncpage.InvalidStartingTokenError) as info:
        asyncpage.paginate(
            clients[service], operation, PaginationConfig={"StartingToken": encoded}, **params
        )
    assert_value_error(info.value)
    (name,) = token
    assert name in str(info.value)


def test_token_values_are_not_checked_when_the_client_does_not_validate(
    clients: dict[str, Any],
) -> None:
    # parameter_validation=False: the caller asked botocore to send what it is given.
    token = TokenEncoder().encode({"ExclusiveStartKey": "pk=k"})
    asyncpage.paginate(
        clients["unvalidated"], "scan", TableName="t", PaginationConfig={"StartingToken": token}
    )


def test_bad_operation_parameters_are_left_to_botocore(clients: dict[str, Any]) -> None:
    # Only the token's values are asyncpage's to check; botocore reports a bad parameter
    # of the caller's own at the first fetch, still before anything is sent.
    asyncpage.paginate(
        clients["dynamodb"], "scan", TableName=5, PaginationConfig={"StartingToken": SCAN_TOKEN}
    )


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


@pytest.mark.parametrize("name", [None, 7, b"scan", ["scan"]], ids=case_id)
def test_operation_name_that_is_not_a_str(clients: dict[str, Any], name: Any) -> None:
    with pytest.raises(asyncpage.OperationNotPaginatedError, match="str") as info:
        asyncpage.paginate(clients["dynamodb"], name)
    assert_type_error(info.value)
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


# -- the client ------------------------------------------------------------------------------


async def _never() -> None:
    raise AssertionError("never awaited")


@pytest.mark.parametrize("client", [None, "dynamodb", 5, object(), {"meta": None}], ids=case_id)
def test_first_argument_that_is_not_a_client(client: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="aiobotocore client") as info:
        asyncpage.paginate(client, "scan", TableName="t")
    assert_type_error(info.value)
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="aiobotocore client"):
        asyncpage.paginated_operations(client)
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="aiobotocore client"):
        asyncpage.PagingModel.for_client(client, "scan")


def test_a_client_context_that_was_not_entered() -> None:
    coroutine = _never()
    try:
        with pytest.raises(asyncpage.InvalidPaginationTypeError, match="async with") as info:
            asyncpage.paginate(ClientCreatorContext(coroutine), "scan", TableName="t")
    finally:
        coroutine.close()
    assert_type_error(info.value)


def test_a_synchronous_botocore_client(aws: ScriptedAWS) -> None:
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
    )
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="synchronous") as info:
        asyncpage.paginate(client, "scan", TableName="t")
    assert_type_error(info.value)
    # Its paging model is the same, and reading it is fine.
    assert asyncpage.PagingModel.for_client(client, "scan").limit_key == "Limit"
    assert "scan" in asyncpage.paginated_operations(client)
    client.close()


# -- search() --------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["Items[?", "Items[].[", "`", "Items | | x", ""])
def test_invalid_jmespath_expression(clients: dict[str, Any], expression: Any) -> None:
    it = scan(clients, PageSize=5)
    with pytest.raises(asyncpage.InvalidExpressionError) as info:
        it.search(expression)
    assert_value_error(info.value)


@pytest.mark.parametrize("expression", [42, None, b"Items", ["Items"]], ids=case_id)
def test_jmespath_expression_of_the_wrong_type(clients: dict[str, Any], expression: Any) -> None:
    with pytest.raises(asyncpage.InvalidExpressionError) as info:
        scan(clients).search(expression)
    assert_type_error(info.value)


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("nosuch(Items)", "nosuch"),
        ("Items[].pk.to_upper(S)", "to_upper"),
        ("sort_by(Items, &lenght(pk.S))", "lenght"),
        ("Items[?contains_any(pk.S, 'a')]", "contains_any"),
        ("{n: count(Items)}", "count"),
    ],
)
def test_jmespath_calling_an_unknown_function(
    clients: dict[str, Any], expression: str, named: str
) -> None:
    # jmespath compiles these and fails only on the first page: after a request.
    with pytest.raises(asyncpage.InvalidExpressionError, match=named) as info:
        scan(clients).search(expression)
    assert_value_error(info.value)


@pytest.mark.parametrize(
    "expression",
    [
        "length(Items, Items)",
        "length()",
        "not_null()",
        "merge()",
        "max_by(Items)",
        "Items[?starts_with(pk.S)]",
        "sort_by(Items, pk)",  # the key must be an expression reference: &pk
        "length(&Items)",  # and length takes none
    ],
)
def test_jmespath_calling_a_function_wrongly(clients: dict[str, Any], expression: str) -> None:
    with pytest.raises(asyncpage.InvalidExpressionError) as info:
        scan(clients).search(expression)
    assert_value_error(info.value)


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 5000 + "Items" + ")" * 5000,
        "!" * 5000 + "Items",
        "abs(" * 2000 + "Count" + ")" * 2000,
        " || ".join(["Items"] * 1000),  # compiles; the search would recurse 1,000 deep
        " | ".join(["Items"] * 1000),
    ],
    ids=lambda e: f"{e[:12]}...({len(e)} chars)",
)
def test_jmespath_nested_too_deeply(clients: dict[str, Any], expression: str) -> None:
    with pytest.raises(asyncpage.InvalidExpressionError, match="deep") as info:
        scan(clients).search(expression)
    assert_value_error(info.value)


def test_jmespath_warning_raised_as_an_error(clients: dict[str, Any]) -> None:
    # jmespath warns about a legacy `literal` while lexing; with warnings as errors (as
    # in this suite) that warning is the refusal, and it comes as asyncpage's error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PendingDeprecationWarning)
        with pytest.raises(asyncpage.InvalidExpressionError) as info:
            scan(clients).search("0``")
    assert_value_error(info.value)
    assert isinstance(info.value.__cause__, PendingDeprecationWarning)


@pytest.mark.parametrize(
    "expression",
    [
        "Items[].pk.S",
        "length(Items)",
        "sort_by(Items, &pk.S)[0]",
        "not_null(LastEvaluatedKey, Count)",
        "max_by(Items, &to_number(n.N))",
        "merge(`{}`, {c: Count})",
        " || ".join(["Items"] * 50),
        "(" * 50 + "Items" + ")" * 50,
        ".".join(["Items"] * 1000),  # a flat chain: jmespath walks it without recursing
    ],
    ids=lambda e: e if len(e) < 40 else f"{e[:12]}...({len(e)} chars)",
)
def test_valid_jmespath_is_accepted(clients: dict[str, Any], expression: str) -> None:
    scan(clients).search(expression)


# -- fan_out and parallel_scan options -------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "wrong_type"),
    [
        ({"concurrency": 0}, False),
        ({"concurrency": 1.5}, True),
        ({"concurrency": "8"}, True),
        ({"per_endpoint": True}, True),
        ({"buffer": -1}, False),
        ({"order": "fastest"}, False),
        ({"order": 1}, True),
        ({"on_error": "ignore"}, False),
        ({"on_error": None}, True),
        ({"skip_codes": "AccessDenied"}, True),
        ({"skip_codes": 5}, True),
        ({"skip_codes": [5]}, True),
        ({"skip_codes": [["AccessDenied"]]}, True),
    ],
    ids=case_id,
)
def test_fan_out_options(
    clients: dict[str, Any], options: dict[str, Any], wrong_type: bool
) -> None:
    with pytest.raises(asyncpage.InvalidPaginationError, match=next(iter(options))) as info:
        asyncpage.fan_out({"a": lambda: scan(clients)}, **options)
    (assert_type_error if wrong_type else assert_value_error)(info.value)


@pytest.mark.parametrize("sources", [5, [lambda: None], {"a": 5}, {"a": "scan"}], ids=case_id)
def test_fan_out_sources_of_the_wrong_type(sources: Any) -> None:
    with pytest.raises(asyncpage.InvalidPaginationError, match="source") as info:
        asyncpage.fan_out(sources)
    assert_type_error(info.value)


@pytest.mark.parametrize(
    ("options", "error", "wrong_type"),
    [
        ({"segments": 1.5}, asyncpage.InvalidPaginationError, True),
        ({"segments": 0}, asyncpage.InvalidPaginationError, False),
        ({"resume": 5}, asyncpage.InvalidPaginationError, True),
        ({"resume": [(0, None)]}, asyncpage.InvalidPaginationError, True),
        ({"resume": {7: None}}, asyncpage.InvalidPaginationError, False),
        ({"resume": {0: 5}}, asyncpage.InvalidStartingTokenError, True),
        ({"resume": {0: "garbage"}}, asyncpage.InvalidStartingTokenError, False),
        ({"PaginationConfig": 0}, asyncpage.InvalidPaginationError, True),
        ({"PaginationConfig": "PageSize=5"}, asyncpage.InvalidPaginationError, True),
        (
            {"PaginationConfig": {"PageSize": math.inf}},
            asyncpage.InvalidPaginationConfigError,
            False,
        ),
        ({"retry": 3}, asyncpage.InvalidPaginationError, True),
        ({"prefetch": -1}, asyncpage.InvalidPaginationConfigError, False),
        ({"concurrency": 0}, asyncpage.InvalidPaginationError, False),
    ],
    ids=case_id,
)
def test_parallel_scan_options(
    clients: dict[str, Any], options: dict[str, Any], error: type[Exception], wrong_type: bool
) -> None:
    with pytest.raises(error) as info:
        asyncpage.parallel_scan(clients["dynamodb"], TableName="t", **options)
    (assert_type_error if wrong_type else assert_value_error)(info.value)


def test_parallel_scan_needs_a_client() -> None:
    with pytest.raises(asyncpage.InvalidPaginationTypeError, match="aiobotocore client"):
        asyncpage.parallel_scan("dynamodb", TableName="t")


# -- properties: generated bad input ---------------------------------------------------------
#
# Each strategy draws one bad argument, and whether it is bad by its type; the call must
# raise asyncpage's error of that kind (a TypeError exactly when the type is wrong) and
# send nothing. About 200 examples in all, so the suite stays quick.


class Case(NamedTuple):
    call: Callable[[dict[str, Any]], object]
    error: type[Exception]
    wrong_type: bool
    given: object  # the bad argument, shown when a case fails

    def __repr__(self) -> str:
        return f"Case({self.error.__name__}, wrong_type={self.wrong_type}, given={self.given!r})"


# The function-scoped fixtures in play (nothing_sent here, _no_backoff_waits in conftest)
# need no reset between examples: nothing_sent checks a total that only grows, and every
# example checks the server's counter itself.
PROPERTIES = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
NOT_NONE = st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8)
WRONG_TYPES = (
    st.booleans()
    | st.binary(max_size=4)
    | st.lists(st.integers(), max_size=2)
    | st.complex_numbers()
)


def _positive_whole(value: Any) -> bool:
    try:
        return bool(int(value) >= 1 and (isinstance(value, str) or value == int(value)))
    except (ValueError, OverflowError, TypeError, ArithmeticError):
        return False


BAD_NUMBERS = (
    st.integers(max_value=0)
    | st.floats()
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.fractions()
    | st.text(max_size=6)
).filter(lambda value: not _positive_whole(value))


def _config_case(field: str, value: Any, wrong_type: bool, operation: str = "scan") -> Case:
    params = {"TableName": "t"} if operation == "scan" else {}

    def call(clients: dict[str, Any]) -> object:
        return asyncpage.paginate(
            clients["dynamodb"], operation, PaginationConfig={field: value}, **params
        )

    return Case(call, asyncpage.InvalidPaginationConfigError, wrong_type, {field: value})


@st.composite
def bad_configs(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["not a mapping", "unknown key", "value", "type", "range"]))
    if kind == "not a mapping":
        config = draw(st.integers() | st.text(max_size=6) | st.lists(st.integers()) | st.none())

        def call(clients: dict[str, Any]) -> object:
            return asyncpage.paginate(
                clients["dynamodb"], "scan", TableName="t", PaginationConfig=config
            )

        return Case(call, asyncpage.InvalidPaginationConfigTypeError, True, config)
    if kind == "unknown key":
        keys = st.text(max_size=8) | st.integers() | st.none() | st.tuples(st.integers())
        unknown = draw(
            st.dictionaries(
                keys.filter(lambda k: k not in {"MaxItems", "PageSize", "StartingToken"}),
                st.integers(1, 5),
                min_size=1,
                max_size=3,
            )
        )
        good = draw(st.dictionaries(st.sampled_from(["MaxItems", "PageSize"]), st.integers(1, 9)))

        def call(clients: dict[str, Any]) -> object:
            config: dict[Any, int] = {**good, **unknown}
            return asyncpage.paginate(
                clients["dynamodb"], "scan", TableName="t", PaginationConfig=config
            )

        return Case(call, asyncpage.InvalidPaginationConfigError, False, unknown)
    field = draw(st.sampled_from(["MaxItems", "PageSize"]))
    if kind == "value":
        return _config_case(field, draw(BAD_NUMBERS), False)
    if kind == "type":
        return _config_case(field, draw(WRONG_TYPES), True)
    return _config_case("PageSize", draw(st.integers(min_value=101)), False, "list_tables")


def _decodes_to_a_dict(token: str) -> bool:
    try:
        return isinstance(TokenDecoder().decode(token), dict)
    except Exception:
        return False


@st.composite
def bad_tokens(draw: st.DrawFn) -> Case:
    kind = draw(
        st.sampled_from(
            ["type", "garbage", "not a dict", "wrong keys", "wrong value", "truncation", "deep"]
        )
    )
    key = {"pk": {"S": "k"}}
    token: Any
    if kind == "type":
        token = draw(
            st.integers()
            | st.binary()
            | st.lists(st.text(max_size=4))
            | st.dictionaries(st.text(max_size=4), st.text(max_size=4))
        )
    elif kind == "garbage":
        token = draw(st.text())
        assume(not _decodes_to_a_dict(token))
    elif kind == "not a dict":
        value = draw(JSON.filter(lambda v: not isinstance(v, dict)))
        token = b64(json.dumps(value))
    elif kind == "wrong keys":
        value = draw(st.dictionaries(st.text(max_size=20), JSON, max_size=3))
        assume("boto_encoded_keys" not in value)
        assume(set(value) - {"boto_truncate_amount"} != {"ExclusiveStartKey"})
        token = TokenEncoder().encode(value)
    elif kind == "wrong value":
        value = draw(
            st.integers()
            | st.booleans()
            | st.text(max_size=8).filter(lambda s: s != "None")
            | st.lists(JSON, max_size=2)
            | st.dictionaries(
                st.text(max_size=4), st.integers() | st.text() | st.lists(JSON), min_size=1
            )
            | st.builds(
                lambda v: {"pk": {"S": v}}, NOT_NONE.filter(lambda v: not isinstance(v, str))
            )
        )
        token = TokenEncoder().encode({"ExclusiveStartKey": value})
    elif kind == "truncation":
        amount = draw(
            st.integers(max_value=-1)
            | st.text(max_size=3)
            | st.floats()
            | st.booleans()
            | st.none()
        )
        token = TokenEncoder().encode({"ExclusiveStartKey": key, "boto_truncate_amount": amount})
    else:
        depth = draw(st.integers(min_value=101, max_value=3000))
        token = b64('{"ExclusiveStartKey": ' + "[" * depth + "]" * depth + "}")

    def call(clients: dict[str, Any]) -> object:
        return scan(clients, StartingToken=token)

    if kind == "type":
        return Case(call, asyncpage.InvalidStartingTokenTypeError, True, token)
    return Case(call, asyncpage.InvalidStartingTokenError, False, token)


FUNCTION_NAMES = sorted(Functions.FUNCTION_TABLE)


def _compiles(expression: str) -> bool:
    try:
        with warnings.catch_warnings():
            # `a` (a legacy string literal) compiles, with a PendingDeprecationWarning.
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            jmespath.compile(expression)
    except (JMESPathError, RecursionError):
        return False
    return True


@st.composite
def bad_expressions(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["type", "syntax", "unknown function", "arity", "deep"]))
    expression: Any
    if kind == "type":
        expression = draw(st.integers() | st.none() | st.binary() | st.lists(st.text(max_size=3)))
    elif kind == "syntax":
        expression = draw(st.text(alphabet="ab.[]()|&@`'{}:,*?!=<>01 ", max_size=12))
        assume(not _compiles(expression))
    elif kind == "unknown function":
        name = draw(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True))
        assume(name not in Functions.FUNCTION_TABLE)
        where = draw(st.sampled_from(["{}", "Items[].{}", "length({})", "Items[?{} == `1`]"]))
        expression = where.format(f"{name}(@)")
    elif kind == "arity":
        name = draw(st.sampled_from(FUNCTION_NAMES))
        signature = Functions.FUNCTION_TABLE[name]["signature"]
        variadic = bool(signature[-1].get("variadic"))
        count = draw(
            st.integers(0, len(signature) - 1)
            if variadic
            else st.integers(0, 5).filter(lambda n: n != len(signature))
        )
        expression = f"{name}({', '.join(['@'] * count)})"
    else:
        depth = draw(st.integers(min_value=250, max_value=3000))
        shape = draw(st.sampled_from(["or", "not", "pipe", "paren"]))
        expression = {
            "or": " || ".join(["Items"] * depth),
            "not": "!" * depth + "Items",
            "pipe": " | ".join(["Items"] * depth),
            # Parentheses add no depth to the tree: only so many that compiling recurses
            # past Python's limit make a bad expression.
            "paren": "(" * (10 * depth) + "Items" + ")" * (10 * depth),
        }[shape]

    def call(clients: dict[str, Any]) -> object:
        return scan(clients).search(expression)

    if kind == "type":
        return Case(call, asyncpage.InvalidExpressionTypeError, True, expression)
    return Case(call, asyncpage.InvalidExpressionError, False, expression)


RETRY_FIELDS = ("attempts", "wait_initial", "wait_max", "timeout")


@st.composite
def bad_options(draw: st.DrawFn) -> Case:
    kind = draw(
        st.sampled_from(
            ["prefetch", "retry", "Retry", "client", "operation", "fan_out", "parallel_scan"]
        )
    )
    value: Any
    if kind == "prefetch":
        wrong_type = draw(st.booleans())
        value = draw(
            (st.floats() | st.text(max_size=3) | st.booleans() | st.none())
            if wrong_type
            else st.integers(max_value=-1)
        )

        def call(clients: dict[str, Any]) -> object:
            scan = asyncpage.paginate(clients["dynamodb"], "scan", TableName="t")
            return scan.with_options(prefetch=value)

        return Case(call, asyncpage.InvalidPaginationConfigError, wrong_type, value)
    if kind == "retry":
        value = draw(NOT_NONE | st.booleans() | st.dictionaries(st.text(max_size=3), st.integers()))

        def call(clients: dict[str, Any]) -> object:
            scan = asyncpage.paginate(clients["dynamodb"], "scan", TableName="t")
            return scan.with_options(retry=value)

        return Case(call, asyncpage.InvalidPaginationTypeError, True, value)
    if kind == "Retry":
        name = draw(st.sampled_from(RETRY_FIELDS))
        wrong_type = draw(st.booleans())
        if wrong_type:
            value = draw(st.text(max_size=3) | st.none() | st.booleans() | st.lists(st.integers()))
            if name == "attempts":
                value = draw(st.just(value) | st.floats())
        elif name == "attempts":
            value = draw(st.integers(max_value=0))
        elif name == "timeout":
            value = draw(st.floats(max_value=0) | st.just(math.nan) | st.integers(max_value=0))
        else:
            value = draw(
                st.floats(max_value=-1e-9)
                | st.sampled_from([math.nan, math.inf])
                | st.integers(max_value=-1)
            )

        def call(clients: dict[str, Any]) -> object:
            return asyncpage.Retry(**{name: value})

        error = (
            asyncpage.InvalidPaginationTypeError if wrong_type else asyncpage.InvalidPaginationError
        )
        return Case(call, error, wrong_type, {name: value})
    if kind == "client":
        value = draw(NOT_NONE | st.none() | st.dictionaries(st.text(max_size=3), st.integers()))

        def call(clients: dict[str, Any]) -> object:
            return asyncpage.paginate(value, "scan", TableName="t")

        return Case(call, asyncpage.InvalidPaginationTypeError, True, value)
    if kind == "operation":
        wrong_type = draw(st.booleans())
        value = draw(
            (st.integers() | st.none() | st.binary()) if wrong_type else st.text(max_size=20)
        )

        def call(clients: dict[str, Any]) -> object:
            if not wrong_type:
                assume(value not in asyncpage.paginated_operations(clients["dynamodb"]))
            return asyncpage.paginate(clients["dynamodb"], value)

        return Case(call, asyncpage.OperationNotPaginatedError, wrong_type, value)
    if kind == "fan_out":
        name = draw(
            st.sampled_from(
                ["concurrency", "per_endpoint", "buffer", "order", "on_error", "skip_codes"]
            )
        )
        wrong_type = draw(st.booleans())
        if name in ("concurrency", "per_endpoint", "buffer"):
            value = draw(
                (st.floats() | st.text(max_size=3) | st.booleans())
                if wrong_type
                else st.integers(max_value=0)
            )
        elif name in ("order", "on_error"):
            choices = ("completed", "source", "round_robin", "continue", "raise")
            value = draw(
                (st.integers() | st.none() | st.lists(st.text(max_size=3)))
                if wrong_type
                else st.text(max_size=12).filter(lambda s: s not in choices)
            )
        else:
            wrong_type = True
            value = draw(
                st.integers()
                | st.none()
                | st.text(max_size=5)
                | st.lists(st.integers(), min_size=1)
            )

        def call(clients: dict[str, Any]) -> object:
            return asyncpage.fan_out({"a": lambda: scan(clients)}, **{name: value})

        error = (
            asyncpage.InvalidPaginationTypeError if wrong_type else asyncpage.InvalidPaginationError
        )
        return Case(call, error, wrong_type, {name: value})
    name = draw(st.sampled_from(["segments", "resume"]))
    wrong_type = draw(st.booleans())
    if name == "segments":
        value = draw(
            (st.floats() | st.text(max_size=3) | st.booleans())
            if wrong_type
            else st.integers(max_value=0) | st.integers(min_value=1_000_001)
        )
    else:
        value = draw(
            (st.integers() | st.text(max_size=3) | st.lists(st.integers(0, 3), min_size=1))
            if wrong_type
            else st.dictionaries(
                st.integers().filter(lambda n: not 0 <= n < 4) | st.text(max_size=3),
                st.none(),
                min_size=1,
            )
        )

    def scan_call(clients: dict[str, Any]) -> object:
        options: dict[str, Any] = {name: value}
        if name == "resume":
            options["segments"] = 4
        return asyncpage.parallel_scan(clients["dynamodb"], TableName="t", **options)

    error = asyncpage.InvalidPaginationTypeError if wrong_type else asyncpage.InvalidPaginationError
    return Case(scan_call, error, wrong_type, {name: value})


def check(case: Case, clients: dict[str, Any], aws: ScriptedAWS) -> None:
    call, expected, wrong_type, _ = case
    with pytest.raises(expected) as info:
        call(clients)
    (assert_type_error if wrong_type else assert_value_error)(info.value)
    assert aws.requests == 0, "a request reached the server"


@PROPERTIES
@given(case=bad_configs())
def test_generated_bad_configs(case: Case, clients: dict[str, Any], aws: ScriptedAWS) -> None:
    check(case, clients, aws)


@PROPERTIES
@given(case=bad_tokens())
def test_generated_bad_tokens(case: Case, clients: dict[str, Any], aws: ScriptedAWS) -> None:
    check(case, clients, aws)


@settings(PROPERTIES, max_examples=40)
@given(case=bad_expressions())
def test_generated_bad_expressions(case: Case, clients: dict[str, Any], aws: ScriptedAWS) -> None:
    check(case, clients, aws)


@settings(PROPERTIES, max_examples=60)
@given(case=bad_options())
def test_generated_bad_options(case: Case, clients: dict[str, Any], aws: ScriptedAWS) -> None:
    check(case, clients, aws)
