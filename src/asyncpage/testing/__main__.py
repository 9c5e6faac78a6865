"""``python -m asyncpage.testing``: serve a seeded demo endpoint until Ctrl-C.

For programs in other processes (an app under uvicorn, the AWS CLI, a notebook): it starts
:class:`~asyncpage.testing.DemoEndpoint`, reports each seeding step on stderr, then prints
on stdout the environment that points AWS SDKs at it (botocore reads ``AWS_ENDPOINT_URL``)::

    $ python -m asyncpage.testing --regions us-east-1 --scale 0.1
    starting the demo endpoint (moto, in this process) and seeding us-east-1 at scale 0.1...
    [  0.9s] seeded 1/9: ec2 us-east-1 (1 reservation, 4 instances)
    ...
    export AWS_ENDPOINT_URL=http://127.0.0.1:41521 AWS_ACCESS_KEY_ID=demo ...

Ctrl-C (or SIGTERM) stops it and exits 0; a bad option exits 2, a missing moto 1.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .._demo import DEMO_REGIONS, DemoEndpoint, SeedProgress

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m asyncpage.testing",
        description="Serve asyncpage's seeded demo endpoint (moto) on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument(
        "--regions",
        default=",".join(DEMO_REGIONS),
        help=f"comma-separated regions to seed, of {', '.join(DEMO_REGIONS)} (default: all)",
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiplies every count (default 1.0)"
    )
    options = parser.parse_args(argv)
    regions = [r.strip() for r in options.regions.split(",") if r.strip()]
    try:
        endpoint = DemoEndpoint.start(
            seed=True, scale=options.scale, regions=regions, on_progress=_report
        )
    except ValueError as exc:
        parser.error(str(exc))
    # SIGTERM stops it as Ctrl-C does, so that a supervisor's stop frees the port cleanly;
    # and SIGINT does even when started as a script's background job, which inherits SIGINT
    # ignored (Python then would not turn it into KeyboardInterrupt).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(
        "starting the demo endpoint (moto, in this process) and seeding "
        f"{', '.join(regions)} at scale {options.scale:g}...",
        file=sys.stderr,
        flush=True,
    )
    try:
        with endpoint as demo:
            kwargs = demo.client_kwargs(regions[0])
            print(
                f"export AWS_ENDPOINT_URL={kwargs['endpoint_url']}"
                f" AWS_ACCESS_KEY_ID={kwargs['aws_access_key_id']}"
                f" AWS_SECRET_ACCESS_KEY={kwargs['aws_secret_access_key']}"
                f" AWS_DEFAULT_REGION={regions[0]}",
                flush=True,
            )
            print("serving until Ctrl-C", file=sys.stderr, flush=True)
            threading.Event().wait()
    except ModuleNotFoundError as exc:
        print(f"python -m asyncpage.testing: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo endpoint stopped", file=sys.stderr, flush=True)
    return 0


def _report(progress: SeedProgress) -> None:
    print(f"[{progress.seconds:5.1f}s] {progress}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
