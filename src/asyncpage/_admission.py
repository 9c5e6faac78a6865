"""Admission: which fan-out sources may start now.

At most ``concurrency`` sources run at once in all, and at most ``per_endpoint`` per
endpoint (what AWS rate-limits together: a service in a region of one account). Sources start in the
order given as slots free up; one whose endpoint is full waits, and so does every later
source of that endpoint (first come, first served), while later sources of other
endpoints go ahead. The caps are :class:`anyio.CapacityLimiter` objects, borrowed on
behalf of each running source.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from typing import Any, Final

import anyio

__all__ = ["NO_ENDPOINT", "Admission", "Endpoint", "endpoint_of", "record_account"]

#: What AWS rate-limits together: (account id, service name, region name) of a source's
#: client. The account is ``None`` unless the client was made for a named account.
Endpoint = tuple[str | None, str | None, str | None]
NO_ENDPOINT: Final[Endpoint] = (None, None, None)

# The account each client was made for, as whoever made it recorded it (asyncpage's
# ClientPool does). Weak: a closed and dropped client leaves nothing behind. A client does
# not say which account its credentials belong to without a request (STS
# GetCallerIdentity), so the maker, which knows, tells.
_ACCOUNTS: Final[weakref.WeakKeyDictionary[Any, str]] = weakref.WeakKeyDictionary()


def record_account(client: Any, account: str) -> None:
    """Say that ``client``'s requests count against ``account``'s rate limits.

    Sources whose clients are recorded for different accounts never share a cap or a
    backoff gate, even in the same service and region.
    """
    _ACCOUNTS[client] = account


def endpoint_of(client: Any) -> Endpoint:
    """The endpoint a client's requests count against: (account, service, region)."""
    meta = getattr(client, "meta", None)
    try:
        account = _ACCOUNTS.get(client)
    except TypeError:  # not weakly referenceable: not a client made for an account
        account = None
    return (
        account,
        getattr(getattr(meta, "service_model", None), "service_name", None),
        getattr(meta, "region_name", None),
    )


class Admission:
    """The global and per-endpoint caps of one fan-out."""

    def __init__(self, concurrency: int, per_endpoint: int | None) -> None:
        self._all = anyio.CapacityLimiter(concurrency)
        self._per_endpoint = per_endpoint
        self._endpoints: dict[Endpoint, anyio.CapacityLimiter] = {}
        self._ended = 0
        self._changed = anyio.Event()

    @property
    def has_room(self) -> bool:
        """A source may start somewhere (the global cap is not reached)."""
        return self._all.available_tokens >= 1

    def has_room_at(self, endpoint: Endpoint) -> bool:
        return self.has_room and self._limiter(endpoint).available_tokens >= 1

    def start(self, borrower: Hashable, endpoint: Endpoint) -> None:
        """Take a slot for ``borrower`` (``has_room_at(endpoint)`` must be true)."""
        self._all.acquire_on_behalf_of_nowait(borrower)
        self._limiter(endpoint).acquire_on_behalf_of_nowait(borrower)

    def end(self, borrower: Hashable, endpoint: Endpoint) -> None:
        """Give back ``borrower``'s slots, and wake :meth:`wait_for_room`."""
        self._limiter(endpoint).release_on_behalf_of(borrower)
        self._all.release_on_behalf_of(borrower)
        self._ended += 1
        self._changed.set()

    @property
    def ended(self) -> int:
        """How many sources have given their slots back (to notice one ending mid-pass)."""
        return self._ended

    async def wait_for_room(self, ended: int) -> None:
        """Wait until a source has ended since :attr:`ended` read ``ended``."""
        if self._ended != ended:
            return
        self._changed = anyio.Event()
        await self._changed.wait()

    def _limiter(self, endpoint: Endpoint) -> anyio.CapacityLimiter:
        limiter = self._endpoints.get(endpoint)
        if limiter is None:
            cap = self._per_endpoint
            limiter = self._endpoints[endpoint] = anyio.CapacityLimiter(
                cap if cap is not None else float("inf")
            )
        return limiter
