"""MotoServer and the moto fixtures that asyncpage's pytest plugin gives every test suite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiobotocore.session import get_session

import asyncpage.testing
from asyncpage.testing import MotoServer


def test_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    import asyncpage.testing.plugin

    assert pytestconfig.pluginmanager.get_plugin("asyncpage") is asyncpage.testing.plugin


def test_the_classes_work_without_pytest() -> None:
    """`asyncpage inventory --chaos` uses the proxy in installs that have no pytest."""
    check = (
        "import sys; sys.modules['pytest'] = None; "
        "from asyncpage.testing import FaultProxy, MotoServer, ScriptedAWS"
    )
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_public_names() -> None:
    names = asyncpage.testing.__all__
    assert names == sorted(names)
    assert {"FaultKind", "FaultProxy", "FaultProxyFactory", "MotoServer", "ProxyCounters"} <= set(
        names
    )
    assert all(hasattr(asyncpage.testing, name) for name in names)


def test_importing_the_plugin_does_not_import_moto() -> None:
    check = "import sys, asyncpage.testing.plugin; sys.exit('moto' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_moto_endpoint_is_the_session_server(moto_endpoint: str, moto_server: MotoServer) -> None:
    url = urlsplit(moto_endpoint)

    assert moto_endpoint == moto_server.endpoint_url
    assert (url.scheme, url.hostname, url.path) == ("http", "127.0.0.1", "")
    assert url.port


@pytest.mark.asyncio
async def test_clients_use_the_fake_credentials(moto_endpoint: str) -> None:
    session = get_session()
    async with session.create_client("s3", endpoint_url=moto_endpoint) as client:
        await client.create_bucket(Bucket="music")
        buckets = await client.list_buckets()
        credentials = await session.get_credentials()

    assert credentials is not None
    assert (credentials.access_key, credentials.method) == ("testing", "env")
    assert [bucket["Name"] for bucket in buckets["Buckets"]] == ["music"]


@pytest.mark.asyncio
async def test_moto_endpoint_starts_empty(moto_endpoint: str) -> None:
    # Runs after the test above created a bucket: the fixture reset the server.
    async with get_session().create_client("s3", endpoint_url=moto_endpoint) as client:
        buckets = await client.list_buckets()

    assert buckets["Buckets"] == []


@pytest.mark.asyncio
async def test_reset_forgets_every_region(moto_server: MotoServer, aws_credentials: None) -> None:
    session = get_session()
    for region in ("us-east-1", "eu-west-1"):
        async with session.create_client(
            "sqs", region_name=region, endpoint_url=moto_server.endpoint_url
        ) as client:
            await client.create_queue(QueueName="jobs")

    moto_server.reset()

    for region in ("us-east-1", "eu-west-1"):
        async with session.create_client(
            "sqs", region_name=region, endpoint_url=moto_server.endpoint_url
        ) as client:
            assert "QueueUrls" not in await client.list_queues()


def test_aws_credentials_hide_real_configuration(aws_credentials: None) -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_PROFILE" not in os.environ
    with open(os.environ["AWS_CONFIG_FILE"]) as config:
        assert config.read() == ""


def test_server_lifecycle() -> None:
    server = MotoServer()
    with pytest.raises(RuntimeError):
        _ = server.endpoint_url

    with server:
        url = server.endpoint_url
        with urllib.request.urlopen(f"{url}/moto-api/data.json") as response:
            assert response.status == 200
        with pytest.raises(RuntimeError):
            server.start()

    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.endpoint_url
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", urlsplit(url).port or 0)).close()


USERS_SUITE = """
import os
from pathlib import Path

import boto3
import pytest


@pytest.mark.parametrize("n", range(4))
def test_a_bucket_of_its_own(moto_endpoint, fault_proxy, n):
    s3 = boto3.client("s3", endpoint_url=fault_proxy.endpoint_url)
    assert s3.list_buckets()["Buckets"] == []  # reset for this test, whatever others do
    s3.create_bucket(Bucket=f"bucket-{n}")
    direct = boto3.client("s3", endpoint_url=moto_endpoint)
    assert [b["Name"] for b in direct.list_buckets()["Buckets"]] == [f"bucket-{n}"]
    worker = os.environ["PYTEST_XDIST_WORKER"]
    (Path(os.environ["RAN"]) / f"{n}").write_text(f"{worker} {moto_endpoint}")
"""


def test_the_plugin_works_under_xdist(tmp_path: Path) -> None:
    """A user's suite run with ``pytest -n 2``: each worker a moto server of its own."""
    project, ran = tmp_path / "project", tmp_path / "ran"
    project.mkdir()
    ran.mkdir()
    (project / "test_users.py").write_text(USERS_SUITE)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "AWS_"))} | {
        "RAN": str(ran)
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout, done.stdout
    servers = dict(path.read_text().split() for path in ran.iterdir())
    assert sorted(servers) == ["gw0", "gw1"]  # both workers ran tests...
    assert len(set(servers.values())) == 2  # ...each against its own moto server
