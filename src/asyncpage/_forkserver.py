"""How worker processes are made, and the ``asyncpage`` command's early start of them.

Standard library only: the command imports this before anything else of asyncpage's
(asyncpage/__main__.py), so that its workers' forkserver imports asyncpage and aiobotocore
(a few tenths of a second of CPU) on another core while the command does the same, instead
of after it, while the inventory waits (benchmarks/README.md, the workers section).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import multiprocessing.context

#: What the forkserver imports once, before it forks a worker: the main module, as a spawned
#: child would, and the workers' code (with asyncpage, aiobotocore and botocore).
PRELOAD: tuple[str, ...] = ("__main__", "asyncpage._distribute", "asyncpage._preloaded")


def start_method() -> str:
    """``forkserver`` where it forks safely (Linux), else ``spawn``.

    A forkserver imports asyncpage and aiobotocore once (about 0.3 s of CPU) and forks
    every worker from that, in milliseconds; its workers end with ``os._exit`` after
    multiprocessing's finalizers (clients closed) instead of tearing an interpreter down.
    macOS's system frameworks are not safe to fork (why Python spawns there by default).
    """
    return "forkserver" if sys.platform == "linux" else "spawn"


def context() -> multiprocessing.context.BaseContext:
    """The multiprocessing context worker processes are made with.

    The forkserver's preload counts only until the server has started (by the first pool's
    first process, or by :func:`start_early`); it is the same either way.
    """
    ctx = multiprocessing.get_context(start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


def start_early(argv: Sequence[str]) -> bool:
    """Start the forkserver now if ``argv`` (``asyncpage``'s arguments) will use workers.

    Returns whether it did. Only a guess from the arguments, before they are parsed: a
    wrong guess costs a server that is never used (it ends with this process) or a start
    that is not early, never a different run. Called while this process has no thread
    (a fork then is safe) and before it imports aiobotocore.
    """
    if start_method() != "forkserver" or not will_use_workers(argv, os.cpu_count() or 1):
        return False
    import multiprocessing.forkserver  # only here: a command without workers needs none of it

    context()  # its preload
    multiprocessing.forkserver.ensure_running()
    return True


def will_use_workers(argv: Sequence[str], cores: int) -> bool:
    """Whether ``asyncpage`` ``argv`` is an inventory in worker processes, as far as it shows.

    ``--workers N`` says so (N > 1); without it, the workers are one per core from 400
    sources on (asyncpage.cli.workers_for), which only an inventory of several accounts
    (``--org``, ``--accounts``) is likely to reach: the demo and one account's default
    listings are about 100 sources. ``--dask`` runs no worker process here.
    """
    if not argv or argv[0] != "inventory":
        return False
    workers: str | None = None
    several_accounts = demo = False
    arguments = argv[1:]
    for index, argument in enumerate(arguments):
        if argument == "--":
            break
        name, _, value = argument.partition("=")
        if name in ("-h", "--help", "--dask"):
            return False
        if name == "--demo":
            demo = True
        elif name == "--workers":
            following = arguments[index + 1 : index + 2]
            workers = value or (following[0] if following else "")
        elif name in ("--org", "--accounts"):
            several_accounts = True
    if workers is not None:
        try:
            return int(workers) > 1
        except ValueError:
            return False  # a usage error follows
    return several_accounts and not demo and cores > 1
