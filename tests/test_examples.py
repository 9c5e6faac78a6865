"""The examples as their docstrings say to run them: each shows what it is doing from the start.

Both start the demo endpoint, which takes seconds; both must say so at once and then report
each seeding step, instead of sitting silent. Each runs in a process of its own, as a user
runs it (``python examples/quickstart.py``, ``uvicorn examples.fastapi_app:app``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from _docs import ROOT


def _environment() -> dict[str, str]:
    """This environment without an endpoint or secret, so the examples start the demo."""
    unset = ("ASYNCPAGE_ENDPOINT_URL", "ASYNCPAGE_CURSOR_SECRET", "AWS_ENDPOINT_URL")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    return environment | {"PYTHONUNBUFFERED": "1", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def _guard(process: subprocess.Popen[str], seconds: float = 180) -> Iterator[None]:
    """Kill ``process`` if it outlives ``seconds``: a hung example fails its test only."""
    timer = threading.Timer(seconds, process.kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        process.kill()
        process.wait()


def _assert_seeding_reported(lines: list[str], first: str) -> None:
    """``first`` is the first line; every seeding step follows, in order, before the rest."""
    assert first in lines[0], lines[:3]
    steps = [int(m[1]) for line in lines if (m := re.search(r"seeded (\d+)/(\d+): ", line))]
    totals = {m[1] for line in lines if (m := re.search(r"seeded \d+/(\d+): ", line))}
    assert len(totals) == 1, totals
    assert steps == list(range(1, int(totals.pop()) + 1))


def test_the_quickstart_reports_the_seeding_then_resumes_exactly() -> None:
    process = subprocess.Popen(
        [sys.executable, "examples/quickstart.py"],
        cwd=ROOT,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with _guard(process):
        out, err = process.communicate()
    assert process.returncode == 0, err
    lines = out.splitlines()
    _assert_seeding_reported(lines, "starting the demo endpoint (moto, in this process)")
    resumed = next(re.search(r"(\d+) of (\d+) in all", line) for line in lines if "resumed" in line)
    assert resumed is not None
    assert resumed[1] == resumed[2]  # nothing lost, nothing repeated
    assert lines[-1].endswith("same: True")  # the token resumes aiobotocore's paginator too


def test_the_fastapi_example_reports_the_demo_start_under_uvicorn() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.fastapi_app:app", "--port", "0"],
        cwd=ROOT,
        env=_environment(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    with _guard(process):
        assert process.stderr is not None
        lines: list[str] = []
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if "Uvicorn running on" in line or "Application startup failed" in line:
                break
        # What uvicorn prints before the app's lifespan starts, then the app's own lines.
        starting = lines.index("INFO:     Waiting for application startup.")
        _assert_seeding_reported(lines[starting + 1 :], "starting the demo endpoint")
        assert any("demo endpoint http://127.0.0.1:" in line for line in lines)
        assert any("using a random secret" in line for line in lines)
        url = re.search(r"Uvicorn running on (http://\S+)", lines[-1])
        assert url is not None, lines[-5:]
        page = httpx.get(f"{url[1]}/buckets/orders-prod/objects?limit=5", timeout=30)
        assert page.status_code == 200
        assert len(page.json()["items"]) == 5
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "Application shutdown complete." in rest
