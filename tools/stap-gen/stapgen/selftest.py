"""Run a directory of scripts with expected output in QEMU; report KTAP.

NAME.stp is run with NAME.cmd (if present) as its workload; its output
must equal NAME.out; with NAME.err present the run must end with exit
status 1 and its messages must contain that text.  All scripts are built
in one kbuild run and run one after another in one boot of the tree's
kernel, so a kernel CI can run this cheaply (`make stap-test`).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import List

from .run import kbuild
from .tree import kerneltree as treemod
from .run import vm
from .diag import error


def module_name(script: Path) -> str:
    return 'selftest_' + re.sub(r'\W', '_', script.stem)


def run(kdir: Path, directory: Path, generate, console: Path) -> int:  # type: ignore[no-untyped-def]
    """generate(script, module) -> C text; prints KTAP; returns the failures."""
    scripts = sorted(p for p in directory.resolve().glob('*.stp')
                     if p.with_suffix('.out').exists())
    if not scripts:
        raise error(f'no NAME.stp with a NAME.out in {directory}')
    tree = treemod.open_tree(kdir)
    print('KTAP version 1')
    print(f'1..{len(scripts)}', flush=True)
    sources = {module_name(s): generate(s, module_name(s)) for s in scripts}
    with tempfile.TemporaryDirectory(prefix='stap-test-') as tmp:
        kos = kbuild.build_many(tree, sources, Path(tmp))
        jobs = []
        for s in scripts:
            cmd = s.with_suffix('.cmd')
            jobs.append(vm.BatchJob(kos[module_name(s)],
                                    cmd.read_text().strip() if cmd.exists() else None,
                                    timeout=20))
        try:
            results = vm.run_batch(tree.bzimage, jobs, console)
        except vm.VMError as e:
            raise error(str(e)) from None
    failed = 0
    for i, (s, res) in enumerate(zip(scripts, results), 1):
        problems: List[str] = []
        want = s.with_suffix('.out').read_text()
        err = s.with_suffix('.err')
        if res.output != want:
            problems.append(f'output {res.output!r}, expected {want!r}')
        if res.exit_code != (1 if err.exists() else 0):
            problems.append(f'exit status {res.exit_code}')
        if err.exists() and err.read_text().strip() not in res.messages:
            problems.append(f'messages {res.messages!r} lack {err.read_text().strip()!r}')
        if problems:
            failed += 1
            print(f'not ok {i} {s.name}')
            for p in problems:
                print(f'# {p}')
        else:
            print(f'ok {i} {s.name}')
    print(f'# {len(scripts) - failed} passed, {failed} failed; console log: {console}')
    sys.stdout.flush()
    return failed
