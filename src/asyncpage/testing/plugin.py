"""The pytest plugin of :mod:`asyncpage.testing`: its fixtures (see that module's docs).

Registered through the ``pytest11`` entry point when asyncpage is installed; without the
entry point, load it with ``pytest -p asyncpage.testing.plugin``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from ._moto import MotoServer
from ._proxy import FaultProxy, FaultProxyFactory

__all__ = [
    "FaultProxyFactory",
    "aws_credentials",
    "fault_proxy",
    "fault_proxy_factory",
    "moto_endpoint",
    "moto_server",
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
