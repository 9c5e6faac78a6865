"""The SQLite store: one transaction a page, and runs that resume after ``kill -9``.

Everything lists a real moto server over HTTP; the store is a real file; the killed
inventory is a real ``python -m asyncpage`` process, killed with SIGKILL.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest

from _kill import kill_and_resume
from asyncpage._store import Store
from asyncpage.cli import main

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGIONS = ("us-east-1", "eu-west-1")


def seed(endpoint: str, scale: int = 1) -> int:
    """Tables, queues and parameters in two regions; how many resources in all."""
    total = 0
    for n, region in enumerate(REGIONS):
        kwargs = {"endpoint_url": endpoint, "region_name": region, **CREDENTIALS}
        ddb = boto3.client("dynamodb", **kwargs)
        sqs = boto3.client("sqs", **kwargs)
        ssm = boto3.client("ssm", **kwargs)
        for i in range(scale * (30 - 10 * n)):
            ddb.create_table(
                TableName=f"t{i:03d}",
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            )
            sqs.create_queue(QueueName=f"q{i:03d}")
            ssm.put_parameter(Name=f"/p/{i:03d}", Value=str(i), Type="String")
            total += 3
    return total


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT account, region, service, operation, id, item FROM resources "
            "ORDER BY account, region, service, operation, id"
        ).fetchall()


def summary(err: str) -> dict[str, tuple[int, int]]:
    """``{"REGION SERVICE.OPERATION": (items, pages)}`` from the summary table, and "total"."""
    lines = err.splitlines()
    top = next(n for n, line in enumerate(lines) if line.startswith("REGION "))
    found: dict[str, tuple[int, int]] = {}
    for line in lines[top + 2 :]:
        if line.startswith("---"):
            continue
        cells = line.split()
        region, operation = cells[:2]
        items, pages = cells[3:5] if region == "total" else cells[2:4]  # "total  6 sources"
        name = "total" if region == "total" else f"{region} {operation}"
        found[name] = (int(items.replace(",", "")), int(pages.replace(",", "")))
        if region == "total":
            return found
    raise AssertionError(f"no total row in {err}")


def stored_sources(db: Path, run: int) -> dict[str, tuple[int, int]]:
    """What the store counted for each source of ``run``, keyed as :func:`summary` keys rows."""
    with sqlite3.connect(db) as connection:
        found = {
            f"{region} {service}.{operation}": (items, pages)
            for region, service, operation, items, pages in connection.execute(
                "SELECT region, service, operation, items, pages FROM sources WHERE run = ?",
                (run,),
            )
        }
    found["total"] = (sum(i for i, _ in found.values()), sum(p for _, p in found.values()))
    return found


def argv(endpoint: str, db: Path, *more: str, page_size: int = 3) -> list[str]:
    return [
        "inventory", "--endpoint-url", endpoint, "--regions", ",".join(REGIONS),
        "--services", "dynamodb,sqs,ssm", "--page-size", str(page_size), "--db", str(db),
        "--no-progress", *more,
    ]  # fmt: skip


def test_db_keeps_every_resource_once_with_each_source_state(
    moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    total = seed(moto_endpoint)
    db = tmp_path / "inventory.db"

    assert main(argv(moto_endpoint, db)) == 0
    out, err = capsys.readouterr()

    assert out == ""  # --db without -o: no JSON lines
    assert f"{total:,} items in the store {db}" in err
    stored = rows(db)
    assert len(stored) == total
    sqs = {row[4] for row in stored if row[2] == "sqs" and row[1] == "us-east-1"}
    assert sqs == {f"q{i:03d}" for i in range(30)}
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        sources = connection.execute(
            "SELECT status, sum(items), count(*), max(resume_token) FROM sources GROUP BY status"
        ).fetchall()
        (finished,) = connection.execute("SELECT finished FROM runs").fetchone()
    assert sources == [("ok", total, 6, None)]
    assert finished is not None
    # A second run upserts: still one row per resource, each seen by run 2.
    assert main(argv(moto_endpoint, db)) == 0
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT DISTINCT run FROM resources").fetchall() == [(2,)]
    assert rows(db) == stored


@pytest.mark.anyio
async def test_a_page_and_its_token_commit_together_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    source = ("", "us-east-1", "sqs", "list_queues")
    async with Store(db) as store:
        await store.begin([source], resume=False)
        await store.commit_page(source, [("a", {"n": 1})], resume_token="t1", done=False)
        # The second row breaks a constraint after the first was inserted: the whole
        # page, its first row and its token included, is rolled back.
        no_id: Any = None
        with pytest.raises(sqlite3.IntegrityError):
            await store.commit_page(
                source, [("b", {"n": 2}), (no_id, {"n": 3})], resume_token="t2", done=False
            )
    async with Store(db) as store:
        resumed = await store.begin([source], resume=True)
    assert resumed.resumed and resumed.run == 1
    assert resumed.sources[source].resume_token == "t1"
    assert resumed.sources[source].items == 1
    assert [row[4] for row in rows(db)] == ["a"]


def test_kill_9_at_random_moments_then_resume_stores_every_resource_exactly_once(
    moto_endpoint: str, tmp_path: Path
) -> None:
    total = seed(moto_endpoint, scale=2)
    clean = tmp_path / "clean.db"
    assert main(argv(moto_endpoint, clean)) == 0
    expected = rows(clean)
    assert len(expected) == total

    db = tmp_path / "killed.db"
    rng_seed = random.randrange(1_000_000)
    rng = random.Random(rng_seed)
    # One item a page, two sources at a time: a listing long enough to kill in.
    slow = ("--resume", "--concurrency", "2")
    runs = kill_and_resume(
        argv(moto_endpoint, db, *slow, page_size=1),
        rng=rng,
        measure=lambda: len(rows(db)),
        midway=(db, total),
    )
    kills, status, err = runs.kills, runs.status, runs.err
    context = f"random seed {rng_seed}, kills at (seconds, rows stored) {kills}"
    assert status == 0, f"{context}: {err}"
    assert rows(db) == expected, context  # every resource, and nothing else
    with sqlite3.connect(db) as connection:
        finished = connection.execute("SELECT id FROM runs WHERE finished IS NOT NULL").fetchall()
        counted = connection.execute("SELECT sum(items) FROM sources WHERE run = 1").fetchone()
    # Run 1, resumed until finished (a kill after it finished leaves the last --resume
    # nothing to resume: it lists afresh as run 2). The items counted page by page add up
    # to the rows: no page was committed twice, none was lost.
    assert finished[0] == (1,), context
    assert counted == (total,), context
    assert any(0 < stored < total for _, stored in kills), context
    # The last attempt's summary counts the whole run, as the store does: the pages of the
    # attempts killed before it too, not only its own, beside the items of all of them.
    assert summary(err) == stored_sources(db, 1), context


def test_resume_lists_no_finished_source_again(
    moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(moto_endpoint)
    db = tmp_path / "inventory.db"

    # A run that stopped half-way: two sources finished, the others never started.
    async def half() -> None:
        async with Store(db) as store:
            sources = [
                ("", region, service, operation)
                for region in REGIONS
                for service, operation in [
                    ("dynamodb", "list_tables"),
                    ("sqs", "list_queues"),
                    ("ssm", "describe_parameters"),
                ]
            ]
            await store.begin(sources, resume=False)
            for source in sources[:2]:
                await store.commit_page(source, [("x", {})], resume_token=None, done=True)

    anyio.run(half)
    assert main(argv(moto_endpoint, db, "--resume")) == 0
    _, err = capsys.readouterr()
    assert "resuming run 1: 2 of 6 sources finished before" in err
    listed = rows(db)
    # The two finished sources kept what they had (nothing asked again); the others listed.
    assert [row[4] for row in listed if row[1] == "us-east-1" and row[2] == "dynamodb"] == ["x"]
    assert len([row for row in listed if row[2] == "ssm"]) == 30 + 20
