"""``asyncpage inventory --ranges N``: a bucket listed over key ranges, into the store.

Against moto (exact equality with boto3's own paginator) and against
:class:`~asyncpage.testing.ListObjectsServer` (the real wire format, fast enough to list
thousands of keys with latency, and to kill a real ``python -m asyncpage`` process in the
middle of it with SIGKILL). Each range's token is kept in the store with every page, so a
range that failed, or a run that was killed, goes on from where each range stopped.
"""

from __future__ import annotations

import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest

from _kill import kill_and_resume
from asyncpage import PageFetchError, Retry, parallel_list_objects
from asyncpage._inventory import Inventory, listing_for, plan_targets
from asyncpage._regions import ClientPool
from asyncpage._s3 import KeyRange, decode_ranges, encode_ranges
from asyncpage._store import Store
from asyncpage.cli import main
from asyncpage.testing import FaultProxyFactory, ListObjectsServer, MotoServer
from conftest import client_config

BUCKET = "bucket"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def keys_of(n: int) -> list[str]:
    """Keys under a few prefixes, most under one (a skewed bucket), and a unicode one."""
    return sorted(
        [f"logs/2026/{i:05d}.gz" for i in range(n * 3 // 4)]
        + [f"img/{i % 7}/ключ-{i}.png" for i in range(n - n * 3 // 4)]
    )


def argv(endpoint: str, db: Path, *more: str) -> list[str]:
    return [
        "inventory", "--endpoint-url", endpoint, "--regions", REGION,
        "--operation", "s3:list_objects_v2", "--param", f"Bucket={BUCKET}",
        "--db", str(db), "--no-progress", *more,
    ]  # fmt: skip


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT account, region, service, operation, id, item FROM resources ORDER BY id"
        ).fetchall()


def source_row(db: Path, run: int = 1) -> tuple[Any, ...]:
    with sqlite3.connect(db) as connection:
        found = connection.execute(
            "SELECT status, pages, items, resume_token, error FROM sources WHERE run = ?", (run,)
        ).fetchall()
    assert len(found) == 1, found  # a bucket split over ranges is still one source
    return tuple(found[0])


def test_ranges_store_exactly_what_one_chain_lists_on_moto(
    moto_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, **CREDENTIALS)
    s3.create_bucket(Bucket=BUCKET)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=BUCKET, Key=k, Body=b""), keys_of(400)))
    oracle = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for obj in page.get("Contents", [])
    ]

    chain, split = tmp_path / "chain.db", tmp_path / "split.db"
    assert main(argv(moto_endpoint, chain, "--page-size", "40")) == 0
    assert main(argv(moto_endpoint, split, "--page-size", "40", "--ranges", "6")) == 0
    capsys.readouterr()

    got = rows(split)
    assert [row[4] for row in got] == sorted(oracle) and len(oracle) == 400
    assert got == rows(chain)  # the same records, item for item (sizes, ETags, times)
    status, pages, items, token, error = source_row(split)
    assert (status, items, token, error) == ("ok", 400, None, None)
    assert pages > 400 // 40  # the first page and its ranges' own pages: more than a chain


