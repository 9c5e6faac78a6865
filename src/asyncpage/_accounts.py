"""Accounts to list, and credentials for each: AssumeRole, refreshed before they expire.

Accounts come from a list or from the Organization (:func:`organization_accounts`,
``organizations:ListAccounts`` paginated by asyncpage, ACTIVE accounts only).
:class:`AccountSessions` gives an aiobotocore session per account: the caller's own
session for the caller's own account (the management account, in an Organization), and
for every other account a light session whose credentials come from ``sts:AssumeRole``
into :attr:`AssumeRole.role_name` (``OrganizationAccountAccessRole`` by default) or an ARN
template, optionally through a hub role first (role chaining)::

    async with ClientPool(accounts=AccountSessions(get_session())) as pool:
        sqs = await pool.client("sqs", "eu-west-1", account="111122223333")

Credentials are botocore's own refreshing kind (aiobotocore's
:class:`~aiobotocore.credentials.AioRefreshableCredentials` fed by its
:class:`~aiobotocore.credentials.AioAssumeRoleCredentialFetcher`): 15 minutes before they
expire a request refreshes them (a failure then is only logged), 10 minutes before, a
request waits for the refresh. An hour-long inventory never runs on expired credentials.

Memory: every session shares the caller's session's model loader and response parser
factory, so a service's model is loaded once for all accounts; a session per account
costs tens of KiB, a client about 0.25 MiB (``benchmarks/accounts.py`` measures it).
"""

from __future__ import annotations

import datetime
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioAssumeRoleCredentialFetcher, AioRefreshableCredentials
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp

from ._iterator import paginate
from ._retry import error_code

__all__ = [
    "DEFAULT_ROLE_NAME",
    "DEFAULT_SESSION_NAME",
    "Account",
    "AccountSessions",
    "AssumeRole",
    "assume_failure",
    "organization_accounts",
]

DEFAULT_ROLE_NAME: Final = "OrganizationAccountAccessRole"
DEFAULT_SESSION_NAME: Final = "asyncpage-inventory"
_CONCURRENT_ASSUMES: Final = 8


@dataclass(frozen=True, slots=True)
class Account:
    """An AWS account to list: its 12-digit id and, from an Organization, its name."""

    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class AssumeRole:
    """How to get credentials for an account that is not the caller's own.

    ``role_arn`` is a template (``"arn:aws:iam::{account}:role/Inventory"``, with
    ``{account}`` and optionally ``{partition}``) and wins over ``role_name``.
    ``hub_role_arn``: assume this role first, with the caller's credentials, then each
    account's role with the hub's (role chaining; AWS caps a chained session at an hour,
    which refreshing makes harmless; the hub's credentials refresh too). ``external_id``
    goes to every account's AssumeRole, not to the hub's. ``duration_seconds`` goes to
    every AssumeRole (900 to 43,200).

    Raises :class:`ValueError`, with a message fit for the command line, for what AWS
    would refuse anyway, before any request: a template without ``{account}`` or with
    other fields, a role name, template or hub ARN that is not an IAM role ARN, a session
    name or external ID AWS does not accept.
    """

    role_name: str = DEFAULT_ROLE_NAME
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    hub_role_arn: str | None = None
    duration_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.role_arn is not None:
            try:
                parsed = list(string.Formatter().parse(self.role_arn))
            except ValueError as exc:
                raise ValueError(f"role ARN template {self.role_arn!r}: {exc}") from None
            fields = {name for _, name, _, _ in parsed if name}
            if "account" not in fields:
                raise ValueError(
                    f"role ARN template {self.role_arn!r} has no {{account}} "
                    "(e.g. arn:aws:iam::{account}:role/Audit)"
                )
            extra = fields - {"account", "partition"}
            if extra:
                unknown = ", ".join(f"{{{name}}}" for name in sorted(extra))
                raise ValueError(
                    f"role ARN template {self.role_arn!r}: unknown {unknown} "
                    "(only {account} and {partition})"
                )
            example = self.arn_for("111122223333")
            _check_role_arn(example, f"role ARN template {self.role_arn!r} (it gives {example!r})")
        elif not _ROLE_PATH.fullmatch(self.role_name):
            raise ValueError(f"role name {self.role_name!r} is not an IAM role name (or path)")
        if self.hub_role_arn is not None:
            _check_role_arn(self.hub_role_arn, f"hub role ARN {self.hub_role_arn!r}")
        if not _SESSION_NAME.fullmatch(self.session_name):
            raise ValueError(
                f"session name {self.session_name!r}: 2 to 64 letters, digits and +=,.@_-"
            )
        if self.external_id is not None and not _EXTERNAL_ID.fullmatch(self.external_id):
            raise ValueError(
                f"external ID {self.external_id!r}: 2 to 1,224 letters, digits and +=,.@:/_-"
            )
        if not 900 <= self.duration_seconds <= 43_200:
            raise ValueError(f"duration {self.duration_seconds} s: 900 to 43,200 seconds")

    def arn_for(self, account: str, partition: str = "aws") -> str:
        """The ARN of the role to assume in ``account``."""
        if self.role_arn is not None:
            return self.role_arn.format(account=account, partition=partition)
        return f"arn:{partition}:iam::{account}:role/{self.role_name}"


