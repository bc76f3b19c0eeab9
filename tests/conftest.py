# SPDX-License-Identifier: GPL-2.0
"""Fixtures for stap-gen's tests.

Kernel tests run against the kit's real test trees (Debian's 6.1 and 6.12
sources built by `make trees`) and boot them under QEMU; they fail, never
skip, when a tree is missing, so a green run always means the real thing
ran.  The command-line tests drive tools/stap-gen/stap-gen as a user does.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import pytest

TOP = Path(__file__).resolve().parent.parent
STAPGEN = TOP / 'tools' / 'stap-gen' / 'stap-gen'
sys.path.insert(0, str(TOP / 'tools' / 'stap-gen'))

from stapgen.dev import testtree  # noqa: E402
from stapgen.run import vm  # noqa: E402

LINES = testtree.LINES

# What must never appear on the guest's console (one definition, the kit's).
BAD_CONSOLE = vm.BAD_CONSOLE


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    console: str = ''


def stapgen(*args: str, cwd: Optional[Path] = None, timeout: float = 600) -> Run:
    proc = subprocess.run([str(STAPGEN), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_vm(kdir: Path, script: Path, command: Optional[str], tmp_path: Path,
           extra: Optional[List[str]] = None) -> Run:
    console = tmp_path / 'console.log'
    args = ['-r', str(kdir), '--vm', '--vm-console', str(console)]
    if command is not None:
        args += ['-c', command]
    r = stapgen(*args, *(extra or []), str(script))
    r.console = console.read_text(errors='replace') if console.exists() else ''
    return r


def assert_healthy(console: str) -> None:
    """No oops, warning or stall; taint only the out-of-tree one."""
    bad = BAD_CONSOLE.search(console)
    assert bad is None, f'kernel complained: ...{console[max(0, bad.start() - 300):bad.end() + 800]}'
    assert 'STAPGEN-EXIT=0' in console, console[-2000:]
    for m in re.finditer(r'Tainted: (\S+)', console):
        assert set(m.group(1)) <= set('O'), m.group(0)


@pytest.fixture(params=LINES, ids=[f'linux-{x}' for x in LINES])
def kdir(request: pytest.FixtureRequest) -> Path:
    """A built test tree; the test fails if `make trees` was not run."""
    try:
        return testtree.built_kdir(request.param)
    except testtree.TreeError as e:
        pytest.fail(str(e))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    for item in items:
        if {'kdir', 'outside'} & set(getattr(item, 'fixturenames', ())):
            item.add_marker(pytest.mark.kernel)