@pytest.mark.anyio
async def test_a_range_failing_mid_way_resumes_from_its_token_nothing_lost_or_repeated(
    fault_proxy_factory: FaultProxyFactory,
    tmp_path: Path,
    aws_credentials: None,
    anyio_backend: str,
) -> None:
    keys = keys_of(800)
    db = tmp_path / "inventory.db"
    listing = replace(listing_for("s3:list_objects_v2", [f"Bucket={BUCKET}"]), ranges=4)
    targets = plan_targets([listing], {"s3": [REGION]}, home_region=REGION)
    config = client_config(anyio_backend, retries={"mode": "standard", "total_max_attempts": 1})
    with ListObjectsServer(keys, bucket=BUCKET) as aws:
        proxy = fault_proxy_factory(aws.endpoint_url)
        written: list[str] = []

        def write(records: list[dict[str, Any]]) -> None:
            written.extend(record["id"] for record in records)
            if len(written) >= 300 and not proxy.counters.errors and not proxy.pending:
                proxy.fail_next(3, "error", code="InternalError", status=500)

        async def attempt(resume: bool) -> Inventory:
            async with (
                ClientPool(endpoint_url=proxy.endpoint_url, config=config) as pool,
                Store(db) as store,
            ):
                begun = await store.begin([t.key.stored for t in targets], resume=resume)
                inventory = Inventory(
                    targets,
                    pool=pool,
                    write=write,
                    page_size=20,
                    retry=Retry(attempts=1),
                    store=store,
                    stored=begun.sources,
                )
                await inventory.run()
            return inventory

        first = await attempt(resume=False)
        (state,) = first.states()
        assert state.status == "failed", state
        assert state.error is not None and "key ranges failed" in state.error
        assert 300 <= len(written) < len(keys)
        status, _, items, token, _ = source_row(db)
        assert (status, items) == ("failed", len(written))
        assert token is not None
        left = decode_ranges(token)
        assert left and len(left) < len(first.plans[state.key].ranges)  # some ranges done
        assert any(t is not None for t in left.values()), "no range failed mid-way"

        proxy.clear()  # the faults not met yet
        requests_before, keys_left = aws.requests, len(keys) - len(written)
        second = await attempt(resume=True)
        (state,) = second.states()
        assert state.status == "ok", state
        assert not second.plans  # resumed from the stored ranges: no new plan
        # Only the ranges left were listed again, each from its token.
        assert aws.requests - requests_before <= keys_left // 20 + 2 * len(left)
    assert sorted(written) == keys  # every key delivered once: nothing lost or repeated
    assert [row[4] for row in rows(db)] == keys
    status, _, items, token, _ = source_row(db)
    assert (status, items, token) == ("ok", len(keys), None)


def test_kill_9_at_random_moments_then_resume_each_range_from_its_token(
    tmp_path: Path, aws_credentials: None
) -> None:
    keys = keys_of(2000)
    clean, db = tmp_path / "clean.db", tmp_path / "killed.db"
    slow = ("--page-size", "10", "--ranges", "4")
    rng_seed = random.randrange(1_000_000)
    rng = random.Random(rng_seed)
    with ListObjectsServer(keys, bucket=BUCKET, latency=0.02) as aws:
        assert main(argv(aws.endpoint_url, clean, *slow)) == 0
        expected = rows(clean)
        assert len(expected) == len(keys)

        tokens: list[str] = []  # the source's token at each kill
        finished: list[int] = []  # the runs finished at each kill...
        started: list[int] = []  # ...and begun

        def measure() -> int:
            token = source_row(db)[3]
            if token is not None:
                tokens.append(token)
            with sqlite3.connect(db) as connection:
                finished.append(
                    connection.execute(
                        "SELECT count(*) FROM runs WHERE finished IS NOT NULL"
                    ).fetchone()[0]
                )
                started.append(connection.execute("SELECT count(*) FROM runs").fetchone()[0])
            return len(rows(db))

        runs = kill_and_resume(
            [*argv(aws.endpoint_url, db, *slow), "--resume"],
            rng=rng,
            measure=measure,
            delay=(0.1, 1.2),
            midway=(db, len(keys)),
        )
    kills = runs.kills
    context = f"random seed {rng_seed}, kills at (seconds, rows stored) {kills}"
    assert runs.status == 0, f"{context}: {runs.err}"
    assert rows(db) == expected, context  # every object, and nothing else
    status, _, items, token, _ = source_row(db)
    # The items counted page by page add up to the rows: no page committed twice.
    assert (status, items, token) == ("ok", len(keys), None), context
    assert any(0 < stored < len(keys) for _, stored in kills), context
    # Killed half-way, the store held a token per range left, not one chain's token.
    assert any(decode_ranges(t) for t in tokens), context
    # The last attempt resumed the run the last kill cut short: run 1, unless a kill
    # landed after a run had finished (its process still ending): the next attempt then
    # began a new run.
    if started[-1] > finished[-1]:
        assert f"resuming run {started[-1]}:" in runs.store_line, context
    else:
        assert f": run {started[-1] + 1} (no unfinished run" in runs.store_line, context


