"""Checks of a pagination's input that botocore and jmespath would make too late.

botocore checks a request's parameters as it sends it, which for a pagination is at the
first page, and against types and minimums only; jmespath finds an unknown function only
while searching a page. These checks run when the pagination (or the search) is made, so
bad input raises an :class:`~asyncpage.InvalidPaginationError` before any request:

* the client is an aiobotocore client (any botocore client, to read a paging model);
* ``PageSize`` lies in the range the service model gives the limit parameter;
* the values in a ``StartingToken`` have the types the operation's input shape gives its
  token parameters (checked by botocore's own ``ParamValidator``, and only when the client
  validates parameters at all);
* a JMESPath expression calls only functions jmespath has, with as many arguments as they
  take, and nests no deeper than a search can recurse.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from aiobotocore.client import AioBaseClient
from aiobotocore.session import ClientCreatorContext
from botocore.client import BaseClient
from botocore.validate import ParamValidationDecorator, ParamValidator
from jmespath.functions import Functions

from ._errors import (
    InvalidExpressionError,
    InvalidPaginationConfigError,
    InvalidPaginationTypeError,
    InvalidStartingTokenError,
)

if TYPE_CHECKING:
    from jmespath.parser import ParsedResult

    from ._cursor import Cursor
    from ._model import PagingModel

__all__ = [
    "MAX_EXPRESSION_DEPTH",
    "check_expression",
    "check_page_size",
    "check_token_values",
    "fit_page_size",
    "page_size_range",
    "require_async_client",
    "require_client",
]

#: The deepest JMESPath syntax tree accepted. jmespath's interpreter recurses about twice
#: per level, under Python's default limit of 1,000 frames; no real expression comes close.
MAX_EXPRESSION_DEPTH: Final = 200

_FUNCTIONS: Final[Mapping[str, Mapping[str, Any]]] = Functions.FUNCTION_TABLE
_INTEGER_TYPES: Final = frozenset({"integer", "long"})


def require_client(client: object) -> None:
    """Raise :class:`InvalidPaginationTypeError` unless ``client`` is a botocore client.

    Enough for reading its paging model; an aiobotocore client is one.
    """
    if not isinstance(client, BaseClient):
        raise InvalidPaginationTypeError(
            f"the client must be a botocore or aiobotocore client; {_what(client)}"
        )


def require_async_client(client: object) -> None:
    """Raise :class:`InvalidPaginationTypeError` unless ``client`` is an aiobotocore client."""
    if not isinstance(client, AioBaseClient):
        raise InvalidPaginationTypeError(
            "the client must be an aiobotocore client, from `async with "
            f"aiobotocore.session.get_session().create_client(...)`; {_what(client)}"
        )


def _what(client: object) -> str:
    if isinstance(client, ClientCreatorContext):
        return (
            "got the context manager session.create_client() returns: enter it, "
            "`async with session.create_client(...) as client:`"
        )
    if isinstance(client, BaseClient):
        return "got a synchronous botocore/boto3 client"
    return f"got {reprlib.repr(client)} ({type(client).__name__})"


def page_size_range(client: Any, model: PagingModel) -> tuple[int | None, int | None]:
    """The ``min`` and ``max`` the service model gives the limit parameter (``None``: none)."""
    if model.limit_key is None:
        return None, None
    member = _input_members(client, model).get(model.limit_key)
    if member is None or member.type_name not in _INTEGER_TYPES:
        return None, None
    return member.metadata.get("min"), member.metadata.get("max")


def fit_page_size(client: Any, model: PagingModel, page_size: int) -> int:
    """``page_size`` moved into the limit parameter's modelled range (for callers that
    choose a size for the user, as the FastAPI Pager does from ``limit``)."""
    low, high = page_size_range(client, model)
    if high is not None:
        page_size = min(page_size, high)
    if low is not None:
        page_size = max(page_size, low)
    return page_size


def check_page_size(client: Any, model: PagingModel, page_size: int | str) -> None:
    """Raise :class:`InvalidPaginationConfigError` if ``page_size`` is outside the limit
    parameter's modelled ``min``/``max`` (botocore checks only the minimum, at the first
    request, and sends a page size above the maximum for the service to refuse)."""
    if isinstance(page_size, str) or model.limit_key is None:
        return  # a string limit: min/max would be lengths, not a range of sizes
    member = _input_members(client, model).get(model.limit_key)
    if member is None or member.type_name not in _INTEGER_TYPES:
        return
    low: int | None = member.metadata.get("min")
    high: int | None = member.metadata.get("max")
    if (low is None or page_size >= low) and (high is None or page_size <= high):
        return
    if low is not None and high is not None:
        bounds = f"between {low} and {high}"
    elif low is not None:
        bounds = f"at least {low}"
    else:
        bounds = f"at most {high}"
    raise InvalidPaginationConfigError(
        f"PageSize must be {bounds} for {model.service_name} {model.operation_name} "
        f"(its {model.limit_key} parameter), not {page_size}"
    )


def check_token_values(
    client: Any, model: PagingModel, params: Mapping[str, Any], start: Cursor
) -> None:
    """Raise :class:`InvalidStartingTokenError` if the token's values would make the first
    request invalid where the caller's parameters alone are valid.

    Validated exactly as botocore validates the request (``ParamValidator`` on the input
    shape), and skipped when the client was made with ``parameter_validation=False``.
    Errors in the caller's own parameters are left to botocore, at the first fetch.
    """
    values = {name: value for name, value in start.tokens if value is not None and value != "None"}
    # The client validates when its serializer does (Config(parameter_validation=...) or
    # the profile's parameter_validation); meta.config does not say.
    if not values or not isinstance(getattr(client, "_serializer", None), ParamValidationDecorator):
        return
    shape = client.meta.service_model.operation_model(model.operation_name).input_shape
    if shape is None:
        return
    try:
        report = ParamValidator().validate({**params, **values}, shape)
        if not report.has_errors() or ParamValidator().validate(dict(params), shape).has_errors():
            return
    except RecursionError:
        raise InvalidStartingTokenError("StartingToken is nested too deeply") from None
    raise InvalidStartingTokenError(
        f"StartingToken holds values that {model.service_name} {model.operation_name} "
        f"does not take: {report.generate_report()}"
    )


def check_expression(parsed: ParsedResult) -> None:
    """Raise :class:`InvalidExpressionError` for a compiled expression that would fail on
    every page: too deep to search, or calling a function jmespath does not have, with the
    wrong number of arguments, or with ``&expression`` where it takes a value (or the
    reverse)."""
    shown = reprlib.repr(parsed.expression)
    pending: list[tuple[Any, int]] = [(parsed.parsed, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise InvalidExpressionError(
                f"JMESPath expression {shown} nests more than {MAX_EXPRESSION_DEPTH} levels "
                "deep; searching it would exhaust Python's recursion limit"
            )
        if node.get("type") == "function_expression":
            _check_call(shown, node["value"], node["children"])
        pending.extend(
            (child, depth + 1) for child in node.get("children", ()) if isinstance(child, dict)
        )


def _check_call(shown: str, name: str, arguments: list[Any]) -> None:
    function = _FUNCTIONS.get(name)
    if function is None:
        raise InvalidExpressionError(
            f"JMESPath expression {shown} calls {name}(), which JMESPath does not have; "
            f"its functions are {', '.join(sorted(_FUNCTIONS))}"
        )
    signature = function["signature"]
    variadic = bool(signature) and bool(signature[-1].get("variadic"))
    if len(arguments) < len(signature) or (not variadic and len(arguments) > len(signature)):
        takes = f"at least {len(signature)}" if variadic else str(len(signature))
        raise InvalidExpressionError(
            f"JMESPath expression {shown} calls {name}() with {len(arguments)} "
            f"argument(s); it takes {takes}"
        )
    # Exactly the arguments jmespath type-checks; an &expression is known before searching.
    checked = zip(arguments, signature, strict=False)  # variadic extras are not checked
    for number, (argument, parameter) in enumerate(checked, start=1):
        types = parameter["types"]
        is_reference = isinstance(argument, dict) and argument.get("type") == "expref"
        if types and is_reference and "expref" not in types:
            problem = "must be a value, not an &expression"
        elif types == ["expref"] and not is_reference:
            problem = "must be an &expression (such as &name)"
        else:
            continue
        raise InvalidExpressionError(
            f"JMESPath expression {shown}: argument {number} of {name}() {problem}"
        )


def _input_members(client: Any, model: PagingModel) -> Mapping[str, Any]:
    shape = client.meta.service_model.operation_model(model.operation_name).input_shape
    return {} if shape is None else shape.members
