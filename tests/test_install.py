# SPDX-License-Identifier: GPL-2.0
"""stap-gen installed into a kernel tree: make stap, make stap-check, RUN=vm,
a template error reported at the tree's template line, and an uninstall
that leaves the tree as it was.  Runs on the cached test trees themselves
(every edit is atomic and undone in a finally)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest

from conftest import LINES, TOP, write
from stapgen.dev import testtree

INSTALL = TOP / 'scripts' / 'stap' / 'install'
TOUCHED = ('Makefile', 'Documentation/trace/index.rst')
ADDED = ('scripts/stap', 'tools/stap-gen', 'kernel-templates', 'Documentation/trace/stap-gen')


def snapshot(kdir: Path) -> Dict[str, str]:
    out = {f: hashlib.sha256((kdir / f).read_bytes()).hexdigest() for f in TOUCHED}
    for d in ADDED:
        out[d] = str((kdir / d).exists())
    out['top'] = ' '.join(sorted(os.listdir(kdir)))
    return out


def make(kdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['make', '-s', '-C', str(kdir), *args], capture_output=True,
                          text=True, cwd='/')


def test_install_use_uninstall(kdir: Path, tmp_path: Path) -> None:
    if (kdir / 'scripts' / 'stap' / '.installed').exists():
        # a run that was killed half-way left the kit in the cached tree
        subprocess.run([str(INSTALL), '--uninstall', str(kdir)], check=True,
                       capture_output=True)
    before = snapshot(kdir)
    assert before['scripts/stap'] == 'False', 'the kit is already installed here'
    try:
        for _ in range(2):          # idempotent
            r = subprocess.run([str(INSTALL), str(kdir)], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        line = re.match(r'(\d+\.\d+)', (kdir / 'include/config/kernel.release').read_text())
        sets = sorted(p.name for p in (kdir / 'kernel-templates').iterdir() if p.is_dir())
        assert sets == sorted(['common', line.group(1)])
        r = make(kdir, 'stap')
        assert r.returncode != 0 and 'usage: make stap SCRIPT=foo.stp' in r.stderr
        r = make(kdir, 'stap', 'SCRIPT=tools/stap-gen/examples/opensnoop.stp',
                 'MODNAME=intree_opensnoop')
        assert r.returncode == 0, r.stderr
        assert '  STAPGEN intree_opensnoop.c' in r.stderr and '  LD [M]  ' in r.stderr
        assert (kdir / 'intree_opensnoop.ko').exists()
        (kdir / 'intree_opensnoop.ko').unlink()
        # as kbuild names modules after their source: opensnoop.stp -> opensnoop.ko
        r = make(kdir, 'stap', 'SCRIPT=tools/stap-gen/examples/opensnoop.stp')
        assert r.returncode == 0, r.stderr
        assert (kdir / 'opensnoop.ko').exists()
        (kdir / 'opensnoop.ko').unlink()
        r = make(kdir, 'stap-check')
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.match(r'KTAP version 1\n1\.\.\d+\nok 1 opensnoop.stp\n', r.stdout)
        # the tree's tapsets are checked too: every alias resolves, every
        # function compiles, and the syscall family made from its table
        assert re.search(r'^ok \d+ tapset common/tapset/syscall_any.stp$', r.stdout, re.M)
        assert re.search(r'^ok \d+ tapset syscall\.\* \(from the syscall table\)$',
                         r.stdout, re.M)
        assert 'not ok' not in r.stdout
        # a kernel change an alias does not follow shows in the tree: the
        # alias's file fails, the message points at its line
        alias = kdir / 'kernel-templates' / 'common' / 'tapset' / 'syscall_any.stp'
        original = alias.read_text()
        try:
            alias.write_text(original.replace('raw_syscalls:sys_enter', 'raw_syscalls:sys_entry'))
            r = make(kdir, 'stap-check')
            assert r.returncode != 0
            assert re.search(r'^not ok \d+ tapset common/tapset/syscall_any.stp', r.stdout, re.M)
            assert f'{alias}:13:' in r.stdout and 'no tracepoint matches' in r.stdout, r.stdout
        finally:
            alias.write_text(original)
        # the in-tree target on a few of the self-tests (test_corpus runs
        # them all): one with a workload, one with an expected error
        few = tmp_path / 'few'
        few.mkdir()
        for name in ('sysmkdir', 'badptr'):
            for f in (kdir / 'tools/stap-gen/selftests').glob(f'{name}.*'):
                (few / f.name).symlink_to(f)
        r = make(kdir, 'stap-test', f'STAP_DIR={few}')
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith('KTAP version 1\n1..2\n') and 'not ok' not in r.stdout
        script = write(tmp_path, 'hello.stp', 'probe begin { printf("in tree\\n"); exit() }\n')
        r = make(kdir, 'stap', f'SCRIPT={script}', 'RUN=vm')
        assert r.returncode == 0, r.stderr
        assert r.stdout == 'in tree\n'
        # the tree's own templates are used: an error in one points at it
        victim = next((kdir / 'kernel-templates' / 'common').rglob('builtins.h'))
        original = victim.read_text()
        try:
            victim.write_text('#error "tree template"\n' + original)
            r = make(kdir, 'stap', f'SCRIPT={script}', 'MODNAME=broken')
            assert r.returncode != 0
            assert f'{victim}:1:2: error: #error "tree template"' in r.stderr
            r = make(kdir, 'stap-check')
            assert 'not ok 1 opensnoop.stp' in r.stdout and str(victim) in r.stdout
        finally:
            victim.write_text(original)
    finally:
        r = subprocess.run([str(INSTALL), '--uninstall', str(kdir)], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    assert snapshot(kdir) == before


def test_install_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    not_a_tree = tmp_path / 'nothing'
    not_a_tree.mkdir()
    r = subprocess.run([str(INSTALL), str(not_a_tree)], capture_output=True, text=True)
    assert r.returncode != 0 and 'is not a kernel tree' in r.stderr
    old = tmp_path / 'linux-5.10'
    (old / 'scripts' / 'kconfig').mkdir(parents=True)
    (old / 'Kconfig').write_text('')
    (old / 'Makefile').write_text('VERSION = 5\nPATCHLEVEL = 10\nSUBLEVEL = 0\n')
    r = subprocess.run([str(INSTALL), str(old)], capture_output=True, text=True)
    assert r.returncode != 0
    assert 'no kernel-templates set for Linux 5.10' in r.stderr
    assert 'cp -r kernel-templates/6.12 kernel-templates/5.10' in r.stderr
    assert sorted(os.listdir(old)) == ['Kconfig', 'Makefile', 'scripts']
    r = subprocess.run([str(INSTALL), '--uninstall', str(old)], capture_output=True, text=True)
    assert r.returncode != 0 and 'is not installed' in r.stderr


@pytest.fixture(params=LINES, ids=[f'linux-{x}' for x in LINES])
def outside(request: pytest.FixtureRequest) -> Tuple[Path, Path]:
    """A test tree in kbuild's O= layout: (source tree, output directory)."""
    try:
        return testtree.built_outside(request.param)
    except testtree.TreeError as e:
        pytest.fail(str(e))


