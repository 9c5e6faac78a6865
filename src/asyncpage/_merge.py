"""The three orders in which a fan-out hands out its sources' pages.

Each order is told when a source starts, when a page of it arrives and when it is settled
(every page taken), and :meth:`pick` names the source whose page is next, or ``None`` if
that page is not here yet:

* :class:`Completed`: pages as they arrive, from any source;
* :class:`BySource`: every page of the first source, then of the second, ... exactly as a
  loop over the sources would (later sources still fetch ahead, within their buffer);
* :class:`RoundRobin`: one page from each running source in turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["BySource", "Completed", "Merge", "MergeSource", "RoundRobin"]


class MergeSource(Protocol):
    @property
    def has_page(self) -> bool:
        """A page of it is waiting to be taken."""
        ...

    @property
    def settled(self) -> bool:
        """Every page of it was taken: it has nothing more to give."""
        ...


S = TypeVar("S", bound=MergeSource)


class Merge(Protocol[S]):
    def started(self, source: S) -> None: ...
    def arrived(self, source: S) -> None: ...
    def settled(self, source: S) -> None: ...
    def pick(self) -> S | None: ...


class Completed(Generic[S]):
    """Pages as they arrive."""

    def __init__(self) -> None:
        self._arrivals: deque[S] = deque()  # one entry per page waiting

    def started(self, source: S) -> None:
        pass

    def arrived(self, source: S) -> None:
        self._arrivals.append(source)

    def settled(self, source: S) -> None:
        pass

    def pick(self) -> S | None:
        return self._arrivals.popleft() if self._arrivals else None


class BySource(Generic[S]):
    """Every page of one source before any page of the next."""

    def __init__(self, sources: Sequence[S]) -> None:
        self._sources = sources
        self._current = 0

    def started(self, source: S) -> None:
        pass

    def arrived(self, source: S) -> None:
        pass

    def settled(self, source: S) -> None:
        pass

    def pick(self) -> S | None:
        sources = self._sources
        while self._current < len(sources) and sources[self._current].settled:
            self._current += 1
        if self._current == len(sources):
            return None
        source = sources[self._current]
        return source if source.has_page else None


class RoundRobin(Generic[S]):
    """One page from each running source in turn."""

    def __init__(self) -> None:
        self._rotation: deque[S] = deque()  # running sources, next first

    def started(self, source: S) -> None:
        self._rotation.append(source)

    def arrived(self, source: S) -> None:
        pass

    def settled(self, source: S) -> None:
        if source in self._rotation:
            self._rotation.remove(source)

    def pick(self) -> S | None:
        if not self._rotation:
            return None
        source = self._rotation[0]
        if not source.has_page:
            return None
        self._rotation.rotate(-1)
        return source
