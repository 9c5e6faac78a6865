"""parallel_list_objects against one ListObjectsV2 chain, over real HTTP.

Most layouts are served by :class:`~asyncpage.testing.ListObjectsServer` (the real wire
format, botocore's real parser; moto seeds S3 at a few hundred objects a second and
cannot ignore ``StartAfter`` or play a directory bucket); one differential runs on moto.
Page sizes are small so that a few hundred keys make many pages and many ranges.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import asyncpage
from _seed_moto import boto3_client
from asyncpage import KeyRange, PageFetchError
from asyncpage.testing import FaultProxyFactory, ListObjectsServer, MotoServer

MakeClient = Callable[..., Any]
BUCKET = "bucket"


def flat(n: int) -> list[str]:
    return [f"obj-{i:05d}" for i in range(n)]


def nested(n: int) -> list[str]:
    return [f"a{i % 3}/b{i % 5}/c{i % 7}/d{i % 2}/{i:05d}.txt" for i in range(n)] + [
        f"a{i}/top-{i}" for i in range(3)
    ]


def skewed(n: int) -> list[str]:
    return [f"hot/{i:05d}" for i in range(n * 9 // 10)] + [
        f"p{i:02d}/x{i}" for i in range(n - n * 9 // 10)
    ]


def odd_characters(n: int) -> list[str]:
    words = ["ключ", "日本語", "a b", "100%", "%20", "+plus", "&<>'\"", "ü/ß", "é", "😀", "x~y"]
    return [f"{words[i % len(words)]}/{words[(i * 7) % len(words)]}-{i}" for i in range(n)]


def long_prefixes(n: int) -> list[str]:
    return [f"{'p' * 400}/{'q' * (i % 4) * 50}/{i:05d}" for i in range(n)]


LAYOUTS: dict[str, list[str]] = {
    "flat": flat(600),
    "nested": nested(500),
    "skewed": skewed(600),
    "odd-characters": odd_characters(400),
    "long-prefixes": long_prefixes(300),
    "single-page": flat(7),
    "empty": [],
}


@pytest.fixture
def server() -> Iterator[ListObjectsServer]:
    with ListObjectsServer([], bucket=BUCKET) as s:
        yield s


def serve(keys: list[str], **options: Any) -> ListObjectsServer:
    return ListObjectsServer(keys, bucket=BUCKET, **options).start()


async def chain(client: Any, page_size: int, **params: Any) -> tuple[list[str], list[str]]:
    """Keys and common prefixes, as one aiobotocore paginator chain lists them."""
    keys: list[str] = []
    prefixes: list[str] = []
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=BUCKET, PaginationConfig={"PageSize": page_size}, **params)
    async for page in pages:
        keys += [c["Key"] for c in page.get("Contents", ())]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
    return keys, prefixes


async def sharded(
    client: Any, page_size: int, **params: Any
) -> tuple[list[str], list[str], asyncpage.ObjectListing]:
    keys: list[str] = []
    prefixes: list[str] = []
    listing = asyncpage.parallel_list_objects(
        client, Bucket=BUCKET, PaginationConfig={"PageSize": page_size}, **params
    )
    async with listing:
        async for tagged in listing:
            keys += [c["Key"] for c in tagged.page.get("Contents", ())]
            prefixes += [p["Prefix"] for p in tagged.page.get("CommonPrefixes", ())]
    return keys, prefixes, listing


@pytest.mark.anyio
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shards", [3, 8])
async def test_listing_equals_one_chain(make_client: MakeClient, layout: str, shards: int) -> None:
    with serve(LAYOUTS[layout]) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        expected, _ = await chain(s3, 20)
        ordered, _, listing = await sharded(s3, 20, shards=shards, ordered=True)
        assert ordered == expected
        unordered, _, _ = await sharded(s3, 20, shards=shards)
        assert sorted(unordered) == expected and len(set(unordered)) == len(unordered)
        if len(expected) > 20:
            assert listing.plan.method in ("split", "folders")
            assert len(listing.plan.ranges) > 2
            assert all(o.status == "ok" for o in listing.outcomes.values())


@pytest.mark.anyio
@pytest.mark.parametrize("layout", ["nested", "odd-characters", "long-prefixes", "skewed"])
@pytest.mark.parametrize(
    "params",
    [{"Delimiter": "/"}, {"Delimiter": "/", "Prefix": "a1/"}, {"Prefix": "a2/b"}],
    ids=["delimiter", "delimiter-prefix", "prefix"],
)
async def test_prefix_and_delimiter_equal_one_chain(
    make_client: MakeClient, layout: str, params: dict[str, str]
) -> None:
    keys = [*LAYOUTS[layout], *(f"{k}/deep/{i}" for i, k in enumerate(LAYOUTS[layout][:80]))]
    with serve(keys) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        expected = await chain(s3, 6, **params)
        got_keys, got_prefixes, _ = await sharded(s3, 6, shards=6, ordered=True, **params)
        assert (got_keys, got_prefixes) == expected
        # Each common prefix once, also when ranges are listed in any order.
        got_keys, got_prefixes, _ = await sharded(s3, 6, shards=6, **params)
        assert sorted(got_keys) == expected[0] and sorted(got_prefixes) == expected[1]


@pytest.mark.anyio
async def test_items_and_common_prefixes(make_client: MakeClient) -> None:
    mixed = [f"d/{i:04d}" for i in range(60)] + [
        f"d/sub{i:02d}/x{j}" for i in range(40) for j in range(3)
    ]
    with serve(mixed) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        keys, prefixes = await chain(s3, 5, Delimiter="/", Prefix="d/")
        assert len(keys) == 60 and len(prefixes) == 40
        options: dict[str, Any] = {
            "Delimiter": "/",
            "Prefix": "d/",
            "PaginationConfig": {"PageSize": 5},
        }
        async with asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, shards=4, ordered=True, **options
        ) as listing:
            got = [obj async for obj in listing.items()]
        assert [o["Key"] for o in got] == keys
        assert {"Key", "LastModified", "ETag", "Size", "StorageClass"} <= got[0].keys()
        async with asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, shards=4, ordered=True, **options
        ) as listing:
            assert [p["Prefix"] async for p in listing.common_prefixes()] == prefixes


@pytest.mark.anyio
async def test_a_listing_of_one_page_costs_one_request(make_client: MakeClient) -> None:
    with serve(flat(999)) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        async with asyncpage.parallel_list_objects(s3, Bucket=BUCKET, shards=16) as listing:
            keys = [o["Key"] async for o in listing.items()]
        assert keys == flat(999)
        assert aws.requests == 1
        assert listing.plan.method == "one page"


@pytest.mark.anyio
async def test_an_endpoint_that_ignores_start_after_is_listed_as_one_chain(
    make_client: MakeClient,
) -> None:
    with serve(flat(300), ignore_start_after=True) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        keys, _, listing = await sharded(s3, 25, shards=8, ordered=True)
        assert listing.plan.method == "start-after ignored"
        assert keys == flat(300)


@pytest.mark.anyio
async def test_an_endpoint_that_ignores_start_after_is_found_out_by_a_folder_plan_too(
    make_client: MakeClient,
) -> None:
    keys = sorted(nested(500))
    with serve(keys, ignore_start_after=True) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        got, _, listing = await sharded(s3, 20, shards=4, ordered=True)
        assert listing.plan.method == "start-after ignored"
        assert got == keys


@pytest.mark.anyio
@pytest.mark.parametrize("shards", [4, 16])
async def test_a_bucket_of_folders_is_cut_into_ranges_of_about_one_size(
    make_client: MakeClient, shards: int
) -> None:
    """Log-like folders (day/hour/part): the key line's sampling cut the benchmark's
    bucket so that one range held 60% of it (no faster than a chain); its folders show
    where the keys are."""
    keys = sorted(
        f"logs/2026/{i % 30 + 1:02d}/{i // 30 % 24:02d}/part-{i:07d}.json.gz" for i in range(6000)
    )
    with serve(keys) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        got, _, listing = await sharded(s3, 50, shards=shards, ordered=True)
        assert got == keys
        plan = listing.plan
        assert plan.method == "folders"
        sizes = [o.items for o in listing.outcomes.values()][1:]  # the first page's aside
        assert len(sizes) == shards
        assert max(sizes) <= 1.5 * (len(keys) - 50) / shards, sizes
        assert plan.requests < 50


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["first", "last"])
async def test_one_big_flat_folder_among_small_ones_is_cut_inside(
    make_client: MakeClient, where: str
) -> None:
    """Most of a bucket in one flat folder (a count of it is cut short: more than a page)
    beside small folders of about one size: the big one is sampled inside, not left whole
    in one range."""
    # First: the listing's first page is inside it; last: it is counted by its own page.
    big = "hot" if where == "first" else "z-hot"
    keys = sorted(
        [f"{big}/{i:06d}" for i in range(3000)]
        + [f"p{i:02d}/{j:03d}" for i in range(30) for j in range(20)]
    )
    with serve(keys) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        got, _, listing = await sharded(s3, 100, shards=8, ordered=True)
        assert got == keys
        assert listing.plan.method == "folders"
        sizes = [o.items for o in listing.outcomes.values()]
        inside = [r for r in listing.plan.ranges if r.through and r.through.startswith(f"{big}/")]
        assert len(inside) >= 2, listing.plan.ranges  # the big folder is cut
        assert max(sizes) < 3000, sizes  # no range holds the whole big folder


@pytest.mark.anyio
async def test_a_directory_bucket_is_listed_as_one_chain(make_client: MakeClient) -> None:
    with serve(flat(300), unordered=True) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        expected, _ = await chain(s3, 25)
        assert expected != sorted(expected)  # the endpoint does play a directory bucket
        aws.log.clear()
        keys, _, listing = await sharded(s3, 25, shards=8, ordered=True)
        assert listing.plan.method == "unordered"
        assert keys == expected
        assert not any("start-after" in query for query in aws.log)


@pytest.mark.anyio
async def test_access_denied_on_a_probe_is_raised(make_client: MakeClient) -> None:
    with serve(flat(300)) as aws:
        aws.deny_start_after()
        s3 = await make_client("s3", aws.endpoint_url)
        listing = asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, shards=4, PaginationConfig={"PageSize": 25}
        )
        with pytest.raises(PageFetchError) as caught:
            async with listing:
                pass  # pragma: no cover
        assert "AccessDenied" in str(caught.value)


@pytest.mark.anyio
async def test_failed_ranges_resume_from_their_tokens(
    make_client: MakeClient, fault_proxy_factory: FaultProxyFactory
) -> None:
    keys = flat(400)
    with serve(keys) as aws:
        proxy = fault_proxy_factory(aws.endpoint_url)
        s3 = await make_client("s3", proxy.endpoint_url)
        got: list[str] = []
        async with asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, shards=4, retry=None, PaginationConfig={"PageSize": 10}
        ) as listing:
            async for obj in listing.items():
                got.append(obj["Key"])
                if len(got) == 45:
                    proxy.fail_next(3, "error", code="InternalError", status=500)
        failed = {r: o for r, o in listing.outcomes.items() if o.status == "failed"}
        assert failed, "the faults hit no range"
        assert any(o.items for o in failed.values()), "no range failed mid-way"
        resume = {r: o.resume_token for r, o in failed.items()}
        async with asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, resume=resume, PaginationConfig={"PageSize": 10}
        ) as again:
            got += [obj["Key"] async for obj in again.items()]
        assert again.plan.method == "resumed"
        assert sorted(got) == keys and len(got) == len(keys)


@pytest.mark.anyio
async def test_leaving_mid_page_resumes_at_the_next_item(make_client: MakeClient) -> None:
    keys = nested(300)
    with serve(keys) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        expected, _ = await chain(s3, 10)
        options: dict[str, Any] = {"PaginationConfig": {"PageSize": 10}}
        got: list[str] = []
        async with asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, shards=5, ordered=True, **options
        ) as listing:
            async for obj in listing.items():
                got.append(obj["Key"])
                if len(got) == 137:
                    break
        resume = {r: o.resume_token for r, o in listing.outcomes.items() if o.status != "ok"}
        assert all(isinstance(r, KeyRange) for r in resume)
        async with asyncpage.parallel_list_objects(
            s3, Bucket=BUCKET, resume=resume, ordered=True, **options
        ) as again:
            got += [obj["Key"] async for obj in again.items()]
        assert got == expected


@pytest.mark.anyio
async def test_bad_arguments_raise_before_any_request(make_client: MakeClient) -> None:
    with serve(flat(3)) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        for kwargs in (
            {},
            {"Bucket": BUCKET, "ContinuationToken": "x"},
            {"Bucket": BUCKET, "MaxKeys": 5},
            {"Bucket": BUCKET, "shards": 0},
            {"Bucket": BUCKET, "PaginationConfig": {"MaxItems": 5}},
            {"Bucket": BUCKET, "resume": {"a": None}},
        ):
            with pytest.raises(asyncpage.InvalidPaginationError):
                asyncpage.parallel_list_objects(s3, **kwargs)
        assert aws.requests == 0


# -- moto: exact equality on a real S3 implementation ---------------------------------


#: What moto_bucket tags its bucket with: a reset of moto (any other test's) removes it.
_SEEDED_BY = {"Key": "seeded-by", "Value": f"test_s3-{uuid.uuid4()}"}


@pytest.fixture
def moto_bucket(moto_server: MotoServer, aws_credentials: None) -> tuple[str, list[str]]:
    """The session moto server's URL and the keys of its BUCKET, which only tests here read.

    moto seeds a few hundred objects a second: the bucket is seeded once per process (each
    xdist worker has its own moto), and again, after a reset, whenever another test has
    reset moto since (its tag is then gone).
    """
    keys = [*nested(900), *odd_characters(150)]
    client = boto3_client("s3", moto_server.endpoint_url)
    try:
        tags = client.get_bucket_tagging(Bucket=BUCKET)["TagSet"]
    except client.exceptions.ClientError:  # no such bucket, or one without tags
        tags = []
    if tags != [_SEEDED_BY]:
        moto_server.reset()
        client.create_bucket(Bucket=BUCKET)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: client.put_object(Bucket=BUCKET, Key=k, Body=b""), keys))
        client.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [_SEEDED_BY]})
    return moto_server.endpoint_url, sorted(keys)


@pytest.mark.anyio
@pytest.mark.parametrize("params", [{}, {"Delimiter": "/"}, {"Prefix": "a1/", "Delimiter": "/"}])
async def test_moto_listing_equals_one_chain(
    make_client: MakeClient, moto_bucket: tuple[str, list[str]], params: dict[str, str]
) -> None:
    moto_endpoint, keys = moto_bucket
    s3 = await make_client("s3", moto_endpoint)
    expected = await chain(s3, 100, **params)
    if not params:
        assert expected[0] == keys
    got_keys, got_prefixes, _ = await sharded(s3, 100, shards=6, ordered=True, **params)
    assert (got_keys, got_prefixes) == expected


@pytest.mark.anyio
async def test_a_runner_can_list_the_planned_ranges_itself(make_client: MakeClient) -> None:
    """What the inventory's store does: plan once, list each range, resume one from a token."""
    from asyncpage._s3 import plan_ranges, range_iterator

    keys = flat(500)
    with serve(keys) as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        plan, first = await plan_ranges(s3, shards=4, page_size=20, Bucket=BUCKET)
        assert plan.method == "split"
        got: list[str] = []
        for key_range in plan.ranges:
            pages = range_iterator(
                s3, key_range, first_page=first.get(key_range), page_size=20, Bucket=BUCKET
            )
            items = pages.items()
            async for obj in items:
                got.append(obj["Key"])
                if len(got) % 53 == 0:  # stop mid-page, continue from the token
                    break
            token = pages.resume_token
            if token is not None:
                rest = range_iterator(s3, key_range, token=token, page_size=20, Bucket=BUCKET)
                got += [obj["Key"] async for obj in rest.items()]
        assert got == keys
