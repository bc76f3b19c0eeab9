"""The language corpus: each tests/corpus/NAME.stp runs for real in QEMU and
its output must equal NAME.out, written by hand from SystemTap's documented
semantics.  NAME.cmd is the workload (-c), NAME.err a message the run must
report (such a run ends with exit status 1).  All scripts of a tree are
built in one kbuild run and run one after another in one boot."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest

from conftest import assert_healthy, stapgen
from stapgen import kbuild, tree as treemod, vm

CORPUS = Path(__file__).parent / 'corpus'
SCRIPTS = sorted(CORPUS.glob('*.stp'))


def _module_name(script: Path) -> str:
    return 'corpus_' + script.stem.replace('-', '_')




def test_corpus(kdir: Path, tmp_path: Path) -> None:
    sources: Dict[str, str] = {}
    for script in SCRIPTS:
        r = stapgen('-r', str(kdir), '-p3', '-m', _module_name(script), str(script))
        assert r.returncode == 0, f'{script.name}: {r.stderr}'
        sources[_module_name(script)] = r.stdout
    tree = treemod.open_tree(kdir)
    kos = kbuild.build_many(tree, sources, tmp_path / 'ko')
    jobs: List[vm.BatchJob] = []
    for script in SCRIPTS:
        cmd = script.with_suffix('.cmd')
        jobs.append(vm.BatchJob(kos[_module_name(script)],
                                cmd.read_text().strip() if cmd.exists() else None,
                                timeout=20))
    console = tmp_path / 'console.log'
    results = vm.run_batch(tree.bzimage, jobs, console)
    failures = []
    for script, res in zip(SCRIPTS, results):
        want = script.with_suffix('.out').read_text()
        err = script.with_suffix('.err')
        want_rc = 1 if err.exists() else 0
        problems = []
        if res.output != want:
            problems.append(f'output {res.output!r} != {want!r}')
        if res.exit_code != want_rc:
            problems.append(f'exit {res.exit_code} != {want_rc}')
        if err.exists() and err.read_text().strip() not in res.messages:
            problems.append(f'messages lack {err.read_text().strip()!r}: {res.messages!r}')
        if problems:
            failures.append(f'{script.name}: ' + '; '.join(problems))
    assert not failures, '\n'.join(failures)
    log = console.read_text(errors='replace')
    assert_healthy(log)
