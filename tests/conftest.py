"""Shared fixtures: real aiobotocore clients against local endpoints, on asyncio and trio.

The moto server (``moto_server``/``moto_endpoint``) and the fault proxy (``fault_proxy``)
come from asyncpage's own pytest plugin, ``asyncpage.testing``, which users get too.
Tests marked ``@pytest.mark.anyio`` run once per backend in ``anyio_backend``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any, cast

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

import asyncpage

ClientFactory = Callable[..., Any]

# One session for the run: it caches botocore's service models, which take most of the
# time of creating a client (an EC2 client costs about 0.7 s from a fresh session).
_SESSION = get_session()


@pytest.fixture(autouse=True)
def _no_backoff_waits() -> Iterator[None]:
    """asyncpage's public testing switch: retries happen, their sleeps don't."""
    asyncpage.set_testing(True)
    yield
    asyncpage.set_testing(False)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_config(backend: str, **config: Any) -> AioConfig:
    """aiohttp on asyncio; httpx (which runs on trio too) on trio."""
    if backend == "trio":
        from aiobotocore.httpxsession import HttpxSession

        config.setdefault("http_session_cls", HttpxSession)
    return AioConfig(**config)


@pytest.fixture
async def make_client(anyio_backend: str) -> AsyncIterator[ClientFactory]:
    """``await make_client("s3", endpoint_url, region="us-east-1", retries=...)``; closed after."""
    async with AsyncExitStack() as stack:

        async def make(
            service: str, endpoint_url: str, *, region: str = "us-east-1", **config: Any
        ) -> Any:
            config.setdefault("retries", {"total_max_attempts": 1})
            return await stack.enter_async_context(
                _SESSION.create_client(
                    cast(Any, service),  # the stubs know only literal service names
                    region_name=region,
                    endpoint_url=endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=client_config(anyio_backend, **config),
                )
            )

        yield make
