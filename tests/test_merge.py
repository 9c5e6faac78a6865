"""The three merge orders of fan_out, alone: which source's page is handed out next."""

from __future__ import annotations

from dataclasses import dataclass

from asyncpage._merge import BySource, Completed, RoundRobin


@dataclass(eq=False)
class Source:
    name: str
    pages: int = 0
    settled: bool = False

    @property
    def has_page(self) -> bool:
        return self.pages > 0


def take(order: Completed[Source] | BySource[Source] | RoundRobin[Source]) -> str | None:
    source = order.pick()
    if source is None:
        return None
    source.pages -= 1
    return source.name


def test_completed_hands_out_pages_in_arrival_order() -> None:
    a, b = Source("a"), Source("b")
    order: Completed[Source] = Completed()
    for source in (b, a, b):
        source.pages += 1
        order.arrived(source)
    assert [take(order) for _ in range(4)] == ["b", "a", "b", None]


def test_by_source_waits_for_the_current_source_until_it_is_settled() -> None:
    a, b = Source("a"), Source("b", pages=2)
    order = BySource([a, b])
    assert take(order) is None  # a's page is not here yet, though b has two
    a.pages = 1
    assert take(order) == "a"
    a.settled = True
    order.settled(a)
    assert [take(order), take(order), take(order)] == ["b", "b", None]


def test_round_robin_takes_one_page_from_each_running_source_in_turn() -> None:
    a, b, c = Source("a", pages=2), Source("b", pages=1), Source("c", pages=2)
    order: RoundRobin[Source] = RoundRobin()
    for source in (a, b, c):
        order.started(source)
    assert [take(order), take(order), take(order)] == ["a", "b", "c"]
    b.settled = True
    order.settled(b)
    assert [take(order), take(order)] == ["a", "c"]
    # The next in turn (a) has no page yet: nothing, even though c has one.
    c.pages = 1
    assert take(order) is None
    a.pages = 1
    assert [take(order), take(order)] == ["a", "c"]
