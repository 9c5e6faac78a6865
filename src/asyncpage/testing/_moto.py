"""MotoServer: moto's AWS emulator on a random port of 127.0.0.1, in a thread.

moto is imported when a server starts, not when this module is imported, so asyncpage
and its pytest plugin import without moto installed.
"""

from __future__ import annotations

import http.client
import importlib.metadata
import re
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = ["MotoServer"]

_RESET_TIMEOUT = 30.0


class MotoServer:
    """moto in server mode (``moto.server.ThreadedMotoServer``) on 127.0.0.1.

    One server keeps a separate state per region; :meth:`reset` forgets all of it.

    Example::

        with MotoServer() as moto:
            client = session.create_client("s3", endpoint_url=moto.endpoint_url, ...)

    The server logs no line per request (only this server: the process-wide ``werkzeug``
    logger is left alone).

    Raises:
        ModuleNotFoundError: at :meth:`start`, when moto is not installed; the message
            says how to install asyncpage's ``demo`` extra (``pip install '.[demo]'`` in a
            checkout) or its packages alone.
    """

    def __init__(self) -> None:
        self._server: Any = None
        self._endpoint_url: str | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``, for a client's ``endpoint_url``.

        Raises:
            RuntimeError: the server is not running.
        """
        if self._endpoint_url is None:
            raise RuntimeError("the MotoServer is not running: call start() first")
        return self._endpoint_url

    def start(self) -> Self:
        """Start the server on a free port; returns it.

        Raises:
            RuntimeError: the server is already running.
        """
        if self._server is not None:
            raise RuntimeError("the MotoServer is already running")
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:
            raise ModuleNotFoundError(
                f"moto's server is needed here (could not import {exc.name!r}). {install_hint()}",
                name=exc.name,
            ) from exc

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        _silence_request_log(server)
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        """Forget every resource in every region (``POST /moto-api/reset``)."""
        # http.client rather than urllib: an HTTP(S)_PROXY in the environment must not
        # catch a request to 127.0.0.1.
        parts = urlsplit(self.endpoint_url)
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=_RESET_TIMEOUT
        )
        try:
            connection.request("POST", "/moto-api/reset")
            connection.getresponse().read()
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop serving and close the listening socket; calling it again does nothing."""
        server, self._server, self._endpoint_url = self._server, None, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<MotoServer {self._endpoint_url or 'stopped'}>"


def install_hint(extra: str = "demo") -> str:
    """How to install asyncpage's ``extra``, which is not on a package index yet.

    Names the extra's own requirements, read from the installed package's metadata, so the
    advice follows pyproject.toml; without metadata, only the checkout's command.
    """
    hint = f"It is asyncpage's {extra!r} extra: "
    hint += f"in a checkout of asyncpage, pip install '.[{extra}]'"
    try:
        requirements = importlib.metadata.requires("asyncpage") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    marker = re.compile(rf"""\bextra\s*==\s*['"]{re.escape(extra)}['"]""")
    packages = [r.partition(";")[0].strip() for r in requirements if marker.search(r)]
    if packages:
        hint += "; or its packages alone: pip install " + " ".join(f"'{p}'" for p in packages)
    return hint


def _silence_request_log(server: Any) -> None:
    # werkzeug logs every request through the process-wide "werkzeug" logger, which would
    # bury a demo's output; quieting that logger would quiet the user's own apps too, so
    # only this server's handler class loses its request log (errors are still logged).
    wsgi_server = getattr(server, "_server", None)
    handler = getattr(wsgi_server, "RequestHandlerClass", None)
    if wsgi_server is not None and isinstance(handler, type):
        quiet = type("QuietMotoRequestHandler", (handler,), {"log_request": _no_request_log})
        wsgi_server.RequestHandlerClass = quiet


def _no_request_log(self: object, code: int | str = "-", size: int | str = "-") -> None:
    """Log nothing for a request that succeeded or failed inside moto."""


def in_process_session() -> Any:
    """A botocore session whose clients this process's moto answers, without HTTP.

    moto keeps its data per process, shared by every moto server in it: a client of this
    session makes the same requests as a client of such a server (signed, serialized by
    botocore, parsed by moto's own request handlers: the same request ids and resources),
    only without a socket or a server thread in between. A request that moto does not
    serve raises :class:`RuntimeError` rather than leave the process. Needs moto.
    """
    import botocore.session
    from moto.core.botocore_stubber import BotocoreStubber

    session = botocore.session.Session()
    # Clients name AWS's own endpoints, which moto recognises: no endpoint from the
    # environment or a config file may send them elsewhere.
    session.set_config_variable("ignore_configured_endpoint_urls", True)
    stubber = BotocoreStubber()
    stubber.enabled = True  # this session's own, beside moto's process-wide one (off)

    def answer(**kwargs: Any) -> Any:
        response = stubber(**kwargs)  # event_name, request
        if response is None:
            raise RuntimeError(f"moto in this process does not serve {kwargs['request'].url}")
        return response

    session.register("before-send", answer)
    return session
