"""The public surface: one sorted ``__all__``, every name real, one exception tree."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import re

import pytest
from botocore.exceptions import BotoCoreError, OperationNotPageableError, PaginationError

import asyncpage
from asyncpage import _errors

PUBLIC = [
    "AsyncPageError",
    "AsyncPageIterator",
    "BackoffGate",
    "ClientPool",
    "Cursor",
    "DEFAULT_SKIP_CODES",
    "FanOut",
    "InvalidExpressionError",
    "InvalidExpressionTypeError",
    "InvalidPaginationConfigError",
    "InvalidPaginationConfigTypeError",
    "InvalidPaginationError",
    "InvalidPaginationTypeError",
    "InvalidStartingTokenError",
    "InvalidStartingTokenTypeError",
    "KeyRange",
    "ListingPlan",
    "ObjectListing",
    "OperationNotPaginatedError",
    "OperationNotPaginatedTypeError",
    "Outcome",
    "PageFetchError",
    "PageStatistics",
    "PaginatorLike",
    "PagingModel",
    "Retry",
    "Tagged",
    "TokenCycleError",
    "__version__",
    "classify",
    "fan_out",
    "paginate",
    "paginated_operations",
    "parallel_list_objects",
    "parallel_scan",
    "regions_for",
    "set_testing",
]

#: Each kind of bad input, and its variant for an argument of the wrong type.
KINDS: dict[type[asyncpage.InvalidPaginationError], type[asyncpage.InvalidPaginationError]] = {
    asyncpage.InvalidPaginationError: asyncpage.InvalidPaginationTypeError,
    asyncpage.OperationNotPaginatedError: asyncpage.OperationNotPaginatedTypeError,
    asyncpage.InvalidPaginationConfigError: asyncpage.InvalidPaginationConfigTypeError,
    asyncpage.InvalidStartingTokenError: asyncpage.InvalidStartingTokenTypeError,
    asyncpage.InvalidExpressionError: asyncpage.InvalidExpressionTypeError,
}
INVALID_INPUT: list[type[asyncpage.InvalidPaginationError]] = [*KINDS, *KINDS.values()]
FAILURES: list[type[asyncpage.AsyncPageError]] = [
    asyncpage.TokenCycleError,
    asyncpage.PageFetchError,
]
#: asyncpage errors that are also the botocore error botocore raises in their place.
ALSO_BOTOCORE = {
    asyncpage.InvalidPaginationConfigError: PaginationError,
    asyncpage.InvalidStartingTokenError: PaginationError,
    asyncpage.TokenCycleError: PaginationError,
    asyncpage.OperationNotPaginatedError: OperationNotPageableError,
}


def test_all_is_pinned_and_sorted() -> None:
    assert asyncpage.__all__ == PUBLIC
    assert sorted(asyncpage.__all__) == asyncpage.__all__
    assert len(set(asyncpage.__all__)) == len(asyncpage.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(asyncpage, name)
    if name == "DEFAULT_SKIP_CODES":
        assert isinstance(value, frozenset)
        assert "AccessDenied" in value
    elif name != "__version__":
        # Defined in a private module, re-exported here; exceptions under the package's name.
        if isinstance(value, type) and issubclass(value, BaseException):
            assert value.__module__ == "asyncpage", value.__module__
        else:
            assert value.__module__.startswith("asyncpage._"), value.__module__


def test_tracebacks_and_pickles_name_errors_by_their_public_name() -> None:
    import pickle
    import traceback
    import typing

    import asyncpage.fastapi

    error = asyncpage.InvalidPaginationConfigError("bad")
    shown = "".join(traceback.format_exception_only(error))
    assert shown.startswith("asyncpage.InvalidPaginationConfigError: bad"), shown
    tampered = asyncpage.fastapi.CursorTamperedError("no")
    assert repr(type(tampered)) == "<class 'asyncpage.fastapi.CursorTamperedError'>"
    fetch = asyncpage.PageFetchError("x", error=ValueError("y"), resume_token="t", attempts=2)
    for value in (error, tampered, fetch):
        assert b"asyncpage._" not in pickle.dumps(type(value))
        assert str(pickle.loads(pickle.dumps(value))) == str(value)
    # Annotations still resolve although each class names another module than its own.
    for name in [*PUBLIC, *asyncpage.fastapi.__all__]:
        value = getattr(asyncpage, name, None) or getattr(asyncpage.fastapi, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            typing.get_type_hints(value)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from asyncpage import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)


def test_no_public_module_besides_the_integrations() -> None:
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(asyncpage.__path__)}
    public = {name for name in modules if not name.startswith("_")}
    assert public <= {"cli", "cluster", "fastapi", "speedups", "testing"}, public


def test_speedups_exports_what_its_docs_name() -> None:
    import asyncpage.speedups

    assert asyncpage.speedups.__all__ == [
        "FAST_OUTPUTS",
        "install",
        "installed",
        "parse_timestamp",
        "statistics",
    ]


def test_cluster_exports_its_entry_point() -> None:
    import asyncpage.cluster

    assert asyncpage.cluster.__all__ == ["inventory"]


def test_version_is_a_string() -> None:
    assert isinstance(asyncpage.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+(\S*)", asyncpage.__version__)


def test_every_error_is_an_asyncpage_error() -> None:
    errors = [
        getattr(asyncpage, name)
        for name in PUBLIC
        if inspect.isclass(getattr(asyncpage, name))
        and issubclass(getattr(asyncpage, name), BaseException)
    ]
    assert set(errors) == {asyncpage.AsyncPageError, *INVALID_INPUT, *FAILURES}
    for error in errors:
        assert issubclass(error, asyncpage.AsyncPageError)
        assert issubclass(error, Exception)
    # The private module defines no error the package does not export.
    defined = {
        obj
        for obj in vars(_errors).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__.startswith("asyncpage")  # not botocore's, imported there
    }
    assert defined == set(errors)


@pytest.mark.parametrize("error", INVALID_INPUT, ids=lambda e: e.__name__)
def test_invalid_input_errors_are_value_errors(error: type[Exception]) -> None:
    assert issubclass(error, ValueError)
    assert issubclass(error, asyncpage.InvalidPaginationError)


@pytest.mark.parametrize(("kind", "wrong_type"), KINDS.items(), ids=lambda e: e.__name__)
def test_each_kind_has_a_type_error_variant(
    kind: type[Exception], wrong_type: type[Exception]
) -> None:
    # except <kind> catches both; except TypeError only the wrong types; except ValueError
    # every bad input, as before.
    assert issubclass(wrong_type, kind)
    assert issubclass(wrong_type, asyncpage.InvalidPaginationTypeError)
    assert issubclass(wrong_type, TypeError)
    assert issubclass(wrong_type, ValueError)
    assert not issubclass(kind, TypeError)
    assert wrong_type.__name__ == kind.__name__.removesuffix("Error") + "TypeError"


@pytest.mark.parametrize("error", FAILURES, ids=lambda e: e.__name__)
def test_failures_are_not_value_errors(error: type[Exception]) -> None:
    assert not issubclass(error, ValueError)
    assert not issubclass(error, TypeError)
    assert not issubclass(error, asyncpage.InvalidPaginationError)


@pytest.mark.parametrize(("error", "botocore_error"), ALSO_BOTOCORE.items(), ids=repr)
def test_errors_botocore_raises_in_their_place_are_botocores_too(
    error: type[Exception], botocore_error: type[Exception]
) -> None:
    assert issubclass(error, botocore_error)
    for subclass in [*INVALID_INPUT, *FAILURES]:
        if issubclass(subclass, error):
            assert issubclass(subclass, botocore_error)


def test_only_those_are_botocore_errors() -> None:
    also = [e for e in [*INVALID_INPUT, *FAILURES] if issubclass(e, BotoCoreError)]
    assert all(any(issubclass(e, k) for k in ALSO_BOTOCORE) for e in also)
    assert not issubclass(asyncpage.PageFetchError, BotoCoreError)  # its .error is botocore's
    assert not issubclass(asyncpage.InvalidPaginationError, BotoCoreError)


def examples() -> list[Exception]:
    cause = RuntimeError("boom")
    made: list[Exception] = [
        asyncpage.PageFetchError("m", error=cause, resume_token="t", attempts=3),
        asyncpage.TokenCycleError("m", resume_token="t"),
        asyncpage.OperationNotPaginatedError("m", operation_name="x", paginated=("a",)),
        asyncpage.OperationNotPaginatedTypeError("m", operation_name="7", paginated=("a",)),
    ]
    kinds: list[type[asyncpage.AsyncPageError]] = [asyncpage.AsyncPageError, *INVALID_INPUT]
    for error in kinds:
        if not issubclass(error, asyncpage.OperationNotPaginatedError):
            made.append(error("m"))
    return made


@pytest.mark.parametrize("error", examples(), ids=lambda e: type(e).__name__)
def test_every_error_keeps_its_message_and_pickles(error: Exception) -> None:
    # botocore's errors format their message from keyword arguments; asyncpage's that are
    # also botocore's keep their own message, and still pickle (fan-out outcomes cross
    # process boundaries).
    assert str(error) == "m"
    if isinstance(error, PaginationError):
        assert error.kwargs == {"message": "m"}
    if isinstance(error, asyncpage.OperationNotPaginatedError):  # an OperationNotPageableError
        assert error.kwargs == {"operation_name": error.operation_name}
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == "m"
    assert vars(copy).keys() == vars(error).keys()
    for name, value in vars(error).items():
        assert repr(getattr(copy, name)) == repr(value)


def test_the_tree_in_the_errors_docstring_names_every_error() -> None:
    doc = _errors.__doc__ or ""
    drawn = set(re.findall(r"\b([A-Z][A-Za-z]+Error)\b", doc))
    every: list[type[asyncpage.AsyncPageError]] = [
        asyncpage.AsyncPageError,
        *INVALID_INPUT,
        *FAILURES,
    ]
    assert {e.__name__ for e in every} <= drawn


def test_errors_carry_what_a_caller_needs() -> None:
    cause = RuntimeError("boom")
    failed = asyncpage.PageFetchError("m", error=cause, resume_token="t", attempts=3)
    assert (failed.error, failed.resume_token, failed.attempts) == (cause, "t", 3)
    cycle = asyncpage.TokenCycleError("m", resume_token=None)
    assert cycle.resume_token is None
    not_paginated = asyncpage.OperationNotPaginatedError(
        "m", operation_name="x", paginated=("a", "b")
    )
    assert (not_paginated.operation_name, not_paginated.paginated) == ("x", ("a", "b"))


def test_page_statistics_is_an_immutable_record_that_adds_up() -> None:
    one = asyncpage.PageStatistics(pages=1, items=2, requests=3, retries=1, throttles=1)
    two = asyncpage.PageStatistics(pages=2, items=5, requests=2, seconds_waited=0.5, prefetched=1)
    assert one + two == asyncpage.PageStatistics(
        pages=3, items=7, requests=5, retries=1, throttles=1, seconds_waited=0.5, prefetched=1
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.pages = 5  # type: ignore[misc]
    assert {f.name for f in dataclasses.fields(asyncpage.PageStatistics)} == {
        "pages",
        "items",
        "requests",
        "retries",
        "throttles",
        "seconds_waited",
        "prefetched",
    }


def test_each_lazy_name_is_imported_for_type_checkers_from_its_home() -> None:
    # asyncpage/__init__.py imports a name when it is first read (its _HOMES) and, for type
    # checkers, under TYPE_CHECKING: the two lists are one, or mypy and runtime disagree.
    import ast
    from pathlib import Path

    tree = ast.parse(Path(asyncpage.__file__).read_text())
    (checking,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    imported = {
        alias.name: "." + (node.module or "")
        for node in checking.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == asyncpage._HOMES
    assert sorted(imported) == sorted(set(PUBLIC) - {"__version__"})