# IAM's own patterns: a role name (with an optional path), a role ARN, RoleSessionName
# and ExternalId as sts:AssumeRole documents them.
_ROLE_PATH: Final = re.compile(r"(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}")
_ROLE_ARN: Final = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}")
_SESSION_NAME: Final = re.compile(r"[\w+=,.@-]{2,64}")
_EXTERNAL_ID: Final = re.compile(r"[\w+=,.@:/-]{2,1224}")


def _check_role_arn(arn: str, what: str) -> None:
    if not _ROLE_ARN.fullmatch(arn):
        raise ValueError(f"{what} is not an IAM role ARN (arn:aws:iam::111122223333:role/NAME)")


async def organization_accounts(
    session: AioSession,
    *,
    endpoint_url: str | None = None,
    config: AioConfig | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
) -> tuple[str, list[Account]]:
    """The management account's id and the ACTIVE accounts of the caller's Organization.

    ``ListAccounts`` is paginated by asyncpage (page retries on throttling); accounts come
    in the order AWS gives them. Raises botocore's ``ClientError`` if the caller may not
    read the Organization (``AWSOrganizationsNotInUseException``, ``AccessDenied``).
    """
    kwargs = {"region_name": "us-east-1", **(client_kwargs or {})}
    async with session.create_client(
        "organizations", endpoint_url=endpoint_url, config=config, **kwargs
    ) as organizations:
        described = await organizations.describe_organization()
        management = str(described["Organization"]["MasterAccountId"])
        accounts: list[Account] = []
        async with paginate(organizations, "list_accounts") as pages:
            async for page in pages:
                for account in page.get("Accounts", []):
                    status = account.get("State") or account.get("Status")
                    if status == "ACTIVE":
                        accounts.append(Account(str(account["Id"]), str(account.get("Name", ""))))
    return management, accounts


class _Given:
    """A credential provider component that hands out one credentials object."""

    def __init__(self, credentials: AioRefreshableCredentials) -> None:
        self._credentials = credentials

    async def load_credentials(self) -> AioRefreshableCredentials:
        return self._credentials


class _NoCache(dict[str, Any]):
    """A credential cache that keeps nothing: every refresh asks STS again.

    botocore's fetcher otherwise reuses cached credentials until 15 minutes before they
    expire, which is exactly when the refreshing credentials ask for new ones.
    """

    def __setitem__(self, key: str, value: Any) -> None:
        return None


