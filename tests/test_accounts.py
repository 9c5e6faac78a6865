"""Accounts: an Organization listed as boto3 lists each account, denied roles, refreshes.

moto (over HTTP) makes the Organization and its member accounts; AssumeRole into a member
account returns credentials whose resources belong to that account. moto never denies an
AssumeRole, so the fault proxy answers one with AccessDenied, as AWS would. The proxy also
shows who signed each request (its access key id), which is how role chaining is checked:
the members' AssumeRole calls are signed with the hub role's credentials.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import anyio
import boto3
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from dateutil.tz import tzlocal

from asyncpage import paginate
from asyncpage._accounts import AccountSessions, AssumeRole, organization_accounts
from asyncpage._admission import endpoint_of
from asyncpage._inventory import Inventory, listing_for, plan_targets
from asyncpage._regions import ClientPool
from asyncpage.cli import main
from asyncpage.testing import FaultProxy

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGIONS = ("us-east-1", "eu-west-1")
MANAGEMENT = "123456789012"  # moto's account for credentials it does not know


def member_credentials(
    endpoint: str,
    account: str,
    role: str = "arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
    source: dict[str, str] = CREDENTIALS,
) -> dict[str, str]:
    """Credentials of ``role`` (a template) in ``account``, assumed by boto3 with ``source``."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **source)
    role = role.format(account=account)
    made = sts.assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
    return {
        "aws_access_key_id": made["AccessKeyId"],
        "aws_secret_access_key": made["SecretAccessKey"],
        "aws_session_token": made["SessionToken"],
    }


@pytest.fixture
def organization(moto_endpoint: str) -> dict[str, dict[str, str]]:
    """A management account and three members, each with its own queues and tables."""
    orgs = boto3.client(
        "organizations", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDENTIALS
    )
    orgs.create_organization(FeatureSet="ALL")
    accounts = {MANAGEMENT: CREDENTIALS}
    for n in range(3):
        made = orgs.create_account(AccountName=f"member{n}", Email=f"m{n}@example.com")
        account = made["CreateAccountStatus"]["AccountId"]
        accounts[account] = member_credentials(moto_endpoint, account)
    for n, credentials in enumerate(accounts.values()):
        for region in REGIONS:
            kwargs = {"endpoint_url": moto_endpoint, "region_name": region, **credentials}
            sqs = boto3.client("sqs", **kwargs)
            ddb = boto3.client("dynamodb", **kwargs)
            for i in range(2 + n):
                sqs.create_queue(QueueName=f"a{n}-{region}-q{i}")
                ddb.create_table(
                    TableName=f"a{n}-t{i}",
                    BillingMode="PAY_PER_REQUEST",
                    KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                )
    return accounts


def boto3_listing(endpoint: str, accounts: dict[str, dict[str, str]]) -> set[tuple[str, ...]]:
    """(account, service, region, id) as boto3's paginators list each account."""
    found: set[tuple[str, ...]] = set()
    for account, credentials in accounts.items():
        for region in REGIONS:
            kwargs = {"endpoint_url": endpoint, "region_name": region, **credentials}
            for page in boto3.client("sqs", **kwargs).get_paginator("list_queues").paginate():
                for url in page.get("QueueUrls", []):
                    found.add((account, "sqs", region, url.rsplit("/", 1)[1]))
            ddb = boto3.client("dynamodb", **kwargs)
            for page in ddb.get_paginator("list_tables").paginate():
                for name in page["TableNames"]:
                    found.add((account, "dynamodb", region, name))
    return found


