# SPDX-License-Identifier: GPL-2.0
"""Generated C reads like kernel code: the tree's own checkpatch.pl has
nothing to say about the module C of the examples and the corpus."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from conftest import TOP, stapgen

SCRIPTS = sorted((TOP / 'tools' / 'stap-gen' / 'examples').glob('*.stp')) + \
    sorted((TOP / 'tools' / 'stap-gen' / 'selftests').glob('*.stp'))


def test_generated_c_passes_checkpatch(kdir: Path, tmp_path: Path) -> None:
    complaints = []
    for script in SCRIPTS:
        c = tmp_path / f'{script.stem}.c'
        args = script.with_suffix('.args')      # a self-test's -g and arguments
        words = shlex.split(args.read_text()) if args.exists() else []
        r = stapgen('-r', str(kdir), '-p3', '-m', script.stem, '-o', str(c), str(script),
                    *words)
        assert r.returncode == 0, r.stderr
        out = subprocess.run(['perl', str(kdir / 'scripts' / 'checkpatch.pl'), '--no-tree',
                              '--no-summary', '--terse', '-f', str(c)],
                             capture_output=True, text=True).stdout
        complaints += [f'{script.name}: {ln}' for ln in out.splitlines()
                       if 'ERROR' in ln or 'WARNING' in ln]
    assert not complaints, '\n'.join(complaints)