def test_ranges_need_a_listing_of_s3_objects_and_one_process(
    moto_server: MotoServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint, db = moto_server.endpoint_url, tmp_path / "x.db"
    for command, message in [
        (
            ["inventory", "--endpoint-url", endpoint, "--services", "sqs", "--ranges", "4"],
            "--ranges splits listings of S3 objects",
        ),
        (argv(endpoint, db, "--ranges", "4", "--workers", "2"), "--ranges lists in one process"),
        (
            argv(endpoint, db, "--param", "ContinuationToken=abc", "--ranges", "4"),
            "--ranges: drop ContinuationToken",
        ),
    ]:
        assert main(command) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_a_token_of_ranges_reads_back_and_is_never_mistaken_for_botocores() -> None:
    ranges = {
        KeyRange(None, "k/1"): None,
        KeyRange("k/1", "ключ"): "eyJD",
        KeyRange("ключ", None): None,
    }
    token = encode_ranges(ranges)
    assert decode_ranges(token) == ranges
    assert list(decode_ranges(token) or {}) == list(ranges)  # in key order, as stored
    # botocore's tokens (base64 of JSON) and other JSON are not ours: None, not an error.
    assert decode_ranges("eyJDb250aW51YXRpb25Ub2tlbiI6ICJNekl3In0=") is None
    assert decode_ranges('{"ContinuationToken": "x"}') is None
    for bad in ('[["a","b"]]', "[]", '[["b","a",null]]'):
        with pytest.raises(ValueError, match="not a well-formed token of key ranges"):
            decode_ranges(f'{{"format":"asyncpage.ranges/1","ranges":{bad}}}')


def refusing(keys: list[str], *parameters: str) -> ListObjectsServer:
    """A bucket that answers 403 AccessDenied to requests with these query parameters."""
    server = ListObjectsServer(keys, bucket=BUCKET)
    server.deny(*parameters)
    return server


def folders(n: int) -> list[str]:
    return sorted(f"logs/2026/{i % 30 + 1:02d}/{i // 30 % 24:02d}/{i:06d}.gz" for i in range(n))


@pytest.mark.anyio
async def test_a_refused_folder_listing_is_raised_as_a_page_fetch_error(
    make_client: Any,
) -> None:
    with refusing(folders(3000), "delimiter") as aws:
        s3 = await make_client("s3", aws.endpoint_url)
        with pytest.raises(PageFetchError) as caught:  # one error, not an ExceptionGroup
            async with parallel_list_objects(
                s3, Bucket=BUCKET, shards=4, PaginationConfig={"PageSize": 50}
            ):
                pass  # pragma: no cover
        assert "AccessDenied" in str(caught.value)


def test_with_ranges_a_refused_plan_fails_its_source_and_a_refused_bucket_is_skipped(
    tmp_path: Path, aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    for refused, status in [("delimiter", "failed"), ("list-type", "skipped")]:
        db = tmp_path / f"{status}.db"
        with refusing(folders(3000), refused) as aws:
            code = main(argv(aws.endpoint_url, db, "--page-size", "50", "--ranges", "4"))
        err = capsys.readouterr().err
        assert code == 1, err  # not a crash: the summary says what happened
        stored = source_row(db)
        assert stored[0] == status, (stored, err)
        assert "AccessDenied" in (stored[4] or ""), stored
        # As a plain listing reports its refused first page: skipped, "not here".
        with refusing(folders(3000), refused) as aws:
            plain = tmp_path / f"plain-{status}.db"
            main(argv(aws.endpoint_url, plain, "--page-size", "50"))
        capsys.readouterr()
        if status == "skipped":
            assert source_row(plain)[0] == "skipped"


def test_a_run_stored_over_ranges_resumes_in_one_process_only(
    tmp_path: Path, aws_credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = folders(1200)
    db = tmp_path / "inventory.db"
    source = ("", REGION, "s3", "list_objects_v2")
    middle = keys[len(keys) // 2]
    token = encode_ranges({KeyRange(None, middle): None, KeyRange(middle, None): None})

    async def stopped() -> None:  # a run killed before its first page was committed
        async with Store(db) as store:
            await store.begin([source], resume=False)
            await store.commit_page(source, [], resume_token=token, done=False)

    anyio.run(stopped)
    with ListObjectsServer(keys, bucket=BUCKET) as aws:
        # Workers do not read tokens of ranges: refused, not listed from zero or forever.
        assert main(argv(aws.endpoint_url, db, "--resume", "--workers", "2")) == 2
        assert "listed in one process: drop --workers/--dask" in capsys.readouterr().err
        assert aws.requests == 0
        # Without --ranges the stored ranges still decide: each listed from its token.
        assert main(argv(aws.endpoint_url, db, "--resume", "--page-size", "100")) == 0
        capsys.readouterr()
    assert [row[4] for row in rows(db)] == keys
    status, _, items, token, _ = source_row(db)
    assert (status, items, token) == ("ok", len(keys), None)
