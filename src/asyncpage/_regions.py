"""Which regions to list, and one client per (service, region) to list them with.

:func:`regions_for` turns names and glob patterns (``"us-*"``, ``"all"``) into the regions
of a service this account can use: the account's enabled regions (EC2
``DescribeRegions``) where botocore knows the service has an endpoint, or botocore's
endpoint data alone when ``DescribeRegions`` is denied or fails. :class:`ClientPool` opens
aiobotocore clients lazily, once per (service, region), and closes them all on exit::

    regions = await asyncpage.regions_for("dynamodb", patterns=["us-*", "eu-west-1"])
    async with asyncpage.ClientPool() as pool:
        sources = {r: await pool.client("dynamodb", r) for r in regions}
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, cast

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from ._admission import record_account
from ._errors import AsyncPageError
from ._tls import SharedVerifySession, may_share
from .speedups import install as install_speedups

if TYPE_CHECKING:
    from ._accounts import AccountSessions

__all__ = ["ClientPool", "regions_for"]

log = logging.getLogger("asyncpage")

_ALL = "all"
_GLOB_CHARACTERS = frozenset("*?[")
_DEFAULT_REGION = "us-east-1"


async def regions_for(
    service: str,
    *,
    session: AioSession | None = None,
    patterns: Sequence[str] | None = None,
    enabled_only: bool = True,
    endpoint_url: str | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
) -> list[str]:
    """The regions of ``service`` that match ``patterns``, sorted.

    Candidates: with ``enabled_only`` (the default), the regions EC2 ``DescribeRegions``
    reports as enabled for the account (``OptInStatus`` other than ``not-opted-in``),
    kept where botocore's endpoint data lists ``service`` (unless it lists it nowhere, as
    for global services and services newer than botocore). When ``DescribeRegions`` is
    denied or fails, or with ``enabled_only=False``, botocore's endpoint data alone. The
    endpoint data is that of the partition (``aws``, ``aws-cn``, ``aws-us-gov``...) of the
    region the EC2 call goes to.

    ``patterns`` are region names and ``fnmatch`` globs (``"us-*"``, ``"eu-?est-1"``),
    matched against the candidates; ``"all"`` or ``None`` means every candidate. A name
    that is not a candidate (not enabled, or no such endpoint) is left out, not an error:
    the same ``--regions`` list then works for every service.

    Args:
        service: botocore's service name (``"dynamodb"``).
        session: the aiobotocore session (credentials, profile); a new one by default.
        patterns: names and globs; a single string is one pattern.
        enabled_only: ask EC2 which regions the account has enabled.
        endpoint_url, client_kwargs: for the EC2 client (a local endpoint, credentials,
            ``region_name`` of the call: the session's region or us-east-1 by default).
    """
    session = session if session is not None else get_session()
    kwargs = dict(client_kwargs or {})
    kwargs.setdefault("region_name", session.get_config_variable("region") or _DEFAULT_REGION)
    if endpoint_url is not None:
        kwargs["endpoint_url"] = endpoint_url
    partition = await _partition_of(session, kwargs["region_name"])
    known = set(await session.get_available_regions(service, partition))
    candidates: set[str] | None = None
    if enabled_only:
        candidates = await _enabled_regions(session, kwargs)
        if candidates is not None and known:
            candidates &= known
    if candidates is None:
        candidates = known
    return match_regions(candidates, patterns)


def match_regions(candidates: Iterable[str], patterns: Sequence[str] | None) -> list[str]:
    """The ``candidates`` that match any of ``patterns`` (names, globs, ``"all"``), sorted.

    A single string is one pattern, not a sequence of one-letter patterns.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    pool = set(candidates)
    if patterns is None or _ALL in patterns:
        return sorted(pool)
    chosen: set[str] = set()
    for pattern in patterns:
        if _GLOB_CHARACTERS.isdisjoint(pattern):
            if pattern in pool:
                chosen.add(pattern)
        else:
            chosen.update(name for name in pool if fnmatch.fnmatchcase(name, pattern))
    return sorted(chosen)


def enabled_in(response: Mapping[str, Any]) -> set[str]:
    """The enabled region names in an EC2 ``DescribeRegions`` response."""
    return {
        region["RegionName"]
        for region in response.get("Regions", [])
        if region.get("OptInStatus") != "not-opted-in"
    }


async def _partition_of(session: AioSession, region: str) -> str:
    """The partition (``aws``, ``aws-cn``, ``aws-us-gov``...) botocore puts ``region`` in."""
    for partition in session.get_available_partitions():
        if region in await session.get_available_regions("ec2", partition):
            return str(partition)
    return "aws"


async def _enabled_regions(session: AioSession, kwargs: Mapping[str, Any]) -> set[str] | None:
    try:
        async with session.create_client("ec2", **kwargs) as ec2:
            response = await ec2.describe_regions(AllRegions=True)
    except (ClientError, BotoCoreError) as exc:
        log.info("DescribeRegions failed (%s); using botocore's endpoint data instead", exc)
        return None
    return enabled_in(response)


class ClientPool:
    """aiobotocore clients, opened on first use once per (account, service, region).

    ``await pool.client("sqs", "eu-west-1")`` returns the same client every time, even
    when many tasks ask at once. Every client is made with ``endpoint_url``, ``config``
    and ``client_kwargs`` (credentials, for example); ``region_name`` always comes from
    the call. Use it as ``async with ClientPool(...) as pool:``; leaving closes every
    client still open, and :meth:`release` closes one sooner.

    With ``accounts`` (an :class:`~asyncpage._accounts.AccountSessions`),
    ``client(..., account="111122223333")`` makes the client from that account's session
    (AssumeRole credentials that refresh themselves) and records the account for
    fan-out's per-(account, service, region) caps and backoff gates. Without ``account``,
    clients come from ``session`` and count as no account in particular.

    With ``speedups`` (the default) the session gets :func:`asyncpage.speedups.install`:
    its clients parse responses faster with botocore's results (so do clients the caller
    creates from the same session afterwards); ``speedups=False`` leaves the session alone.

    The pool's clients share one TLS verify context per CA bundle, process-wide
    (aiobotocore builds one per client, reading the bundle: about 13 ms of CPU a client),
    unless ``config`` or the session's default config chose an HTTP session class of its
    own (httpx, for trio): see :mod:`asyncpage._tls`.
    """

    def __init__(
        self,
        *,
        session: AioSession | None = None,
        endpoint_url: str | None = None,
        config: AioConfig | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        accounts: AccountSessions | None = None,
        speedups: bool = True,
    ) -> None:
        self._accounts = accounts
        if session is None:
            session = accounts.session if accounts is not None else get_session()
        self._session = session
        if speedups:
            install_speedups(self._session)
        self._kwargs = dict(client_kwargs or {})
        if endpoint_url is not None:
            self._kwargs["endpoint_url"] = endpoint_url
        if config is not None:
            given = self._kwargs.get("config")
            self._kwargs["config"] = config if given is None else given.merge(config)
        chosen = self._kwargs.get("config")
        if may_share(chosen, self._session.get_default_client_config()):
            shared = AioConfig(http_session_cls=SharedVerifySession)
            self._kwargs["config"] = shared if chosen is None else chosen.merge(shared)
        self._clients: dict[_Key, Any] = {}
        self._contexts: dict[_Key, Any] = {}
        self._locks: dict[_Key, anyio.Lock] = {}
        self._state = "new"

    @property
    def clients(self) -> Mapping[tuple[str, str], Any]:
        """The clients open now without an account, by (service, region)."""
        return {(s, r): c for (a, s, r), c in self._clients.items() if a is None}

    @property
    def open_clients(self) -> int:
        """How many clients are open now, for every account."""
        return len(self._clients)

    async def client(self, service: str, region: str, *, account: str | None = None) -> Any:
        """The client for ``service`` in ``region`` (of ``account``), opened on first use.

        Raises:
            AsyncPageError: the pool is not entered, or already closed; or ``account`` is
                given to a pool without ``accounts``.
            botocore.exceptions.ClientError: the account's role cannot be assumed.
        """
        key = (account, service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            client = self._clients.get(key)
            if client is None:
                self._check_open()
                session = await self._session_for(account)
                kwargs = {**self._kwargs, "region_name": region}
                # A service name known only at run time: the stubs type create_client by
                # its literal service name, one overload each.
                creating = session.create_client(cast(Any, service), **kwargs)
                # Shielded: a client cancelled half-open would leak its HTTP session.
                with anyio.CancelScope(shield=True):
                    client = await creating.__aenter__()
                self._contexts[key] = creating
                if account is not None:
                    record_account(client, account)
                self._clients[key] = client
        return client

    async def release(self, service: str, region: str, *, account: str | None = None) -> None:
        """Close that client now, if it is open (the next :meth:`client` opens a new one)."""
        key = (account, service, region)
        self._clients.pop(key, None)
        self._locks.pop(key, None)
        creating = self._contexts.pop(key, None)
        if creating is not None:
            with anyio.CancelScope(shield=True):
                await creating.__aexit__(None, None, None)

    async def _session_for(self, account: str | None) -> AioSession:
        if account is None:
            return self._session
        if self._accounts is None:
            raise AsyncPageError(
                f"account {account!r} asked of a ClientPool made without accounts="
            )
        return await self._accounts.session_for(account)

    def _check_open(self) -> None:
        if self._state != "open":
            state = "closed" if self._state == "closed" else "not entered"
            raise AsyncPageError(
                f"this ClientPool is {state}: use `async with ClientPool() as pool:`"
            )

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise AsyncPageError("a ClientPool can be entered only once")
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closed"
        for account, service, region in list(self._contexts)[::-1]:
            await self.release(service, region, account=account)
        self._clients.clear()

    async def aclose(self) -> None:
        """Close every client (what leaving ``async with`` does)."""
        await self.__aexit__(None, None, None)


_Key = tuple[str | None, str, str]
