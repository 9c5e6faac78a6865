"""How a fan-out source ended: :class:`Outcome`, and the verdict on the error that ended it.

Errors are data at the edges: an error from AWS (through botocore) or from asyncpage itself
ends its source with an outcome, ``"skipped"`` when it means the source cannot run here
(its code is in ``skip_codes``, or the service has no endpoint in the region) and
``"failed"`` otherwise. Anything else is a bug (in a source factory, say) and is raised,
not recorded: see :func:`is_service_error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from botocore.exceptions import BotoCoreError, ClientError

from ._errors import AsyncPageError, PageFetchError
from ._iterator import PageStatistics
from ._retry import endpoint_missing, error_code

__all__ = [
    "DEFAULT_SKIP_CODES",
    "Ending",
    "Outcome",
    "OutcomeStatus",
    "is_service_error",
    "judge",
]

OutcomeStatus = Literal["ok", "skipped", "failed", "cancelled", "pending"]

#: Error codes that mean "this source cannot run in this account or region", not "it broke".
#: A frozenset: extend it with ``DEFAULT_SKIP_CODES | {"MyCode"}``.
DEFAULT_SKIP_CODES: Final[frozenset[str]] = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "AuthorizationError",
        "InvalidClientTokenId",
        "OptInRequired",
        "SubscriptionRequiredException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one source of a fan-out ended (or how far it has got, while ``"pending"``)."""

    status: OutcomeStatus
    pages: int = 0
    """Pages of this source you received."""
    items: int = 0
    """Items under the primary result key in those pages."""
    error: BaseException | None = None
    """Why it failed or was skipped: usually a :class:`~asyncpage.PageFetchError`."""
    resume_token: str | None = None
    """Where to continue: ``PaginationConfig={"StartingToken": resume_token}``."""
    reason: str | None = None
    """For ``"skipped"``: the error code (or botocore error name) that caused the skip."""
    statistics: PageStatistics = field(default_factory=PageStatistics)
    """The source iterator's own statistics (requests, retries, throttles...)."""
    seconds: float = 0.0
    """Wall time from the source's start to its end (or to now, while it runs)."""


@dataclass(frozen=True, slots=True)
class Ending:
    """How a source's run ended, before the consumer has taken its pages."""

    status: Literal["ok", "skipped", "failed"]
    error: BaseException | None = None
    resume_token: str | None = None
    reason: str | None = None


OK: Final = Ending("ok")


def is_service_error(error: BaseException) -> bool:
    """True for what a fan-out records as an outcome: errors of AWS, botocore or asyncpage.

    Anything else (a ``TypeError`` in a source factory...) is a bug to raise, not a
    "failed" to file away.
    """
    return isinstance(error, (AsyncPageError, BotoCoreError, ClientError))


def judge(
    error: BaseException,
    *,
    delivered: int,
    skip_codes: frozenset[str],
    resume_token: str | None,
) -> Ending:
    """The outcome of a source that met ``error`` after ``delivered`` pages.

    "Not here" is a verdict about a source that never ran: one that delivered pages and
    then met AccessDenied is a partial listing, a failure to resume.
    """
    resume_token = getattr(error, "resume_token", resume_token)
    if delivered:
        return Ending("failed", error, resume_token)
    cause = error.error if isinstance(error, PageFetchError) else error
    code = error_code(cause)
    if code is not None and code in skip_codes:
        return Ending("skipped", error, resume_token, code)
    if endpoint_missing(cause):
        return Ending("skipped", error, resume_token, type(cause).__name__)
    return Ending("failed", error, resume_token)
