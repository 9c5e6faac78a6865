"""The benchmark scripts run from their folder: nothing there may stand in for a module.

``python benchmarks/X.py`` puts ``benchmarks/`` first on ``sys.path``, so a script named
like a module the standard library or a dependency imports, or probes for, is imported in
its place (``org.py`` broke ``pickle``, which tries ``org.python.core`` for Jython, and with
it every benchmark that imports aiohttp).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_no_benchmark_script_shadows_a_module_the_benchmarks_import() -> None:
    scripts = sorted(path.stem for path in BENCHMARKS.glob("*.py"))
    assert "paging" in scripts
    assert not set(scripts) & set(sys.stdlib_module_names)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import pickle, multiprocessing, aiohttp, aiobotocore.session, asyncpage, _server; "
        "print(pickle.Pickler.__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(BENCHMARKS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "_pickle"
