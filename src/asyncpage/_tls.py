"""One TLS verify context per CA bundle for a pool's clients, not one per client.

aiobotocore's aiohttp session builds a new ``ssl.SSLContext`` for every client and loads
the CA bundle into it (certifi's, about 150 certificates: 13 ms of CPU on this project's
2-core machine, see benchmarks/README.md). An inventory opens a client per (account,
service, region): 50 accounts of 17 regions and 10 services is 8,500 clients, nearly two
minutes of CPU spent reading the same file. aiohttp itself shares its default contexts
between connectors, and an ``SSLContext`` is safe to share.

:class:`SharedVerifySession` is aiobotocore's ``AIOHTTPSession`` but for that: a client's
verify context (``verify`` as botocore resolved it: ``True``, ``False`` or a bundle's
path) comes from a cache keyed by the setting and the bundle file's identity (path,
size, modification time: a bundle replaced on disk is read again). A client with a client
certificate or a proxy builds its own contexts as before (aiobotocore loads the
certificate into the context it builds). :class:`~asyncpage.ClientPool` sets it as the
``http_session_cls`` of its clients unless the caller's config (or the session's default
config) chose another HTTP session class.

aiobotocore's ``connector_args={"ssl_context": ...}`` would be the public way, but with
its aiohttp session (3.10) it reaches ``TCPConnector`` beside ``ssl=`` and aiohttp
refuses the pair; the method overridden here is the one that builds the contexts, in
the aiobotocore version the package pins.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable
from typing import Any, Final

from aiobotocore.httpsession import AIOHTTPSession
from botocore.httpsession import get_cert_path

__all__ = ["SharedVerifySession", "may_share"]

_LOCK = threading.Lock()
#: At most this many contexts are kept (distinct verify settings in one process).
_CAP: Final = 16
_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}


def _bundle_key(verify: Any) -> tuple[Any, ...]:
    if not verify:
        return (False,)
    path = get_cert_path(verify)
    try:
        stat = os.stat(path)  # type: ignore[arg-type]  # None: TypeError, as below
    except (OSError, TypeError):  # no such bundle: let aiobotocore fail as it fails
        return (verify, path, None)
    return (verify, path, stat.st_size, stat.st_mtime_ns, stat.st_ino)


def shared_context(verify: Any, build: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """The context for ``verify``, built with ``build`` the first time it is asked for."""
    key = _bundle_key(verify)
    with _LOCK:
        context = _CONTEXTS.get(key)
        if context is None:
            context = build()
            if len(_CONTEXTS) >= _CAP:
                _CONTEXTS.clear()
            _CONTEXTS[key] = context
    return context


#: The methods :class:`SharedVerifySession` relies on (aiobotocore's, not public: a
#: version without them gets aiobotocore's own session, one context per client).
SUPPORTED: Final = all(
    callable(getattr(AIOHTTPSession, name, None))
    for name in ("_build_ssl_contexts", "_build_verify_context")
)


class SharedVerifySession(AIOHTTPSession):
    """aiobotocore's aiohttp session, with the verify context shared; see the module."""

    def _build_ssl_contexts(self, proxy_url: Any) -> tuple[ssl.SSLContext, Any]:
        # The stubs leave out aiobotocore's private attributes, hence the ignores.
        if self._cert_file or proxy_url:  # type: ignore[attr-defined]
            return super()._build_ssl_contexts(proxy_url)  # type: ignore[misc,no-any-return]
        build = self._build_verify_context  # type: ignore[attr-defined]
        return shared_context(self._verify, build), None  # type: ignore[attr-defined]


def may_share(*configs: Any) -> bool:
    """True if clients made with ``configs`` may use :class:`SharedVerifySession`.

    False when one of them chose an HTTP session class other than aiobotocore's default
    (httpx's, a caller's own), or when this aiobotocore lacks what the class overrides.
    """
    return SUPPORTED and all(
        getattr(config, "http_session_cls", AIOHTTPSession) in (AIOHTTPSession, SharedVerifySession)
        for config in configs
    )