def inventory(endpoint: str, capsys: pytest.CaptureFixture[str], *more: str) -> Any:
    status = main(
        [
            "inventory", "--org", "--endpoint-url", endpoint, "--regions", ",".join(REGIONS),
            "--services", "sqs,dynamodb", "--page-size", "2", "-o", "-", "--no-progress", *more,
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_an_organization_is_listed_exactly_as_boto3_lists_each_account(
    moto_endpoint: str,
    organization: dict[str, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, records, err = inventory(moto_endpoint, capsys)

    assert status == 0, err
    listed = [(r["account"], r["service"], r["region"], r["id"]) for r in records]
    assert len(listed) == len(set(listed))
    assert set(listed) == boto3_listing(moto_endpoint, organization)
    assert f"organization: 4 active accounts, management {MANAGEMENT}" in err
    # Per-account totals in the summary, one line per account.
    for account in organization:
        assert any(line.split()[:2] == [account, "4"] for line in err.splitlines()), err


def test_a_denied_assume_role_skips_that_account_only(
    moto_endpoint: str,
    organization: dict[str, dict[str, str]],
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault_proxy.fail_next(
        1, "error", code="AccessDenied", status=403, only_service="sts", only_operation="AssumeRole"
    )
    status, records, err = inventory(fault_proxy.endpoint_url, capsys)

    assert status == 0, err
    (skipped,) = [line for line in err.splitlines() if "skipping account" in line]
    denied = skipped.split("skipping account ")[1].split(":")[0]
    assert denied in organization and denied != MANAGEMENT
    assert "AccessDenied" in skipped
    others = {a: c for a, c in organization.items() if a != denied}
    listed = {(r["account"], r["service"], r["region"], r["id"]) for r in records}
    assert listed == boto3_listing(moto_endpoint, others)
    reasons = [line for line in err.splitlines() if line.startswith(f"skipped {denied}/")]
    assert len(reasons) == 4  # every source of that account, each with the reason


AUDIT = "arn:aws:iam::{account}:role/Audit"


def identity(endpoint: str, access_key: str) -> str:
    """The ARN moto's STS gives the caller signing with ``access_key`` (moto checks no secret)."""
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="any",
    )
    return str(sts.get_caller_identity()["Arn"])


def test_an_inventory_through_a_hub_role_lists_each_account_as_boto3_with_the_chain(
    moto_endpoint: str,
    organization: dict[str, dict[str, str]],
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    members = [account for account in organization if account != MANAGEMENT]
    hub = f"arn:aws:iam::{members[0]}:role/Hub"  # a member account acting as the hub
    status, records, err = inventory(
        fault_proxy.endpoint_url, capsys,
        "--hub-role-arn", hub, "--role-arn-template", AUDIT, "--session-name", "audit-run",
    )  # fmt: skip

    assert status == 0, err
    # boto3 with the same chain: the caller assumes the hub, the hub each member's Audit.
    hub_credentials = member_credentials(moto_endpoint, members[0], hub)
    chained = {
        account: member_credentials(moto_endpoint, account, AUDIT, source=hub_credentials)
        for account in members
    }
    listed = [(r["account"], r["service"], r["region"], r["id"]) for r in records]
    assert len(listed) == len(set(listed))
    assert set(listed) == boto3_listing(moto_endpoint, {MANAGEMENT: CREDENTIALS, **chained})
    # The chain as it went over the wire: one AssumeRole signed by the caller (the hub's),
    # then one per member signed with the hub's credentials; the listing requests of each
    # member signed with its own Audit session.
    signers = [e.access_key for e in fault_proxy.events if e.operation == "AssumeRole"]
    assert signers[0] == "testing"
    assert len(signers) == 1 + len(members)
    (hub_key,) = set(signers[1:])
    assert identity(moto_endpoint, str(hub_key)) == (
        f"arn:aws:sts::{members[0]}:assumed-role/Hub/audit-run"
    )
    listing_keys = {e.access_key for e in fault_proxy.events if e.service in ("sqs", "dynamodb")}
    assert "testing" in listing_keys  # the management account: the caller's own credentials
    listing_keys.remove("testing")
    assert sorted(identity(moto_endpoint, str(key)) for key in listing_keys) == sorted(
        f"arn:aws:sts::{account}:assumed-role/Audit/audit-run" for account in members
    )


def test_a_hub_role_that_cannot_be_assumed_fails_the_run_before_any_listing(
    organization: dict[str, dict[str, str]],
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault_proxy.fail_next(
        1, "error", code="AccessDenied", status=403, only_service="sts", only_operation="AssumeRole"
    )
    hub = "arn:aws:iam::123456789012:role/Hub"
    status, records, err = inventory(fault_proxy.endpoint_url, capsys, "--hub-role-arn", hub)

    assert status == 1
    (failure,) = [line for line in err.splitlines() if f"cannot assume {hub}: " in line]
    assert "AccessDenied" in failure and failure.endswith("(the hub role)")
    assert "skipping account" not in err  # one clear failure, not every account skipped
    assert records == []
    assert {e.service for e in fault_proxy.events} <= {"organizations", "sts", "ec2"}
    assert [e.operation for e in fault_proxy.events].count("AssumeRole") == 1


BAD_ROLE_OPTIONS = [
    (["--role-arn-template", "arn:aws:iam::111122223333:role/A"], "has no {account}"),
    (["--role-arn-template", "arn:aws:iam::{account}:role/{name}"], "unknown {name}"),
    (["--role-arn-template", "arn:aws:iam::{account:role/A"], "unmatched '{'"),
    (["--role-arn-template", "arn:aws:s3:::{account}"], "is not an IAM role ARN"),
    (["--role-arn-template", AUDIT, "--role-name", "A"], "give one"),
    (["--hub-role-arn", "arn:aws:iam::12345:role/Hub"], "is not an IAM role ARN"),
    (["--hub-role-arn", "Hub"], "hub role ARN 'Hub' is not an IAM role ARN"),
    (["--session-name", "x"], "session name 'x': 2 to 64"),
    (["--external-id", "a b"], "external ID 'a b'"),
    (["--role-name", "no spaces"], "is not an IAM role name"),
]


def test_bad_role_options_exit_2_before_any_request(
    fault_proxy: FaultProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    for flags, message in BAD_ROLE_OPTIONS:
        status, _, err = inventory(fault_proxy.endpoint_url, capsys, *flags)
        assert (status, message in err) == (2, True), (flags, err)
        # Without accounts to assume into, the role options mean nothing.
        assert main(["inventory", "--no-progress", *flags[:2]]) == 2
        assert "--org or --accounts (accounts to assume into)" in capsys.readouterr().err
    assert fault_proxy.counters.requests == 0


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp: asyncio only
@pytest.mark.parametrize("hub", [None, "arn:aws:iam::123456789012:role/Hub"])
async def test_credentials_expiring_mid_listing_are_refreshed_and_nothing_is_lost(
    moto_endpoint: str,
    organization: dict[str, dict[str, str]],
    anyio_backend: str,
    hub: str | None,
) -> None:
    member = next(account for account in organization if account != MANAGEMENT)
    later = datetime.timedelta()

    def clock() -> datetime.datetime:
        return datetime.datetime.now(tzlocal()) + later

    session = get_session()
    session.set_credentials("testing", "testing")
    sessions = AccountSessions(
        session,
        assume=AssumeRole(duration_seconds=3600, hub_role_arn=hub),
        endpoint_url=moto_endpoint,
        time_fetcher=clock,
    )
    role = AssumeRole().arn_for(member)
    queues = []
    async with ClientPool(
        endpoint_url=moto_endpoint, accounts=sessions, config=AioConfig()
    ) as pool:
        sqs = await pool.client("sqs", "us-east-1", account=member)
        assert endpoint_of(sqs) == (member, "sqs", "us-east-1")
        first = await (await sessions.session_for(member)).get_credentials()
        assert first is not None
        first_key = (await first.get_frozen_credentials()).access_key
        async with paginate(sqs, "list_queues", PaginationConfig={"PageSize": 1}) as pages:
            async for page in pages:
                queues += page.get("QueueUrls", [])
                if len(queues) == 1:
                    # 55 minutes on: 5 left, inside botocore's mandatory refresh window.
                    later = datetime.timedelta(minutes=55)
        assert sessions.assume_role_calls[role] >= 2
        if hub is not None:
            # The member's refresh is signed with the hub's credentials, refreshed first:
            # both roles were assumed again, none used after it expired.
            assert sessions.assume_role_calls[hub] >= 2
        assert (await first.get_frozen_credentials()).access_key != first_key
    expected = {
        key[3]
        for key in boto3_listing(moto_endpoint, {member: organization[member]})
        if key[1:3] == ("sqs", "us-east-1")
    }
    assert sorted(url.rsplit("/", 1)[1] for url in queues) == sorted(expected)
    assert len(queues) >= 3


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp: asyncio only
async def test_organization_accounts_are_the_active_ones_with_the_management_account(
    moto_endpoint: str, organization: dict[str, dict[str, str]], anyio_backend: str
) -> None:
    orgs = boto3.client(
        "organizations", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDENTIALS
    )
    closed = [account for account in organization if account != MANAGEMENT][-1]
    orgs.close_account(AccountId=closed)  # SUSPENDED: not listed
    session = get_session()
    session.set_credentials("testing", "testing")
    management, accounts = await organization_accounts(session, endpoint_url=moto_endpoint)
    assert management == MANAGEMENT
    assert {account.id for account in accounts} == set(organization) - {closed}
    assert {account.name for account in accounts} == {"master", "member0", "member1"}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp: asyncio only
async def test_a_client_is_closed_when_the_last_source_that_needs_it_ends(
    organization: dict[str, dict[str, str]], fault_proxy: FaultProxy, anyio_backend: str
) -> None:
    member = next(account for account in organization if account != MANAGEMENT)
    session = get_session()
    session.set_credentials("testing", "testing")
    endpoint = fault_proxy.endpoint_url
    sessions = AccountSessions(session, own_account=MANAGEMENT, endpoint_url=endpoint)
    listings = [listing_for("sqs:list_queues"), listing_for("dynamodb:list_tables")]
    listings.append(listing_for("dynamodb:list_backups"))  # shares list_tables' client
    accounts = [MANAGEMENT, member]
    targets = plan_targets(
        listings, dict.fromkeys(("sqs", "dynamodb"), REGIONS), home_region=REGIONS[0],
        accounts=accounts,
    )  # fmt: skip
    fault_proxy.hold(only_operation="ListBackups")
    async with ClientPool(endpoint_url=endpoint, accounts=sessions) as pool:
        inventory = Inventory(targets, pool=pool, concurrency=len(targets))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(inventory.run)
            with anyio.fail_after(15):
                await fault_proxy.wait_held(len(accounts) * len(REGIONS))
                # Every SQS and ListTables source ends while ListBackups is held: their
                # SQS clients are closed, the DynamoDB ones stay for ListBackups.
                # (No event says a client closed: poll the count, bounded by fail_after.)
                while pool.open_clients > len(accounts) * len(REGIONS):  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            ended = {s.key.operation for s in inventory.states() if s.status == "ok"}
            assert ended == {"list_queues", "list_tables"}
            assert pool.open_clients == len(accounts) * len(REGIONS)
            fault_proxy.release()
        assert pool.open_clients == 0  # before the pool closes what is left
    assert {state.status for state in inventory.states()} == {"ok"}
