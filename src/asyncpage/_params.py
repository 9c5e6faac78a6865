"""Operation parameters given on the command line, typed by the operation's input shape.

``asyncpage inventory --operation s3:list_objects_v2 --param Bucket=logs --param MaxKeys=5``:
each ``--param`` is ``NAME=VALUE`` or a JSON object of several. A ``NAME=VALUE`` takes its
type from the member ``NAME`` of the operation's input shape, as botocore's model says:
strings, timestamps (ISO 8601) and blobs stay text; integers, floats and booleans
(``true``/``false``) are converted; lists, maps and structures are read as JSON
(``--param 'Filters=[{"Name": "tag:env", "Values": ["prod"]}]'``). A value that does not
convert is passed on as text, so that botocore's own validator names what is wrong with it.
:func:`check_params` runs botocore's own checks, its parameter handlers and its
``ParamValidator``, before anything is sent, and raises their report in full.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ParamValidationError
from botocore.hooks import first_non_none_response
from botocore.validate import ParamValidator

__all__ = ["check_params", "parse_params"]

_TEXT: Final = frozenset({"string", "timestamp", "blob"})
_INTEGERS: Final = frozenset({"integer", "long"})
_FLOATS: Final = frozenset({"float", "double"})
_BOOLEANS: Final = {"true": True, "false": False}


def parse_params(arguments: Sequence[str], input_shape: Any) -> dict[str, Any]:
    """The parameters that ``--param`` ``arguments`` give, in order (a later one wins).

    ``input_shape`` is the operation's botocore input shape (``None`` if it takes none).
    Raises :class:`ValueError` for an argument that is neither ``NAME=VALUE`` nor a JSON
    object; a wrong name or type is left for :func:`check_params` to report.
    """
    members: Mapping[str, Any] = input_shape.members if input_shape is not None else {}
    params: dict[str, Any] = {}
    for argument in arguments:
        if argument.lstrip().startswith("{"):
            try:
                given = json.loads(argument)
            except json.JSONDecodeError as exc:
                raise ValueError(f"--param {argument!r} is not a JSON object: {exc}") from None
            if not isinstance(given, dict):
                raise ValueError(f"--param {argument!r} is not a JSON object")
            params.update(given)
            continue
        name, sep, text = argument.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(
                f"--param {argument!r} is not NAME=VALUE or a JSON object, e.g. Bucket=logs"
            )
        member = members.get(name)
        params[name] = text if member is None else _typed(text, member.type_name)
    return params


def _typed(text: str, type_name: str) -> Any:
    """``text`` as a value of botocore type ``type_name``; the text itself if it is not one."""
    if type_name in _TEXT:
        return text
    try:
        if type_name in _INTEGERS:
            return int(text)
        if type_name in _FLOATS:
            return float(text)
        if type_name == "boolean":
            return _BOOLEANS.get(text.strip().lower(), text)
        return json.loads(text)  # list, map, structure
    except ValueError:
        return text


def check_params(params: Mapping[str, Any], operation_model: Any, session: Any) -> None:
    """Validate ``params`` as botocore does before it builds a request, sending nothing.

    ``session`` (a botocore session) runs botocore's own parameter handlers first, as a
    client would (Glacier's default ``accountId``, S3's bucket name check, EC2's parameter
    aliases), on a copy; then botocore's ``ParamValidator`` checks the result against the
    operation's input shape. Raises :class:`ValueError` carrying botocore's message in full
    (``Parameter validation failed:`` and one line per problem: missing required members,
    unknown names, wrong types or ranges).
    """
    api_params = copy.deepcopy(dict(params))
    where = f"{operation_model.service_model.service_id.hyphenize()}.{operation_model.name}"
    context: dict[str, Any] = {}
    try:
        responses = session.emit(
            f"provide-client-params.{where}",
            params=api_params,
            model=operation_model,
            context=context,
        )
        api_params = first_non_none_response(responses, default=api_params)
        session.emit(
            f"before-parameter-build.{where}",
            params=api_params,
            model=operation_model,
            context=context,
        )
    except BotoCoreError as exc:  # ParamValidationError for an invalid bucket name, ...
        raise ValueError(str(exc)) from None
    input_shape = operation_model.input_shape
    if input_shape is None:
        if api_params:
            raise ValueError(f"{operation_model.name} takes no parameters, not {', '.join(params)}")
        return
    report = ParamValidator().validate(api_params, input_shape)
    if report.has_errors():
        raise ValueError(str(ParamValidationError(report=report.generate_report())))
