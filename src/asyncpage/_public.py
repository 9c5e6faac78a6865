"""How a public package names itself the home of the exceptions it re-exports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def publish(module: str, names: Iterable[str], namespace: Mapping[str, object]) -> None:
    """Name ``module`` as the home of every exception class of ``names`` in ``namespace``.

    They are defined in private modules; with this, a traceback shows
    ``asyncpage.PageFetchError: ...`` rather than ``asyncpage._errors.PageFetchError: ...``,
    and a pickled error refers to the public name, which stays put when a private module is
    renamed (httpx does this for every name it exports).

    Only exceptions: pdoc reads a class's attribute docstrings from the source of the module
    its ``__module__`` names, and ``typing.get_type_hints`` (pydantic, cattrs, pdoc) resolves
    string annotations (``from __future__ import annotations``) there, so the dataclasses and
    functions keep their defining module. asyncpage's exceptions annotate nothing at class
    level (a test checks that ``get_type_hints`` still works on each).
    """
    for name in names:
        value = namespace[name]
        if isinstance(value, type) and issubclass(value, BaseException):
            value.__module__ = module
