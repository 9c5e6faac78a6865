"""A ClientPool's clients share one TLS verify context per CA bundle, and still verify.

An HTTPS endpoint on 127.0.0.1 with a self-signed certificate serves DynamoDB
``ListTables`` pages (JSON on the wire). Against it: a pool's clients with the default
``verify`` refuse it as aiobotocore's own clients do; trusting the certificate's file
(``verify=path``) or ``verify=False`` lets them through; and however many clients a pool
opens, the CA bundle is read once, where aiobotocore alone reads it per client.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import aiobotocore.httpsession
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import SSLError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import asyncpage

pytestmark = pytest.mark.anyio
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ONE_ATTEMPT = AioConfig(retries={"total_max_attempts": 1})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp's session is the one that shares contexts (trio: httpx)


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class ListTables(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"TableNames": ["one"]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def https_endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS DynamoDB endpoint with a self-signed certificate, and that certificate."""
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ListTables)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def contexts_built(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every verify context aiobotocore's aiohttp session builds, in order."""
    built: list[ssl.SSLContext] = []
    create = aiobotocore.httpsession.create_urllib3_context  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context: ssl.SSLContext = create(*args, **kwargs)
        built.append(context)
        return context

    monkeypatch.setattr(aiobotocore.httpsession, "create_urllib3_context", counting)
    return built


REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1", "sa-east-1"]


async def tables(pool: asyncpage.ClientPool, region: str) -> list[str]:
    client = await pool.client("dynamodb", region)
    return cast(list[str], (await client.list_tables())["TableNames"])


async def test_a_pools_clients_read_the_ca_bundle_once_where_aiobotocore_reads_it_each_time(
    https_endpoint: tuple[str, Path], contexts_built: list[ssl.SSLContext]
) -> None:
    url, cert = https_endpoint
    session = get_session()
    for region in REGIONS:
        async with session.create_client(
            "dynamodb",
            region_name=region,
            endpoint_url=url,
            verify=str(cert),
            aws_access_key_id=KEYS["aws_access_key_id"],
            aws_secret_access_key=KEYS["aws_secret_access_key"],
        ) as client:
            assert (await client.list_tables())["TableNames"] == ["one"]
    assert len(contexts_built) == len(REGIONS)  # aiobotocore alone: one per client

    contexts_built.clear()
    kwargs = {**KEYS, "verify": str(cert)}
    async with asyncpage.ClientPool(endpoint_url=url, client_kwargs=kwargs) as pool:
        for region in REGIONS:
            assert await tables(pool, region) == ["one"]
    async with asyncpage.ClientPool(endpoint_url=url, client_kwargs=kwargs) as pool:
        assert await tables(pool, "us-east-1") == ["one"]
    assert len(contexts_built) <= 1  # none if an earlier test built it already


async def test_shared_contexts_still_verify_and_keep_each_setting_apart(
    https_endpoint: tuple[str, Path],
) -> None:
    url, cert = https_endpoint

    def pool(**kwargs: Any) -> asyncpage.ClientPool:
        return asyncpage.ClientPool(
            endpoint_url=url, config=ONE_ATTEMPT, client_kwargs={**KEYS, **kwargs}
        )

    # Unverified first, so that a context shared across settings would let the next through.
    async with pool(verify=False) as unverified:
        assert await tables(unverified, "us-east-1") == ["one"]
    async with pool() as default:
        with pytest.raises(SSLError):
            await tables(default, "us-east-1")
        with pytest.raises(SSLError):
            await tables(default, "eu-west-1")
    async with pool(verify=str(cert)) as trusting:
        assert await tables(trusting, "us-east-1") == ["one"]
    async with pool() as default:
        with pytest.raises(SSLError):
            await tables(default, "us-west-2")


async def test_a_bundle_replaced_on_disk_is_read_again(
    https_endpoint: tuple[str, Path], tmp_path: Path
) -> None:
    url, cert = https_endpoint
    (tmp_path / "other").mkdir()
    other, _ = self_signed(tmp_path / "other")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(other.read_bytes())  # trusts another certificate, not the server's

    def pool() -> asyncpage.ClientPool:
        return asyncpage.ClientPool(
            endpoint_url=url, config=ONE_ATTEMPT, client_kwargs={**KEYS, "verify": str(bundle)}
        )

    async with pool() as before:
        with pytest.raises(SSLError):
            await tables(before, "us-east-1")
    bundle.write_bytes(cert.read_bytes() + b"\n")
    async with pool() as after:
        assert await tables(after, "us-east-1") == ["one"]