def test_output_directory(outside: Tuple[Path, Path], tmp_path: Path) -> None:
    """Installed into a source tree whose build lives elsewhere: make O=dir
    and KBUILD_OUTPUT=dir build in the output directory and run its kernel."""
    src, out = outside
    if (src / 'scripts' / 'stap' / '.installed').exists():
        subprocess.run([str(INSTALL), '--uninstall', str(src)], check=True,
                       capture_output=True)
    before = snapshot(src)
    out_before = sorted(os.listdir(out))
    try:
        r = subprocess.run([str(INSTALL), str(src)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = make(src, f'O={out}', 'stap', 'SCRIPT=tools/stap-gen/examples/opensnoop.stp',
                 'MODNAME=outside_opensnoop')
        assert r.returncode == 0, r.stderr
        assert '  STAPGEN outside_opensnoop.c' in r.stderr and '  LD [M]  ' in r.stderr
        ko = out / 'outside_opensnoop.ko'
        assert ko.exists() and not (src / ko.name).exists()
        ko.unlink()
        r = make(src, f'O={out}', 'stap-check')
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.match(r'KTAP version 1\n1\.\.\d+\nok 1 opensnoop.stp\n', r.stdout)
        assert 'not ok' not in r.stdout
        script = write(tmp_path, 'hello.stp', 'probe begin { printf("outside\\n"); exit() }\n')
        r = subprocess.run(['make', '-s', '-C', str(src), 'stap', f'SCRIPT={script}',
                            'RUN=vm'], capture_output=True, text=True, cwd='/',
                           env=dict(os.environ, KBUILD_OUTPUT=str(out)))
        assert r.returncode == 0, r.stderr
        assert r.stdout == 'outside\n'
    finally:
        r = subprocess.run([str(INSTALL), '--uninstall', str(src)], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    assert snapshot(src) == before
    assert sorted(os.listdir(out)) == out_before


def _fake_tree(root: Path) -> Path:
    (root / 'scripts' / 'kconfig').mkdir(parents=True)
    (root / 'scripts' / 'kconfig' / 'Makefile').write_text('# kconfig\n')
    (root / 'Kconfig').write_text('mainmenu "Linux"\n')
    (root / 'Makefile').write_text('VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n\nall:\n')
    (root / 'Documentation' / 'trace').mkdir(parents=True)
    (root / 'Documentation' / 'trace' / 'index.rst').write_text(
        'Tracing\n=======\n\n.. toctree::\n   :maxdepth: 1\n\n   ftrace\n   kprobes\n')
    return root


def test_patch_series_is_the_installation(tmp_path: Path) -> None:
    """install --patch writes a series `git am` applies; the result is what
    install writes (less the installer's manifest)."""
    git = ['git', '-c', 'user.name=t', '-c', 'user.email=t@t']
    tree = _fake_tree(tmp_path / 'linux')
    subprocess.run(['git', 'init', '-q', str(tree)], check=True)
    subprocess.run([*git, '-C', str(tree), 'add', '.'], check=True)
    subprocess.run([*git, '-C', str(tree), 'commit', '-qm', 'base'], check=True)
    r = subprocess.run([str(INSTALL), '--patch', str(tmp_path / 'series'), str(tree)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    series = sorted((tmp_path / 'series').glob('*.patch'))
    assert len(series) == 3 and r.stdout.split() == [str(p) for p in series]
    assert [p.read_text().split('Subject: ')[1].split('\n')[0] for p in series] == [
        '[PATCH 1/3] scripts/stap, tools/stap-gen: add stap-gen',
        '[PATCH 2/3] kernel-templates: add the stap-gen runtime for Linux 6.12',
        '[PATCH 3/3] Documentation/trace, Makefile: stap-gen documentation and make stap']
    r = subprocess.run([*git, '-C', str(tree), 'am', '-q', *map(str, series)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    other = _fake_tree(tmp_path / 'other')
    r = subprocess.run([str(INSTALL), str(other)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (other / 'scripts' / 'stap' / '.installed').unlink()

    def files(root: Path) -> Dict[str, Tuple[bytes, bool]]:
        return {str(p.relative_to(root)): (p.read_bytes(), os.access(p, os.X_OK))
                for p in root.rglob('*') if p.is_file() and '.git' not in p.parts}
    assert files(tree) == files(other)
    assert 'stap-gen/index' in (tree / 'Documentation/trace/index.rst').read_text()
