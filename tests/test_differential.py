"""botocore is the oracle: asyncpage pages exactly as boto3's and aiobotocore's paginators.

Every operation in :data:`_seed_moto.GRID` is seeded once in the session's moto server
(over HTTP), then listed by asyncpage, by boto3's own (synchronous) paginator and by
aiobotocore's paginator, over the grid

    PageSize      a small size | none
    MaxItems      none | mid-page | a page boundary | beyond the end
    StartingToken none | asyncpage's resume_token after page 1 | asyncpage's NextToken
                  (MaxItems=2) | boto3's resume_token (MaxItems mid-page) | boto3's
                  resume_token (MaxItems on a page boundary)

and the pages (without ResponseMetadata), ``build_full_result()``, the final
``resume_token`` and ``items()`` must be equal. Tokens cross over both ways: every
intermediate asyncpage token resumes boto3 on exactly the rest, and every boto3 MaxItems
token resumes asyncpage on exactly the rest.

The grid runs on asyncio (it is heavy); the cross-resumption and ``search()`` checks of two
operations also run on trio (aiobotocore's httpx backend).
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import jmespath
import pytest
from botocore.paginate import TokenDecoder, TokenEncoder

import asyncpage
from _seed_moto import GRID, GridCase, boto3_client, seed_grid
from asyncpage.testing import MotoServer

pytestmark = pytest.mark.anyio

#: The slice that also runs on trio (the asyncio run of the same checks is in the grid).
ON_TRIO = pytest.mark.parametrize("anyio_backend", ["trio"])


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """The grid is large: it runs on asyncio only; tests marked ON_TRIO run on trio."""
    return "asyncio"


@dataclass(frozen=True)
class Grid:
    endpoint_url: str
    cases: dict[str, GridCase]


@pytest.fixture(scope="module")
def grid(moto_server: MotoServer) -> Grid:
    """The session moto server, reset once and seeded with every grid case's data."""
    moto_server.reset()
    return Grid(moto_server.endpoint_url, seed_grid(moto_server.endpoint_url))


_boto3_clients: dict[tuple[str, str, str], Any] = {}


def sync_client(case: GridCase, endpoint_url: str) -> Any:
    key = (case.service, case.region, endpoint_url)
    if key not in _boto3_clients:
        _boto3_clients[key] = boto3_client(case.service, endpoint_url, case.region)
    return _boto3_clients[key]


@dataclass
class Listing:
    """What one paginator gave for one configuration."""

    pages: list[dict[str, Any]]
    resume_token: str | None
    full: dict[str, Any]


def strip(page: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in page.items() if key != "ResponseMetadata"}


