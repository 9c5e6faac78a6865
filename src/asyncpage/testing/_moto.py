"""MotoServer: moto's AWS emulator on a random port of 127.0.0.1, in a thread.

moto is imported when a server starts, not when this module is imported, so asyncpage
and its pytest plugin import without moto installed.
"""

from __future__ import annotations

import logging
import urllib.request
from types import TracebackType
from typing import Any, Self

__all__ = ["MotoServer"]

_RESET_TIMEOUT = 30.0


class MotoServer:
    """moto in server mode (``moto.server.ThreadedMotoServer``) on 127.0.0.1.

    One server keeps a separate state per region; :meth:`reset` forgets all of it.

    Example::

        with MotoServer() as moto:
            client = session.create_client("s3", endpoint_url=moto.endpoint_url, ...)

    Raises:
        ModuleNotFoundError: at :meth:`start`, when moto is not installed
            (``pip install "asyncpage[demo]"``).
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
        from moto.server import ThreadedMotoServer

        # werkzeug prints a line per request to stderr unless its logger has a level.
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            werkzeug_log.setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        return self

    def reset(self) -> None:
        """Forget every resource in every region (``POST /moto-api/reset``)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=_RESET_TIMEOUT) as response:
            response.read()

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
