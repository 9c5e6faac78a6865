"""Walk alone: botocore's paging loop over cursors, against a fake fetch (no HTTP).

The end-to-end behaviour (against boto3, over HTTP) is in test_differential.py and
test_iterator.py; here are the rules that need many pages or exact control of what each
page holds, in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

import asyncpage
from asyncpage._cursor import Cursor
from asyncpage._model import PagingModel
from asyncpage._walk import Step, Walk

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def model() -> PagingModel:
    """DynamoDB ListBackups: one input token, one result key, a limit key."""
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return PagingModel.for_client(client, "list_backups")


class Pages:
    """A scripted listing: page i answers the token of page i-1; counts requests."""

    def __init__(self, pages: list[tuple[list[str], str | None]]) -> None:
        self.by_token: dict[str | None, tuple[list[str], str | None]] = {}
        token: str | None = None
        for items, next_token in pages:
            self.by_token.setdefault(token, (items, next_token))
            token = next_token
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, params: dict[str, Any], cursor: Cursor) -> dict[str, Any]:
        self.requests.append(params)
        items, next_token = self.by_token[params.get("ExclusiveStartBackupArn")]
        page: dict[str, Any] = {"BackupSummaries": [{"BackupName": n} for n in items]}
        if next_token is not None:
            page["LastEvaluatedBackupArn"] = next_token
        return page


def walk(model: PagingModel, fetch: Pages, *, start: Cursor | None = None, **kw: Any) -> Walk:
    return Walk(
        model,
        {},
        start=start or Cursor((("ExclusiveStartBackupArn", None),)),
        page_size=kw.get("page_size"),
        max_items=kw.get("max_items"),
        fetch=fetch,
    )


async def steps_of(w: Walk) -> list[Step]:
    steps = []
    while (step := await w.next_page()) is not None:
        steps.append(step)
    return steps


def names(steps: list[Step]) -> list[str]:
    return [s["BackupName"] for step in steps for s in step.page["BackupSummaries"]]


def chain(n: int, per_page: int) -> Iterator[tuple[list[str], str | None]]:
    for i in range(n):
        items = [f"p{i}-{j}" for j in range(per_page)]
        yield items, (f"t{i + 1}" if i < n - 1 else None)


async def test_a_cycle_longer_than_the_exact_window_is_caught_by_the_anchor(
    model: PagingModel,
) -> None:
    # 1,100 pages, then back to the second: past the 256 exact tokens.
    laps = 1100
    script: list[tuple[list[str], str | None]] = [([f"p{i}"], f"t{i + 1}") for i in range(laps - 1)]
    script.append(([f"p{laps - 1}"], "t1"))
    fetch = Pages(script)
    w = walk(model, fetch)
    delivered: list[Step] = []
    with pytest.raises(asyncpage.TokenCycleError) as caught:
        while (step := await w.next_page()) is not None:
            delivered.append(step)
    got = names(delivered)
    assert got[:laps] == [f"p{i}" for i in range(laps)]  # every page once...
    assert len(got) < 3 * laps  # ...then at most one more lap before the anchor
    assert caught.value.resume_token is not None
    assert len(fetch.requests) == len(delivered)  # no page fetched after the error


async def test_every_cycle_up_to_the_window_is_caught_before_a_page_comes_twice(
    model: PagingModel,
) -> None:
    for length in (1, 2, 3, 17, 255):
        script: list[tuple[list[str], str | None]] = [
            ([f"p{i}"], f"t{i + 1}") for i in range(length)
        ]
        script.append((["back"], "t1"))
        w = walk(model, Pages(script))
        delivered: list[Step] = []
        with pytest.raises(asyncpage.TokenCycleError):
            while (step := await w.next_page()) is not None:
                delivered.append(step)
        assert len(names(delivered)) == len(set(names(delivered))) == length + 1, length


async def test_a_skip_carries_across_pages_shorter_than_it(model: PagingModel) -> None:
    fetch = Pages(list(chain(6, 3)))
    everything = names(await steps_of(walk(model, fetch)))
    for skip in range(0, 19):
        start = Cursor((("ExclusiveStartBackupArn", None),), skip)
        steps = await steps_of(walk(model, Pages(list(chain(6, 3))), start=start))
        assert names(steps) == everything[skip:], skip
        # Each step's position after each item resumes exactly at the next item.
        taken = skip
        for step in steps:
            for k in range(step.item_count + 1):
                position = step.after_taking(k)
                if position is None:
                    assert taken + k == len(everything)
                    continue
                rest = await steps_of(walk(model, Pages(list(chain(6, 3))), start=position))
                assert names(rest) == everything[taken + k :], (skip, taken, k)
            taken += step.item_count


async def test_max_items_cuts_and_its_token_resumes_after_what_was_delivered(
    model: PagingModel,
) -> None:
    everything = names(await steps_of(walk(model, Pages(list(chain(5, 4))))))
    for max_items in range(1, 21):
        steps = await steps_of(walk(model, Pages(list(chain(5, 4))), max_items=max_items))
        assert names(steps) == everything[:max_items]
        last = steps[-1]
        assert last.last
        assert last.exhausted == (max_items >= len(everything))
        if last.after is not None:
            rest = await steps_of(walk(model, Pages(list(chain(5, 4))), start=last.after))
            assert names(rest) == everything[max_items:], max_items


async def test_a_failed_fetch_leaves_the_walk_on_the_page_not_fetched(model: PagingModel) -> None:
    fetch = Pages(list(chain(3, 2)))
    w = walk(model, fetch)
    first = await w.next_page()
    assert first is not None
    failing = True

    async def flaky(params: dict[str, Any], cursor: Cursor) -> dict[str, Any]:
        if failing:
            raise asyncpage.PageFetchError(
                "down", error=RuntimeError(), resume_token=cursor.encode(), attempts=1
            )
        return await fetch(params, cursor)

    w2 = Walk(model, {}, start=w.cursor or first.at, page_size=None, max_items=None, fetch=flaky)
    with pytest.raises(asyncpage.PageFetchError):
        await w2.next_page()
    assert w2.cursor == first.after  # not moved
    failing = False
    assert (
        names(await steps_of(w2))
        == names(await steps_of(walk(model, Pages(list(chain(3, 2))))))[2:]
    )
