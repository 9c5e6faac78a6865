"""The ``asyncpage`` command (and ``python -m asyncpage``)."""

from __future__ import annotations

import sys

from ._forkserver import start_early


def main() -> int:
    """Run ``asyncpage`` with ``sys.argv``; return its exit status.

    An inventory that will run in worker processes starts their forkserver first, before
    this process imports aiobotocore: both import it at once, on two cores.
    """
    start_early(sys.argv[1:])
    from .cli import main as run  # after the forkserver has started

    return run()


if __name__ == "__main__":
    sys.exit(main())
