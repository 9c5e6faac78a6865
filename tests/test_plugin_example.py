"""The README's pytest example passes in a project of its own, installed as the README says.

A new virtual environment (no system site-packages, so nothing of this one leaks in), the
README's install command run in it with the checkout's path for ``/path/to/asyncpage``,
the README's test file saved where it says, and plain ``pytest`` run in that project: the
plugin must come from the installed package's entry point, the async test runner from
what that install brings, and the test must pass as written. The install takes about 30 s
(pip's cache warm): the one slow test of the suite, and the only one that sees what a
user's project sees.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import venv
from pathlib import Path

from _docs import ROOT, blocks, docs_file

README = ROOT / "README.md"
EXAMPLE = "tests/test_listing.py"
PLACEHOLDER = "/path/to/asyncpage"


def documented_install() -> list[str]:
    """The README's ``sh`` block just before the example: one ``pip install`` line."""
    found = blocks(README)
    (index,) = [i for i, block in enumerate(found) if block.file == EXAMPLE]
    install = found[index - 1]
    assert install.language == "sh", install.where
    (line,) = install.source.strip().splitlines()
    words = shlex.split(line)
    assert words[:2] == ["pip", "install"], line
    assert any(word.startswith(PLACEHOLDER) for word in words), line
    return [word.replace(PLACEHOLDER, str(ROOT)) for word in words]


def test_the_readme_pytest_example_passes_in_a_project_of_its_own(tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    bin_dir = environment / "bin"
    isolated = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTEST", "PYTHON", "VIRTUAL_ENV", "COV_"))
    }
    isolated |= {
        "PATH": f"{bin_dir}{os.pathsep}{isolated.get('PATH', '')}",
        "VIRTUAL_ENV": str(environment),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    pip, install = documented_install()[0], documented_install()[1:]
    installed = subprocess.run(
        [str(bin_dir / pip), *install],
        env=isolated,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "backtracking" not in installed.stdout + installed.stderr  # one resolution pass

    project = tmp_path / "project"
    (project / EXAMPLE).parent.mkdir(parents=True)
    (project / EXAMPLE).write_text(docs_file(README, EXAMPLE))
    ran = subprocess.run(
        [str(bin_dir / "pytest")],
        cwd=project,
        env=isolated,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout, ran.stdout
    # The environment is the new one: asyncpage and its plugin came from the install.
    assert sys.prefix != str(environment)
    assert (
        str(environment)
        in subprocess.run(
            [str(bin_dir / "python"), "-c", "import asyncpage; print(asyncpage.__file__)"],
            env=isolated,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
