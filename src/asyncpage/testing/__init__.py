"""Local stand-ins for AWS: the seeded demo endpoint, a moto server, a fault-injecting proxy.

Everything here works without pytest: the README's examples run against
:class:`DemoEndpoint`, and ``asyncpage inventory --demo --chaos`` puts a :class:`FaultProxy`
in front of one. moto's server comes with the ``demo`` extra (from a checkout of asyncpage,
``pip install '.[demo]'``); moto is imported only when a server starts.

The demo endpoint
-----------------

:class:`DemoEndpoint` is moto's server on 127.0.0.1, started in this process and, with
``seed=True``, filled with a small, deterministic inventory (S3 buckets and objects, DynamoDB
tables and items, EC2 instances, SQS queues, Lambda functions, log groups, SSM parameters and
IAM users) in the :data:`DEMO_REGIONS`, with the same ids on every run. Seeding all four
regions at full scale takes 5-25 s; one region at ``scale=0.1`` about 1-3 s.
``organization=True`` seeds an AWS Organization of four accounts instead (what
``asyncpage inventory --demo`` lists), ``resources=`` only some resources.
``on_progress=print`` shows each step as it finishes. A complete program::

    import anyio
    from aiobotocore.session import get_session

    from asyncpage.testing import DemoEndpoint


    async def main() -> None:
        async with DemoEndpoint.start(seed=True, scale=0.1, regions=["us-east-1"]) as demo:
            kwargs = demo.client_kwargs("us-east-1")  # endpoint_url, region, credentials
            async with get_session().create_client("dynamodb", **kwargs) as ddb:
                print(await ddb.list_tables())


    anyio.run(main)

``python -m asyncpage.testing`` serves a seeded endpoint until Ctrl-C and prints the
``AWS_ENDPOINT_URL=...`` to give other programs (an app under uvicorn, the AWS CLI).

The pytest plugin
-----------------

Installing asyncpage registers the plugin :mod:`asyncpage.testing.plugin` (entry point
``pytest11``; or ``pytest -p asyncpage.testing.plugin``); nothing to import. Async tests
need an async test runner: anyio, a dependency of asyncpage, brings its own pytest plugin
(mark tests ``@pytest.mark.anyio``); pytest-asyncio's ``@pytest.mark.asyncio`` works too.
Fixtures:

* ``moto_server`` (session): one :class:`MotoServer` for the whole test session.
* ``moto_endpoint`` (function): the session server's URL (``"http://127.0.0.1:PORT"``),
  reset to empty before the test. Uses ``aws_credentials``.
* ``aws_credentials`` (function): fake credentials in the environment
  (``AWS_ACCESS_KEY_ID=testing``, …), no config or credentials files, no instance
  metadata: a client built in the test never finds real credentials and never reaches AWS.
* ``fault_proxy`` (function): a started :class:`FaultProxy` (seed 0) in front of
  ``moto_endpoint``, stopped after the test.
* ``fault_proxy_factory`` (function): ``fault_proxy_factory(target_url, seed=0)`` starts
  more proxies (in front of any loopback endpoint); all are stopped after the test.

Example::

    import pytest
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session


    @pytest.mark.anyio
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

To do something while a request is in flight (cancel it, time it out, disconnect), hold
it rather than sleep and hope; ``wait_held()`` is awaitable on asyncio and trio alike
(``wait_held_blocking()`` outside an event loop)::

    fault_proxy.hold()  # requests that arrive from now on wait in the proxy
    async with anyio.create_task_group() as tg:
        tg.start_soon(client.list_tables)
        with anyio.fail_after(10):
            await fault_proxy.wait_held()  # one is in flight now
        tg.cancel_scope.cancel()
    fault_proxy.release()

The proxy runs in its own thread and event loop, so it serves asyncio and trio tests alike
(under trio, give aiobotocore its httpx backend:
``AioConfig(http_session_cls=aiobotocore.httpxsession.HttpxSession)``). aiobotocore's
default aiohttp backend resends a GET, HEAD, PUT or DELETE once by itself when its
connection is reset; queue two resets to make such a REST call fail.

The errors are the ones AWS sends, chosen by the service in the request's SigV4 scope:
``ThrottlingException`` for JSON services, ``RequestThrottled`` for SQS,
``RequestLimitExceeded`` for EC2, ``Throttling`` for query services, ``SlowDown`` for S3,
``TooManyRequestsException`` for Lambda (see :mod:`asyncpage.testing._faults`). Any other
error goes out with the code and the HTTP status you give, in the service's format::

    fault_proxy.fail_next(1, "error", code="AccessDeniedException", status=400)
"""

from .._demo import DEMO_REGIONS, DemoEndpoint, DemoResource, SeedProgress, SeedSummary
from ._faults import FaultKind
from ._moto import MotoServer
from ._proxy import FaultProxy, FaultProxyFactory, ProxyCounters, ProxyEvent
from ._s3list import ListObjectsServer
from ._scripted import ScriptedAWS, ScriptedPage

__all__ = [
    "DEMO_REGIONS",
    "DemoEndpoint",
    "DemoResource",
    "FaultKind",
    "FaultProxy",
    "FaultProxyFactory",
    "ListObjectsServer",
    "MotoServer",
    "ProxyCounters",
    "ProxyEvent",
    "ScriptedAWS",
    "ScriptedPage",
    "SeedProgress",
    "SeedSummary",
]
