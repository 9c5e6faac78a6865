"""regions_for and ClientPool, against moto over HTTP (and the fault proxy), asyncio and trio.

moto's EC2 ``DescribeRegions`` reports the newer regions (ap-east-1, me-south-1, ...) as
``not-opted-in``, like a fresh account, so the opt-in filter is exercised for real. A
denied ``DescribeRegions`` is the fault proxy answering ``UnauthorizedOperation`` in EC2's
error format (with the proxy's 503 status; AWS sends 403, which botocore parses to the
same ``ClientError``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import anyio
import pytest
from aiobotocore.session import AioSession, get_session

import asyncpage
from asyncpage._regions import ClientPool, enabled_in, match_regions, regions_for
from conftest import client_config

pytestmark = pytest.mark.anyio

MakeClient = Callable[..., Awaitable[Any]]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def kwargs_for(backend: str) -> dict[str, Any]:
    config = client_config(backend, retries={"total_max_attempts": 1})
    return {**CREDENTIALS, "config": config}


async def endpoint_data(session: AioSession, service: str) -> set[str]:
    """botocore's regions for ``service`` in the commercial partition (us-east-1's)."""
    return set(await session.get_available_regions(service, "aws"))


async def test_regions_are_the_enabled_ones_where_the_service_exists(
    make_client: MakeClient, moto_endpoint: str, anyio_backend: str
) -> None:
    ec2 = await make_client("ec2", moto_endpoint)
    listed = (await ec2.describe_regions(AllRegions=True))["Regions"]
    described = {r["RegionName"] for r in listed if r["OptInStatus"] != "not-opted-in"}
    assert "ap-east-1" not in described  # moto: an opt-in region, not opted in
    session = get_session()
    kwargs = kwargs_for(anyio_backend)

    async def regions(service: str, patterns: Any = None) -> list[str]:
        return await regions_for(
            service,
            session=session,
            patterns=patterns,
            endpoint_url=moto_endpoint,
            client_kwargs=kwargs,
        )

    everywhere = await regions("dynamodb")
    assert everywhere == sorted(described & await endpoint_data(session, "dynamodb"))
    assert "us-east-1" in everywhere
    assert await regions("dynamodb", ["ap-southeast-2", "ap-east-1", "nowhere-1", "us-east-?"]) == [
        "ap-southeast-2",
        "us-east-1",
        "us-east-2",
    ]
    # A service botocore lists in fewer regions than EC2 reports: only those.
    sdb = await regions("sdb")
    assert sdb
    assert set(sdb) == described & await endpoint_data(session, "sdb")
    assert len(sdb) < len(everywhere)


async def test_denied_describe_regions_falls_back_to_botocore_endpoint_data(
    fault_proxy: Any, anyio_backend: str
) -> None:
    fault_proxy.fail_next(1, "throttle", code="UnauthorizedOperation", only_service="ec2")
    session = get_session()
    found = await regions_for(
        "dynamodb",
        session=session,
        patterns=["eu-*"],
        endpoint_url=fault_proxy.endpoint_url,
        client_kwargs=kwargs_for(anyio_backend),
    )
    known = await endpoint_data(session, "dynamodb")
    assert found == sorted(r for r in known if r.startswith("eu-"))
    assert "eu-west-1" in found
    counters = fault_proxy.counters
    assert (counters.requests, counters.throttled) == (1, 1)  # asked once, denied


async def test_enabled_only_false_asks_nobody(fault_proxy: Any, anyio_backend: str) -> None:
    session = get_session()
    found = await regions_for(
        "sqs",
        session=session,
        enabled_only=False,
        endpoint_url=fault_proxy.endpoint_url,
        client_kwargs=kwargs_for(anyio_backend),
    )
    assert found == sorted(await endpoint_data(session, "sqs"))
    china = await regions_for(
        "sqs",
        session=session,
        enabled_only=False,
        client_kwargs={**kwargs_for(anyio_backend), "region_name": "cn-north-1"},
    )
    assert china == ["cn-north-1", "cn-northwest-1"]  # the partition of the region asked
    assert fault_proxy.counters.requests == 0


def test_regions_not_opted_in_are_not_enabled() -> None:
    response = {
        "Regions": [
            {"RegionName": "us-east-1", "OptInStatus": "opt-in-not-required"},
            {"RegionName": "af-south-1", "OptInStatus": "opted-in"},
            {"RegionName": "me-south-1", "OptInStatus": "not-opted-in"},
            {"RegionName": "eu-west-1"},
        ]
    }
    assert enabled_in(response) == {"us-east-1", "af-south-1", "eu-west-1"}


def test_patterns_are_names_globs_or_all() -> None:
    candidates = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"]
    assert match_regions(candidates, None) == sorted(candidates)
    assert match_regions(candidates, "eu-west-1") == ["eu-west-1"]  # one string: one name
    assert match_regions(candidates, ["all"]) == sorted(candidates)
    assert match_regions(candidates, ["eu-*", "us-east-1"]) == [
        "eu-central-1",
        "eu-west-1",
        "us-east-1",
    ]
    assert match_regions(candidates, ["*-west-[12]"]) == ["eu-west-1", "us-west-2"]
    assert match_regions(candidates, ["mars-1", "x*"]) == []


# -- ClientPool ---------------------------------------------------------------------------


class Recorder:
    """Wraps aiobotocore's client context to count what the pool opens and closes."""

    opened: list[Any]
    closed: list[Any]

    def __init__(self, inner: Any, opened: list[Any], closed: list[Any]) -> None:
        self._inner = inner
        self.opened = opened
        self.closed = closed

    async def __aenter__(self) -> Any:
        client = await self._inner.__aenter__()
        self.opened.append(client)
        return client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)
        self.closed.append(self.opened[len(self.closed)])


