"""The ``asyncpage`` command starts its workers' forkserver before its own heavy imports.

What a user would notice: ``--workers 2`` waiting for its workers after the regions are
found (the forkserver's imports begin only when the pool is made), or ``import asyncpage``
costing aiobotocore's import. Each test runs a real interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from asyncpage._forkserver import will_use_workers


def run(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["inventory", "--workers", "2"], True),
        (["inventory", "--regions", "all", "--workers=4", "--db", "x.db"], True),
        (["inventory", "--workers", "1"], False),
        (["inventory", "--workers", "two"], False),  # a usage error follows
        (["inventory", "--workers"], False),
        (["inventory", "--workers", "2", "--dask", "tcp://127.0.0.1:8786"], False),
        (["inventory", "--workers", "2", "--help"], False),
        (["inventory", "--demo", "--workers", "2"], True),  # asked for, demo or not
        # Without --workers: one per core from 400 sources, which takes several accounts.
        (["inventory"], False),
        (["inventory", "--org"], True),
        (["inventory", "--accounts", "111122223333,444455556666"], True),
        (["inventory", "--demo", "--org"], False),  # the demo's 100 sources: one process
        (["inventory", "--", "--workers", "2"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_the_early_start_follows_the_arguments(argv: list[str], expected: bool) -> None:
    assert will_use_workers(argv, cores=2) is expected


def test_without_workers_one_core_starts_nothing_early() -> None:
    assert not will_use_workers(["inventory", "--org"], cores=1)
    assert will_use_workers(["inventory", "--org", "--workers", "2"], cores=1)


def test_import_asyncpage_imports_no_aws_sdk_until_a_name_is_read() -> None:
    result = run(
        """
        import json, sys
        import asyncpage
        before = sorted(m for m in ("aiobotocore", "botocore", "aiohttp") if m in sys.modules)
        asyncpage.paginate
        print(json.dumps({"before": before, "after": "aiobotocore" in sys.modules}))
        """
    )
    assert result == {"before": [], "after": True}


def test_workers_are_forked_from_the_server_started_before_aiobotocore_was_imported() -> None:
    result = run(
        """
        import json, os, sys
        from asyncpage._forkserver import start_early

        started = start_early(["inventory", "--workers", "2"])
        light = "aiobotocore" not in sys.modules
        children = {
            int(pid)
            for task in os.listdir("/proc/self/task")
            for pid in open(f"/proc/self/task/{task}/children").read().split()
        }

        from asyncpage._distribute import ProcessWorkers

        pool = ProcessWorkers(2)
        pool.start()
        parents = set()
        for pid in pool.wait_started(timeout=60):
            with open(f"/proc/{pid}/stat") as stat:
                parents.add(int(stat.read().rpartition(")")[2].split()[1]))
        pool.close(interrupted=False)
        print(json.dumps({
            "started": started, "light": light, "from_early": parents <= children,
            "one_server": len(parents),
        }))
        """
    )
    assert result == {"started": True, "light": True, "from_early": True, "one_server": 1}
