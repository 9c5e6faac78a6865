"""Accounts: an Organization listed as boto3 lists each account, denied roles, refreshes.

moto (over HTTP) makes the Organization and its member accounts; AssumeRole into a member
account returns credentials whose resources belong to that account. moto never denies an
AssumeRole, so the fault proxy answers one with AccessDenied, as AWS would.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import boto3
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from dateutil.tz import tzlocal

from asyncpage import paginate
from asyncpage._accounts import AccountSessions, AssumeRole, organization_accounts
from asyncpage._admission import endpoint_of
from asyncpage._regions import ClientPool
from asyncpage.cli import main
from asyncpage.testing import FaultProxy

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGIONS = ("us-east-1", "eu-west-1")
MANAGEMENT = "123456789012"  # moto's account for credentials it does not know


def member_credentials(endpoint: str, account: str) -> dict[str, str]:
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
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


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # aiohttp: asyncio only
async def test_credentials_expiring_mid_listing_are_refreshed_and_nothing_is_lost(
    moto_endpoint: str, organization: dict[str, dict[str, str]], anyio_backend: str
) -> None:
    member = next(account for account in organization if account != MANAGEMENT)
    later = datetime.timedelta()

    def clock() -> datetime.datetime:
        return datetime.datetime.now(tzlocal()) + later

    session = get_session()
    session.set_credentials("testing", "testing")
    sessions = AccountSessions(
        session,
        assume=AssumeRole(duration_seconds=3600),
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
    session = get_session()
    session.set_credentials("testing", "testing")
    management, accounts = await organization_accounts(session, endpoint_url=moto_endpoint)
    assert management == MANAGEMENT
    assert {account.id for account in accounts} == set(organization)
    assert {account.name for account in accounts} >= {"member0", "member1", "member2"}
