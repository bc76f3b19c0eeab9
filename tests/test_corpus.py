# SPDX-License-Identifier: GPL-2.0
"""The language corpus, tools/stap-gen/selftests: each NAME.stp runs for real
in QEMU and its output must equal NAME.out, written by hand from
SystemTap's documented semantics (NAME.cmd: the workload; NAME.err: a
message the run must report, with exit status 1).  The suite runs it the
way a kernel CI would, through `stap-gen --test` (make stap-test): one
kbuild run and one boot per tree, KTAP out."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import TOP, assert_healthy, stapgen

SELFTESTS = TOP / 'tools' / 'stap-gen' / 'selftests'


def test_corpus(kdir: Path, tmp_path: Path) -> None:
    console = tmp_path / 'console.log'
    r = stapgen('-r', str(kdir), '--test', str(SELFTESTS), '--vm-console', str(console),
                timeout=1800)
    scripts = sorted(p.name for p in SELFTESTS.glob('*.stp'))
    assert r.stdout.startswith(f'KTAP version 1\n1..{len(scripts)}\n'), r.stdout + r.stderr
    results = re.findall(r'^(ok|not ok) \d+ (\S+)$', r.stdout, re.M)
    assert [name for _, name in results] == scripts
    failed = [ln for ln in r.stdout.splitlines() if ln.startswith(('not ok', '# output',
                                                                  '# exit', '# messages'))]
    assert not failed, '\n'.join(failed)
    assert r.returncode == 0, r.stderr
    assert_healthy(console.read_text(errors='replace'))
