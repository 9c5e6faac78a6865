"""asyncpage's pytest plugin: a moto server and a fault-injecting proxy for your own tests.

Installing asyncpage registers this plugin (entry point ``pytest11``); nothing to import.
The moto fixtures need moto (``pip install "asyncpage[demo]"``), imported only when a
fixture first runs. Fixtures:

``moto_server`` (session)
    One :class:`MotoServer` for the whole test session.
``moto_endpoint`` (function)
    The session server's URL (``"http://127.0.0.1:PORT"``), reset to empty before the
    test. Uses ``aws_credentials``.
``aws_credentials`` (function)
    Fake credentials in the environment (``AWS_ACCESS_KEY_ID=testing``, …), no config or
    credentials files, no instance metadata: a client built in the test never finds real
    credentials and never reaches AWS.
``fault_proxy`` (function)
    A started :class:`FaultProxy` (seed 0) in front of ``moto_endpoint``, stopped after
    the test.
``fault_proxy_factory`` (function)
    ``fault_proxy_factory(target_url, seed=0)`` starts more proxies (in front of any
    loopback endpoint); all are stopped after the test.

Example::

    import pytest
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session


    @pytest.mark.asyncio
    async def test_listing_survives_throttling(fault_proxy):
        fault_proxy.fail_next(2, "throttle")  # the next two requests, whatever they are
        config = AioConfig(retries={"mode": "standard", "total_max_attempts": 3})
        async with get_session().create_client(
            "dynamodb", endpoint_url=fault_proxy.endpoint_url, config=config
        ) as client:
            response = await client.list_tables()

        assert response["ResponseMetadata"]["RetryAttempts"] == 2
        assert fault_proxy.counters.throttled == 2

Faults by rate are drawn from a generator seeded by ``seed``, so a failing run replays::

    fault_proxy.configure(throttle=0.1, reset=0.02, latency=0.01, only_service="dynamodb")

The proxy runs in its own thread and event loop, so it serves asyncio and trio tests alike
(under trio, give aiobotocore its httpx backend:
``AioConfig(http_session_cls=aiobotocore.httpxsession.HttpxSession)``). aiobotocore's
default aiohttp backend resends a GET, HEAD, PUT or DELETE once by itself when its
connection is reset; queue two resets to make such a REST call fail.

The errors are the ones AWS sends, chosen by the service in the request's SigV4 scope:
``ThrottlingException`` for JSON services, ``RequestThrottled`` for SQS,
``RequestLimitExceeded`` for EC2, ``Throttling`` for query services, ``SlowDown`` for S3,
``TooManyRequestsException`` for Lambda (see :mod:`asyncpage.testing._faults`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Protocol

import pytest

from ._faults import FaultKind
from ._moto import MotoServer
from ._proxy import FaultProxy, ProxyCounters, ProxyEvent

__all__ = [
    "FaultKind",
    "FaultProxy",
    "FaultProxyFactory",
    "MotoServer",
    "ProxyCounters",
    "ProxyEvent",
]

_FAKE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_UNSET_ENVIRONMENT = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


class FaultProxyFactory(Protocol):
    """The type of the ``fault_proxy_factory`` fixture."""

    def __call__(self, target_url: str, *, seed: int = 0) -> FaultProxy:
        """Start a :class:`FaultProxy` in front of ``target_url``; stopped after the test."""
        ...


@pytest.fixture
def aws_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Fake AWS credentials and region in the environment; no profile files are read."""
    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.touch()
    for name, value in _FAKE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    for name in _UNSET_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server on 127.0.0.1 for the whole session."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def moto_endpoint(moto_server: MotoServer, aws_credentials: None) -> str:
    """The session moto server's URL, its state reset before the test."""
    moto_server.reset()
    return moto_server.endpoint_url


@pytest.fixture
def fault_proxy_factory() -> Iterator[FaultProxyFactory]:
    """Start fault proxies in front of loopback endpoints; all stopped after the test."""
    with ExitStack() as stack:

        def start(target_url: str, *, seed: int = 0) -> FaultProxy:
            return stack.enter_context(FaultProxy(target_url, seed=seed))

        yield start


@pytest.fixture
def fault_proxy(fault_proxy_factory: FaultProxyFactory, moto_endpoint: str) -> FaultProxy:
    """A fault proxy (seed 0) in front of the freshly reset session moto server."""
    return fault_proxy_factory(moto_endpoint)