class AccountSessions:
    """A session per account, all sharing one model loader; credentials by AssumeRole.

    Args:
        session: the caller's session. Its credentials list the caller's own account
            (``own_account``) and make the AssumeRole calls; its model loader and
            response parser factory serve every account.
        assume: which role to assume, and how.
        own_account: the caller's account id: listed with the session as it is. Found
            with ``sts:GetCallerIdentity`` by :meth:`check` when not given.
        endpoint_url, region, config: for the STS client (a local endpoint, say).
        time_fetcher: the clock the credentials judge their expiry by (botocore's
            ``RefreshableCredentials`` seam; tests move it forward).
    """

    def __init__(
        self,
        session: AioSession,
        *,
        assume: AssumeRole | None = None,
        own_account: str | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        config: AioConfig | None = None,
        time_fetcher: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.session = session
        self.assume = assume if assume is not None else AssumeRole()
        self.own_account = own_account
        self._time_fetcher = time_fetcher
        self._sts = partial(
            session.create_client, region_name=region, endpoint_url=endpoint_url, config=config
        )
        self._sessions: dict[str, AioSession] = {}
        self._errors: dict[str, BaseException] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._hub: AioRefreshableCredentials | None = None
        self._hub_lock = anyio.Lock()
        self._assumed: dict[str, int] = {}

    @property
    def assume_role_calls(self) -> Mapping[str, int]:
        """How many times AssumeRole was called for each role ARN (first time and refreshes)."""
        return dict(self._assumed)

    async def caller_account(self) -> str:
        """The caller's own account id (``sts:GetCallerIdentity`` the first time)."""
        if self.own_account is None:
            async with self._sts("sts") as sts:
                identity = await sts.get_caller_identity()
            self.own_account = str(identity["Account"])
        return self.own_account

    async def check(self, accounts: Iterable[str]) -> dict[str, str]:
        """Assume every account's role once, concurrently; ``{account: why}`` for failures.

        An account in the result cannot be listed (its role does not exist, does not trust
        the caller, the external ID is wrong...): the reason is one line, with the AWS
        error code. The others' sessions are ready.

        With a hub role, the hub is assumed first. If that fails no account could be
        listed, and this raises botocore's error (``ClientError``, ``BotoCoreError``) instead
        of calling every account unavailable (:func:`assume_failure` says it in a line).
        """
        own = await self.caller_account()
        accounts = list(dict.fromkeys(accounts))
        if any(account != own for account in accounts):
            await self._source_credentials()
        unavailable: dict[str, str] = {}
        limiter = anyio.CapacityLimiter(_CONCURRENT_ASSUMES)

        async def one(account: str) -> None:
            async with limiter:
                try:
                    await self.session_for(account)
                except (ClientError, BotoCoreError) as exc:
                    unavailable[account] = assume_failure(exc, self.assume.arn_for(account))

        async with anyio.create_task_group() as tasks:
            for account in accounts:
                tasks.start_soon(one, account)
        return unavailable

    async def session_for(self, account: str) -> AioSession:
        """The session that lists ``account``; assumes its role the first time.

        Raises botocore's ``ClientError`` (the same one every time) if the role cannot be
        assumed.
        """
        if account == await self.caller_account():
            return self.session
        found = self._sessions.get(account)
        if found is not None:
            return found
        async with self._locks.setdefault(account, anyio.Lock()):
            if account in self._errors:
                raise self._errors[account]
            found = self._sessions.get(account)
            if found is None:
                try:
                    source = await self._source_credentials()
                    credentials = await self._credentials(
                        self.assume.arn_for(account), source, external_id=self.assume.external_id
                    )
                except (ClientError, BotoCoreError) as exc:
                    self._errors[account] = exc
                    raise
                found = self._sessions[account] = self._session_with(credentials)
        return found

    async def _source_credentials(self) -> Any:
        """The credentials AssumeRole is called with: the caller's, or the hub role's.

        The hub's are refreshing credentials too: every account's refresh signs its
        AssumeRole with them, which refreshes them first when they are about to expire.
        """
        hub = self.assume.hub_role_arn
        if hub is None:
            return await self.session.get_credentials()
        async with self._hub_lock:
            if self._hub is None:
                caller = await self.session.get_credentials()
                self._hub = await self._credentials(hub, caller, external_id=None)
        return self._hub

    async def _credentials(
        self, role_arn: str, source: Any, *, external_id: str | None
    ) -> AioRefreshableCredentials:
        assume = self.assume
        extra: dict[str, Any] = {
            "RoleSessionName": assume.session_name,
            "DurationSeconds": assume.duration_seconds,
        }
        if external_id is not None:
            extra["ExternalId"] = external_id
        # aiobotocore enters what client_creator returns (`async with`); its stubs keep
        # botocore's type for it, a function returning a client.
        sts: Any = self._sts
        fetcher = AioAssumeRoleCredentialFetcher(
            sts, source, role_arn, extra_args=extra, cache=_NoCache()
        )

        async def refresh() -> dict[str, Any]:
            self._assumed[role_arn] = self._assumed.get(role_arn, 0) + 1
            metadata: dict[str, Any] = await fetcher.fetch_credentials()
            return metadata

        first = await refresh()
        clock: dict[str, Any] = (
            {} if self._time_fetcher is None else {"time_fetcher": self._time_fetcher}
        )
        return AioRefreshableCredentials(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=parse_timestamp(first["expiry_time"]),
            refresh_using=refresh,
            method="assume-role",
            account_id=first.get("account_id"),
            **clock,
        )

    def _session_with(self, credentials: AioRefreshableCredentials) -> AioSession:
        session = AioSession()
        for shared in ("data_loader", "response_parser_factory"):
            session.register_component(shared, self.session.get_component(shared))
        session.register_component("credential_provider", _Given(credentials))
        return session


def assume_failure(error: BaseException, role_arn: str) -> str:
    """``cannot assume ARN: AccessDenied: ...``: why AssumeRole into ``role_arn`` failed."""
    code = error_code(error)
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    prefix = f"{code}: " if code is not None and code not in message else ""
    return f"cannot assume {role_arn}: {prefix}{message}"


def parse_accounts(text: str) -> Sequence[str]:
    """``"111122223333, 444455556666"`` as account ids; :class:`ValueError` for a bad one."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    bad = [account for account in ids if not (account.isdigit() and len(account) == 12)]
    if bad or not ids:
        raise ValueError(
            f"not 12-digit account ids: {', '.join(bad) or '(empty list)'}"
            " (give them as --accounts 111122223333,444455556666)"
        )
    return list(dict.fromkeys(ids))