@pytest.fixture
def recording_session(monkeypatch: pytest.MonkeyPatch) -> tuple[AioSession, list[Any], list[Any]]:
    session = get_session()
    opened: list[Any] = []
    closed: list[Any] = []
    create = session.create_client

    def create_client(*args: Any, **kwargs: Any) -> Recorder:
        return Recorder(create(*args, **kwargs), opened, closed)

    monkeypatch.setattr(session, "create_client", create_client)
    return session, opened, closed


async def test_client_pool_opens_each_client_once_and_closes_them_all(
    moto_endpoint: str,
    anyio_backend: str,
    recording_session: tuple[AioSession, list[Any], list[Any]],
) -> None:
    session, opened, closed = recording_session
    got: list[Any] = []
    async with ClientPool(
        session=session,
        endpoint_url=moto_endpoint,
        config=client_config(anyio_backend),
        client_kwargs={**CREDENTIALS, "region_name": "ignored-1"},
    ) as pool:

        async def ask(service: str, region: str) -> None:
            got.append(await pool.client(service, region))

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                for region in ("us-east-1", "eu-west-1"):
                    tg.start_soon(ask, "dynamodb", region)
                tg.start_soon(ask, "sqs", "us-east-1")

        assert len(opened) == 3  # (dynamodb, us-east-1), (dynamodb, eu-west-1), (sqs, ...)
        assert len({id(client) for client in got}) == 3
        east = await pool.client("dynamodb", "us-east-1")
        west = await pool.client("dynamodb", "eu-west-1")
        assert east.meta.region_name == "us-east-1"
        assert west.meta.region_name == "eu-west-1"
        await east.create_table(
            TableName="only-in-east",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        assert (await west.list_tables())["TableNames"] == []
        assert (await east.list_tables())["TableNames"] == ["only-in-east"]
        assert closed == []

    assert sorted(map(id, closed)) == sorted(map(id, opened))
    with pytest.raises(asyncpage.AsyncPageError, match="closed"):
        await pool.client("dynamodb", "us-east-1")


async def test_client_pool_must_be_entered() -> None:
    pool = ClientPool()
    with pytest.raises(asyncpage.AsyncPageError, match="async with"):
        await pool.client("dynamodb", "us-east-1")