def config_of(page_size: int | None, max_items: int | None, start: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if page_size is not None:
        config["PageSize"] = page_size
    if max_items is not None:
        config["MaxItems"] = max_items
    if start is not None:
        config["StartingToken"] = start
    return config


def boto3_listing(client: Any, case: GridCase, config: dict[str, Any]) -> Listing:
    paginator = client.get_paginator(case.operation)
    pages = paginator.paginate(**copy.deepcopy(case.params), PaginationConfig=dict(config))
    delivered = [strip(page) for page in pages]
    full = paginator.paginate(
        **copy.deepcopy(case.params), PaginationConfig=dict(config)
    ).build_full_result()
    return Listing(delivered, pages.resume_token, full)


async def aiobotocore_full_result(
    client: Any, case: GridCase, config: dict[str, Any]
) -> dict[str, Any]:
    paginator = client.get_paginator(case.operation)
    pages = paginator.paginate(**copy.deepcopy(case.params), PaginationConfig=dict(config))
    result: dict[str, Any] = await pages.build_full_result()
    return result


async def asyncpage_listing(client: Any, case: GridCase, config: dict[str, Any]) -> Listing:
    pages = asyncpage.paginate(
        client, case.operation, **copy.deepcopy(case.params), PaginationConfig=dict(config)
    )
    async with pages:  # with read-ahead
        delivered = [strip(page) async for page in pages]
    token = pages.resume_token
    # The same iterator again: a new iteration starts from the beginning (StartingToken).
    full = await pages.build_full_result()
    assert pages.resume_token == token
    return Listing(delivered, token, full)


def primary(case: GridCase, client: Any) -> jmespath.parser.ParsedResult:
    return client.get_paginator(case.operation).result_keys[0]


def flatten(pages: list[dict[str, Any]], key: jmespath.parser.ParsedResult) -> list[Any]:
    return [item for page in pages for item in (key.search(page) or [])]


@dataclass(frozen=True)
class Shape:
    """The page structure of one listing, from boto3: where MaxItems values fall."""

    lengths: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.lengths)

    @property
    def mid_page(self) -> int:
        """Items up to the middle of the second page that has 2+ items (or the first)."""
        before = 0
        candidates = []
        for length in self.lengths:
            if length >= 2:
                candidates.append(before + length // 2)
            before += length
        return candidates[1] if len(candidates) > 1 else candidates[0]

    @property
    def boundary(self) -> int | None:
        """Items up to the end of page 2 (or page 1); None if the listing is one page."""
        non_empty = [n for n in self.lengths if n]
        if len(non_empty) < 2:
            return None
        return non_empty[0] + (non_empty[1] if len(non_empty) > 2 else 0)

    def max_items(self) -> list[int | None]:
        """None, mid-page, a page boundary, beyond the end; and the very end when the
        service sends an empty last page (the end is then a boundary with a token)."""
        values = [None, self.mid_page, self.boundary, self.total + 3]
        if self.lengths[-1] == 0:
            values.append(self.total)
        return list(dict.fromkeys(values))


def shape_of(case: GridCase, client: Any, page_size: int | None) -> Shape:
    key = primary(case, client)
    pages = client.get_paginator(case.operation).paginate(
        **copy.deepcopy(case.params), PaginationConfig=config_of(page_size, None, None)
    )
    return Shape(tuple(len(key.search(page) or []) for page in pages))


def grid_params() -> Iterator[Any]:
    for case in GRID:
        for page_size in (case.page_size, None):
            yield pytest.param(case.id, page_size, id=f"{case.id}-PageSize={page_size}")


@pytest.mark.parametrize(("case_id", "page_size"), list(grid_params()))
async def test_grid_equals_boto3_and_aiobotocore(
    case_id: str, page_size: int | None, grid: Grid, make_client: Any
) -> None:
    case = grid.cases[case_id]
    sync = sync_client(case, grid.endpoint_url)
    client = await make_client(case.service, grid.endpoint_url, region=case.region)
    shape = shape_of(case, sync, page_size)
    if page_size is not None:
        assert len([n for n in shape.lengths if n]) >= 3, f"{case.id} must span several pages"

    # Where each listing starts: extra operation parameters and a StartingToken.
    starts: dict[str, tuple[dict[str, Any], str | None]] = {"none": ({}, None)}
    first_page = asyncpage.paginate(
        client, case.operation, **case.params, PaginationConfig=config_of(page_size, None, None)
    )
    async for _ in first_page:
        break
    if first_page.resume_token is not None:
        starts["asyncpage resume_token after page 1"] = ({}, first_page.resume_token)
    starts["asyncpage NextToken MaxItems=2"] = (
        {},
        (
            await asyncpage.paginate(
                client,
                case.operation,
                **case.params,
                PaginationConfig=config_of(page_size, 2, None),
            ).build_full_result()
        )["NextToken"],
    )
    for label, max_items in (("mid-page", shape.mid_page), ("page boundary", shape.boundary)):
        if max_items is None:
            continue
        pages = sync.get_paginator(case.operation).paginate(
            **copy.deepcopy(case.params), PaginationConfig=config_of(page_size, max_items, None)
        )
        for _ in pages:
            pass
        assert pages.resume_token is not None
        starts[f"boto3 resume_token MaxItems={max_items} ({label})"] = ({}, pages.resume_token)
    # The service's own token after page 1, passed as the operation's own parameter
    # (ContinuationToken=..., Marker=..., NextToken=...): botocore sends it as given.
    raw = raw_tokens_after_first_page(sync, case, case.page_size, first_page.model)
    assert raw, f"{case.id}: page 1 has no token"
    starts["raw token parameter after page 1"] = (raw, None)
    starts.update({f"start-after parameter {p}": (p, None) for p in START_AFTER.get(case.id, [])})

    key = primary(case, sync)
    for start_label, (extra, start) in starts.items():
        started = replace(case, params={**case.params, **extra})
        for max_items in shape.max_items():
            config = config_of(page_size, max_items, start)
            where = f"{case.id} PageSize={page_size} MaxItems={max_items} start={start_label}"
            oracle_case, oracle_config = boto3_equivalent(started, config)
            expected = boto3_listing(sync, oracle_case, oracle_config)
            boto3_full = copy.deepcopy(expected.full)
            expected_token = with_start_tokens(expected.resume_token, oracle_case, case)
            if "NextToken" in expected.full:
                expected.full["NextToken"] = expected_token
            got = await asyncpage_listing(client, started, config)
            assert got.pages == expected.pages, where
            assert got.resume_token == expected_token, where
            assert got.full == expected.full, where
            aio_pages = client.get_paginator(case.operation).paginate(
                **copy.deepcopy(oracle_case.params), PaginationConfig=dict(oracle_config)
            )
            assert [strip(page) async for page in aio_pages] == expected.pages, where
            assert aio_pages.resume_token == expected.resume_token, where
            if start is None:
                items = asyncpage.paginate(
                    client, case.operation, **copy.deepcopy(started.params), PaginationConfig=config
                ).items()
                assert [item async for item in items] == flatten(expected.pages, key), where
                assert await aiobotocore_full_result(client, started, config) == boto3_full


#: Plain "start after" input-token parameters, not taken from a page (route53's names).
START_AFTER: dict[str, list[dict[str, Any]]] = {
    "route53-list_resource_record_sets": [
        {"StartRecordName": "h04.grid.example.com."},
        {"StartRecordName": "h03.grid.example.com.", "StartRecordType": "MX"},
    ],
}


def raw_tokens_after_first_page(
    sync: Any, case: GridCase, page_size: int, model: asyncpage.PagingModel
) -> dict[str, Any]:
    """The service's tokens for page 2, by input-token name, from boto3's first page."""
    pages = sync.get_paginator(case.operation).paginate(
        **copy.deepcopy(case.params), PaginationConfig=config_of(page_size, None, None)
    )
    page = next(iter(pages))
    return {
        name: value
        for name, output in zip(model.input_tokens, model.output_tokens, strict=True)
        if (value := output.search(page))
    }


def with_start_tokens(token: str | None, started: GridCase, case: GridCase) -> str | None:
    """boto3's ``resume_token``, corrected where botocore forgets the start (README).

    A listing started from the operation's own token parameters and cut by MaxItems in
    its first page: botocore's token holds ``None`` for those parameters (it points into
    the first page of the whole listing); asyncpage's holds the parameters given.
    """
    if token is None:
        return None
    decoded = TokenDecoder().decode(token)
    given = {
        name: started.params[name]
        for name in decoded
        if name in started.params and name not in case.params
    }
    if not given or any(decoded[name] is not None for name in given):
        return token
    return str(TokenEncoder().encode({**decoded, **given}))


def boto3_equivalent(case: GridCase, config: dict[str, Any]) -> tuple[GridCase, dict[str, Any]]:
    """What boto3 is asked for the listing asyncpage must give for ``case`` and ``config``.

    The same, except for a StartingToken on a page boundary (no ``boto_truncate_amount``):
    asyncpage resumes there as the raw service tokens would (README: botocore empties the
    first page's secondary result keys and sets a missing primary key to None there), so
    boto3 is given those tokens as the operation's own parameters.
    """
    token = config.get("StartingToken")
    if token is None:
        return case, config
    decoded = TokenDecoder().decode(token)
    if decoded.pop("boto_truncate_amount", 0):
        return case, config
    raw = {name: value for name, value in decoded.items() if value is not None}
    rest = {name: value for name, value in config.items() if name != "StartingToken"}
    return replace(case, params={**case.params, **raw}), rest


# -- tokens cross over, both ways ------------------------------------------------------------

CASE_IDS = sorted(case.id for case in GRID)


def remaining_boto3(sync: Any, case: GridCase, token: str | None) -> list[Any]:
    config = config_of(case.page_size, None, token)
    pages = sync.get_paginator(case.operation).paginate(
        **copy.deepcopy(case.params), PaginationConfig=config
    )
    return flatten([strip(page) for page in pages], primary(case, sync))


async def check_tokens_cross_over(case: GridCase, endpoint_url: str, make_client: Any) -> None:
    sync = sync_client(case, endpoint_url)
    client = await make_client(case.service, endpoint_url, region=case.region)
    everything = remaining_boto3(sync, case, None)
    assert len(everything) >= 6

    # asyncpage's token after every page resumes boto3 on exactly the rest (botocore #1041:
    # boto3 itself has no such token mid-listing).
    delivered = 0
    pages = asyncpage.paginate(
        client, case.operation, **case.params, PaginationConfig={"PageSize": case.page_size}
    )
    tokens = []
    async with pages:
        async for page in pages:
            delivered += len(pages.model.primary_result_key.search(page) or [])
            tokens.append((delivered, pages.resume_token))
    assert len(tokens) >= 3
    assert tokens[-1][1] is None
    for count, token in tokens[:-1]:
        assert remaining_boto3(sync, case, token) == everything[count:], (case.id, count)

    # boto3's MaxItems token, mid-page or on a boundary, resumes asyncpage on exactly the rest.
    size = case.page_size
    for max_items in sorted({1, size - 1, size, size + 1, 2 * size, len(everything) - 1}):
        if max_items >= len(everything):
            continue  # boto3 has no token at the end: None would mean "from the start"
        config = config_of(case.page_size, max_items, None)
        head = sync.get_paginator(case.operation).paginate(
            **copy.deepcopy(case.params), PaginationConfig=config
        )
        assert flatten(list(head), primary(case, sync)) == everything[:max_items]
        rest = [
            item
            async for item in asyncpage.paginate(
                client,
                case.operation,
                **case.params,
                PaginationConfig={"PageSize": case.page_size, "StartingToken": head.resume_token},
            ).items()
        ]
        assert rest == everything[max_items:], (case.id, max_items)


@pytest.mark.parametrize("case_id", CASE_IDS)
async def test_tokens_cross_over_between_asyncpage_and_boto3(
    case_id: str, grid: Grid, make_client: Any
) -> None:
    await check_tokens_cross_over(grid.cases[case_id], grid.endpoint_url, make_client)


@ON_TRIO
@pytest.mark.parametrize("case_id", ["s3-list_objects_v2", "dynamodb-scan-binary-key"])
async def test_tokens_cross_over_on_trio(case_id: str, grid: Grid, make_client: Any) -> None:
    await check_tokens_cross_over(grid.cases[case_id], grid.endpoint_url, make_client)


async def test_binary_dynamodb_keys_travel_in_tokens_as_botocore_encodes_them(
    grid: Grid, make_client: Any
) -> None:
    case = grid.cases["dynamodb-scan-binary-key"]
    sync = sync_client(case, grid.endpoint_url)
    client = await make_client("dynamodb", grid.endpoint_url)
    config = {"PageSize": 4, "MaxItems": 6}
    full = await asyncpage.paginate(
        client, "scan", **case.params, PaginationConfig=config
    ).build_full_result()
    expected = sync.get_paginator("scan").paginate(**case.params, PaginationConfig=config)
    expected_full = expected.build_full_result()
    assert full["NextToken"] == expected_full["NextToken"]
    decoded = json.loads(base64.b64decode(full["NextToken"]))
    assert decoded["boto_encoded_keys"] == [["ExclusiveStartKey", "pk", "B"]]
    assert decoded["boto_truncate_amount"] == 2
    key = base64.b64decode(decoded["ExclusiveStartKey"]["pk"]["B"])
    last_key = full["Items"][3]["pk"]["B"]
    assert isinstance(last_key, bytes)
    assert key == last_key  # the key of the last item of page 1
    # The bytes come back as bytes when the token is used, by boto3 and by asyncpage.
    rest = [
        item
        async for item in asyncpage.paginate(
            client, "scan", **case.params, PaginationConfig={"StartingToken": full["NextToken"]}
        ).items()
    ]
    rest_boto3 = (
        sync.get_paginator("scan")
        .paginate(**case.params, PaginationConfig={"StartingToken": full["NextToken"]})
        .build_full_result()["Items"]
    )
    assert rest == rest_boto3
    assert len(full["Items"]) + len(rest) == 11


# -- search() and items() --------------------------------------------------------------------

SEARCHES = {
    # Lists, nested lists, filters, and per-page scalars and nulls.
    "s3-list_objects_v2": [
        "Contents[].Key",
        "Contents[?Size > `5`].[Key, Size]",
        "KeyCount",
        "NextContinuationToken",
        "CommonPrefixes[].Prefix",
    ],
    "s3-list_objects_v2-delimiter": ["CommonPrefixes[].Prefix", "Contents[0].Key"],
    "dynamodb-scan-binary-key": ["Items[].n.N", "LastEvaluatedKey.pk.B", "Count"],
    "ec2-describe_instances": [
        "Reservations[].Instances[].InstanceId",
        "Reservations[].Instances[].Tags[?Key=='Name'].Value[]",
    ],
    "logs-filter_log_events": ["searchedLogStreams", "events[].message"],
    "ssm-describe_parameters": ["NextToken", "Parameters[].Name"],
    "route53-list_resource_record_sets": [
        "ResourceRecordSets[?Type=='A'].Name",
        "[NextRecordName, NextRecordType]",
        "IsTruncated",
    ],
}


async def check_search(
    case: GridCase, expressions: list[str], endpoint_url: str, make_client: Any
) -> None:
    sync = sync_client(case, endpoint_url)
    client = await make_client(case.service, endpoint_url, region=case.region)
    everything = remaining_boto3(sync, case, None)
    for expression in expressions:
        for config in (
            {"PageSize": case.page_size},
            {"PageSize": case.page_size, "MaxItems": len(everything) // 2 + 1},
            {},
        ):
            expected = list(
                sync.get_paginator(case.operation)
                .paginate(**copy.deepcopy(case.params), PaginationConfig=dict(config))
                .search(expression)
            )
            got = [
                value
                async for value in asyncpage.paginate(
                    client, case.operation, **case.params, PaginationConfig=dict(config)
                ).search(expression)
            ]
            assert got == expected, (case.id, expression, config)


@pytest.mark.parametrize("case_id", sorted(SEARCHES))
async def test_search_equals_boto3_search(case_id: str, grid: Grid, make_client: Any) -> None:
    await check_search(grid.cases[case_id], SEARCHES[case_id], grid.endpoint_url, make_client)


@ON_TRIO
async def test_search_yields_scalars_and_nulls_as_boto3_on_trio(
    grid: Grid, make_client: Any
) -> None:
    case = grid.cases["s3-list_objects_v2"]
    await check_search(case, ["NextContinuationToken"], grid.endpoint_url, make_client)
    sync = sync_client(case, grid.endpoint_url)
    values = list(
        sync.get_paginator(case.operation)
        .paginate(**case.params, PaginationConfig={"PageSize": 4})
        .search("NextContinuationToken")
    )
    # What the comparison covered: one value per page, the last one null.
    assert len(values) == 3
    assert values[-1] is None
    assert all(isinstance(v, str) for v in values[:-1])


# -- edges: empty listings, a truncation amount beyond the page ------------------------------

EMPTY = [
    ("s3-list_objects_v2", {"Prefix": "nothing-here/"}),
    ("dynamodb-query", {"ExpressionAttributeValues": {":pk": {"S": "nobody"}}}),
    ("sqs-list_queues", {"QueueNamePrefix": "nothing-here"}),
    ("ssm-get_parameters_by_path", {"Path": "/nothing-here"}),
]


@pytest.mark.parametrize(("case_id", "override"), EMPTY, ids=[case for case, _ in EMPTY])
async def test_empty_listing_equals_boto3(
    case_id: str, override: dict[str, Any], grid: Grid, make_client: Any
) -> None:
    case = grid.cases[case_id]
    case = GridCase(
        case.id,
        case.service,
        case.operation,
        case.page_size,
        case.region,
        {**case.params, **override},
    )
    sync = sync_client(case, grid.endpoint_url)
    client = await make_client(case.service, grid.endpoint_url, region=case.region)
    for config in ({}, {"PageSize": case.page_size, "MaxItems": 1}):
        expected = boto3_listing(sync, case, config)
        assert flatten(expected.pages, primary(case, sync)) == []
        got = await asyncpage_listing(client, case, config)
        assert got == expected, config
        assert [
            i async for i in asyncpage.paginate(client, case.operation, **case.params).items()
        ] == []


SKIP_CASES = ["s3-list_objects_v2", "dynamodb-scan-binary-key"]


@pytest.mark.parametrize("case_id", SKIP_CASES)
async def test_a_skip_longer_than_its_page_goes_on_to_the_next_pages(
    case_id: str, grid: Grid, make_client: Any
) -> None:
    # A token skipping more items than its page now holds (botocore forgets the rest of
    # the skip and repeats items: README) skips exactly that many items of the listing.
    case = grid.cases[case_id]
    sync = sync_client(case, grid.endpoint_url)
    client = await make_client(case.service, grid.endpoint_url, region=case.region)
    size = case.page_size
    # boto3's token one item into the first page: its service tokens are the listing's start.
    head = sync.get_paginator(case.operation).paginate(
        **case.params, PaginationConfig={"PageSize": size, "MaxItems": 1}
    )
    for _ in head:
        pass
    decoded = TokenDecoder().decode(head.resume_token)
    assert decoded.pop("boto_truncate_amount") == 1
    assert all(value is None for value in decoded.values())
    model = asyncpage.paginate(client, case.operation, **case.params).model
    rest = remaining_boto3(sync, case, None)
    assert len(rest) > 2 * size + 1
    for skip in (size + 1, 2 * size + 1, len(rest) - 1, len(rest), 99):
        token = TokenEncoder().encode({**decoded, "boto_truncate_amount": skip})
        items = asyncpage.paginate(
            client,
            case.operation,
            **case.params,
            PaginationConfig={"PageSize": size, "StartingToken": token},
        )
        assert [item async for item in items.items()] == rest[skip:], skip
        # MaxItems counts from where the skip ends, and its token resumes exactly there.
        cut = await asyncpage.paginate(
            client,
            case.operation,
            **case.params,
            PaginationConfig={"PageSize": size, "StartingToken": token, "MaxItems": 2},
        ).build_full_result()
        assert model.items_of(cut) == rest[skip : skip + 2], skip
        if skip + 2 < len(rest):
            after = asyncpage.paginate(
                client,
                case.operation,
                **case.params,
                PaginationConfig={"PageSize": size, "StartingToken": cut["NextToken"]},
            )
            assert [item async for item in after.items()] == rest[skip + 2 :], skip


@pytest.mark.parametrize("case_id", SKIP_CASES)
async def test_an_items_checkpoint_resumes_with_a_smaller_page_size(
    case_id: str, grid: Grid, make_client: Any
) -> None:
    # A checkpoint taken mid-page at one PageSize, resumed at a smaller one (the FastAPI
    # Pager does this when a client lowers `limit`): nothing repeated, nothing lost.
    case = grid.cases[case_id]
    sync = sync_client(case, grid.endpoint_url)
    client = await make_client(case.service, grid.endpoint_url, region=case.region)
    everything = remaining_boto3(sync, case, None)
    size = case.page_size
    for taken in (size + 1, 2 * size + 1, len(everything) - 1):
        it = asyncpage.paginate(client, case.operation, **case.params)  # one large page
        got: list[Any] = []
        async for item in it.items():
            got.append(item)
            if len(got) == taken:
                break
        token = it.resume_token
        rest = asyncpage.paginate(
            client,
            case.operation,
            **case.params,
            PaginationConfig={"PageSize": size, "StartingToken": token},
        )
        assert got + [item async for item in rest.items()] == everything, taken


@pytest.mark.parametrize("case_id", CASE_IDS)
async def test_a_raw_token_parameter_is_the_position_before_the_first_page(
    case_id: str, grid: Grid, make_client: Any
) -> None:
    # ContinuationToken=raw (or Marker=, NextToken=...) starts there, and the resume token
    # read before any page (or carried by a PageFetchError on the first page) says so:
    # boto3 resumes from it on exactly what boto3 lists from the raw parameter.
    case = grid.cases[case_id]
    sync = sync_client(case, grid.endpoint_url)
    client = await make_client(case.service, grid.endpoint_url, region=case.region)
    model = asyncpage.paginate(client, case.operation, **case.params).model
    raw = raw_tokens_after_first_page(sync, case, case.page_size, model)
    started = replace(case, params={**case.params, **raw})
    config = {"PageSize": case.page_size}
    it = asyncpage.paginate(client, case.operation, **started.params, PaginationConfig=config)
    token = it.resume_token
    assert token is not None
    paginator = sync.get_paginator(case.operation)
    expected = paginator.paginate(**started.params, PaginationConfig=config).build_full_result()
    whole = paginator.paginate(**case.params, PaginationConfig=config).build_full_result()
    assert expected != whole  # the raw token really starts later
    assert await it.build_full_result() == expected
    from_token = {**config, "StartingToken": token}
    resumed = asyncpage.paginate(client, case.operation, **case.params, PaginationConfig=from_token)
    assert await resumed.build_full_result() == expected
    # boto3 resumes from it on the same items (it empties the first page's secondary keys).
    key = primary(case, sync)
    boto3_resumed = paginator.paginate(**case.params, PaginationConfig=from_token)
    assert key.search(boto3_resumed.build_full_result()) == key.search(expected)


@pytest.mark.parametrize(
    "case_id", ["s3-list_objects_v2-delimiter", "logs-filter_log_events", "dynamodb-query"]
)
async def test_resuming_at_a_page_boundary_keeps_the_secondary_result_keys(
    case_id: str, grid: Grid, make_client: Any
) -> None:
    # Resuming from the resume_token read after page k gives exactly pages k+1...: with
    # their CommonPrefixes / searchedLogStreams (botocore empties them on the first page
    # after any StartingToken: README) and their counts.
    case = grid.cases[case_id]
    client = await make_client(case.service, grid.endpoint_url, region=case.region)
    config = {"PageSize": case.page_size}
    it = asyncpage.paginate(client, case.operation, **case.params, PaginationConfig=config)
    pages: list[dict[str, Any]] = []
    tokens: list[str | None] = []
    async for page in it:
        pages.append(strip(page))
        tokens.append(it.resume_token)
    assert len(pages) >= 3
    secondary = it.result_keys[1:]
    assert any(key.search(page) for key in secondary for page in pages[1:])
    for k, token in enumerate(tokens[:-1], start=1):
        resumed = asyncpage.paginate(
            client,
            case.operation,
            **case.params,
            PaginationConfig={**config, "StartingToken": token},
        )
        assert [strip(page) async for page in resumed] == pages[k:], k
