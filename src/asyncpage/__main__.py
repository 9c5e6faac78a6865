"""The ``asyncpage`` command (and ``python -m asyncpage``)."""

from __future__ import annotations

import gc
import sys

from ._forkserver import start_early


def main() -> int:
    """Run ``asyncpage`` with ``sys.argv``; return its exit status, for the process to end with.

    An inventory that will run in worker processes starts their forkserver first, before
    this process imports aiobotocore: both import it at once, on two cores. Once the command
    is done, what the process holds is frozen out of the garbage collector, whose last
    collections at the interpreter's exit would walk every module and service model for
    nothing (0.2-0.3 s at the end of every command); exit handlers still run.
    """
    start_early(sys.argv[1:])
    from .cli import main as run  # after the forkserver has started

    status = run()
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(main())
