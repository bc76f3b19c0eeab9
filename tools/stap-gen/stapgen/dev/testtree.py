# SPDX-License-Identifier: GPL-2.0
"""Build and cache the kit's test kernels.

The test trees are Debian's linux-source-6.1 and linux-source-6.12, built
small: tinyconfig plus the kit's fragment (configs/stap-test.config).  A
built tree is cached outside the repository, keyed by the source package's
version and the fragment's content, so a second run costs nothing and a
changed fragment gets a fresh tree.  The build happens in a scratch
directory that is renamed into place only when everything succeeded.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from ..tree import kconfig
from .. import paths

LINES = ('6.1', '6.12')
DEFAULT_LINE = '6.12'
# Bump when the recipe below changes in a way the cache key cannot see.
RECIPE = '1'


class TreeError(Exception):
    """A test tree could not be obtained or built."""


@dataclass(frozen=True)
class TestTree:
    line: str           # '6.1'
    package: str        # 'linux-source-6.1'
    version: str        # the package's version, '6.1.192-2'

    @property
    def tarball(self) -> Path:
        return Path('/usr/src') / f'{self.package}.tar.xz'

    @property
    def key(self) -> str:
        digest = hashlib.sha256(paths.CONFIG_FRAGMENT.read_bytes()
                                + RECIPE.encode()).hexdigest()[:12]
        return f'{self.version}-{digest}'

    @property
    def root(self) -> Path:
        return paths.cache_dir() / 'trees' / self.key

    @property
    def kdir(self) -> Path:
        return self.root / self.package

    def is_built(self) -> bool:
        return (self.root / 'BUILT').exists()

    @property
    def outside(self) -> Path:
        """Where the tree's O= layout lives: a source tree and build/."""
        return self.root.parent / f'{self.key}-O'


def _package_version(package: str) -> Optional[str]:
    try:
        out = subprocess.run(['dpkg-query', '-W', '-f=${Status} ${Version}', package],
                             capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    words = out.split()
    if len(words) == 4 and words[2] == 'installed':
        return words[3]
    return None


def lookup(line: str) -> TestTree:
    """The test tree for a kernel line; its source package must be installed."""
    if line not in LINES:
        raise TreeError(f'unknown test tree {line!r}; known: {", ".join(LINES)}')
    package = f'linux-source-{line}'
    version = _package_version(package)
    if version is None:
        raise TreeError(f'{package} is not installed; run scripts/stap/setup '
                        f'(or: apt-get install {package})')
    return TestTree(line, package, version)


def built_kdir(line: str) -> Path:
    """KDIR of an already built test tree, or a TreeError saying how to build it."""
    tree = lookup(line)
    if not tree.is_built():
        raise TreeError(f'the {line} test tree is not built; run '
                        f'`make trees` (or tools/stap-gen/build-test-tree {line})')
    return tree.kdir


def built_outside(line: str) -> Tuple[Path, Path]:
    """(source tree, O= output directory) of a test tree's O= layout."""
    tree = lookup(line)
    if not (tree.outside / 'BUILT').exists():
        raise TreeError(f'the {line} test tree has no O= layout; run `make trees`')
    return tree.outside / tree.package, tree.outside / 'build'


def _run(cmd: List[str], cwd: Path, log: Path) -> None:
    print('$', ' '.join(cmd), flush=True)
    with log.open('a') as f:
        f.write('$ ' + ' '.join(cmd) + '\n')
        f.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                              check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors='replace').splitlines()[-30:]
        raise TreeError('command failed: ' + ' '.join(cmd) + '\n' +
                        '\n'.join(tail) + f'\n(whole log: {log})')


def _check_config(kdir: Path) -> List[str]:
    """Fragment symbols that did not survive olddefconfig in this tree."""
    conf = kconfig.load(kdir)
    lost = []
    for line in paths.CONFIG_FRAGMENT.read_text().splitlines():
        line = line.strip()
        if line.startswith('CONFIG_') and '=' in line:
            name, want = line.split('=', 1)
        elif line.startswith('# CONFIG_') and line.endswith(' is not set'):
            name, want = line[2:-len(' is not set')], 'n'
        else:
            continue
        have = conf.value(name)
        if have is None:
            continue        # not a symbol of this kernel (renamed menus)
        if have != want.strip('"'):
            lost.append(f'{name}={want} (got {have})')
    return lost


def build(tree: TestTree, jobs: int) -> Path:
    if tree.is_built():
        print(f'{tree.line}: cached at {tree.kdir}')
        return tree.kdir
    if not tree.tarball.exists():
        raise TreeError(f'{tree.tarball} is missing; reinstall {tree.package}')
    tree.root.parent.mkdir(parents=True, exist_ok=True)
    scratch = tree.root.parent / f'.{tree.key}.tmp{os.getpid()}'
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    log = scratch / 'build.log'
    start = time.monotonic()
    try:
        print(f'{tree.line}: building {tree.package} {tree.version} in {scratch}')
        _run(['tar', '-xf', str(tree.tarball)], scratch, log)
        src = scratch / tree.package
        _run(['make', 'tinyconfig'], src, log)
        _run(['scripts/kconfig/merge_config.sh', '-m', '.config',
              str(paths.CONFIG_FRAGMENT)], src, log)
        _run(['make', 'olddefconfig'], src, log)
        lost = _check_config(src)
        if lost:
            raise TreeError(f'{tree.line}: the fragment did not apply; these '
                            'symbols lack dependencies in this tree:\n  ' +
                            '\n  '.join(lost))
        _run(['make', f'-j{jobs}', 'vmlinux', 'bzImage', 'modules_prepare'], src, log)
        _run(['make', f'-j{jobs}', 'modules'], src, log)
        (scratch / 'BUILT').write_text(f'{tree.package} {tree.version}\n')
        shutil.rmtree(tree.root, ignore_errors=True)
        os.replace(scratch, tree.root)
    except BaseException:
        if sys.exc_info()[0] is not TreeError:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    print(f'{tree.line}: built in {time.monotonic() - start:.0f} s: {tree.kdir}')
    return tree.kdir


# What a module build and a boot take from the built kernel.
KERNEL_FILES = ('vmlinux', 'System.map', 'Module.symvers', 'arch/x86/boot/bzImage')


def build_outside(tree: TestTree, jobs: int) -> Tuple[Path, Path]:
    """The test tree in kbuild's O= layout, for the tests of out-of-tree
    builds: a clean source tree (the package's tarball) and an output
    directory that kbuild itself configures and prepares for modules
    (`make O=build olddefconfig modules_prepare`, from the built tree's
    .config).  The kernel that runs (bzImage, vmlinux, System.map,
    Module.symvers) is the in-tree build of the same source and config, so
    modules built in build/ load into it; compiling the kernel a second time
    would double the trees' build time.  kbuild records absolute paths in
    an output directory, so it is made in place and marked BUILT last.
    """
    root = tree.outside
    src, out = root / tree.package, root / 'build'
    if (root / 'BUILT').exists():
        print(f'{tree.line}: O= layout cached at {out}')
        return src, out
    shutil.rmtree(root, ignore_errors=True)
    out.mkdir(parents=True)
    log = root / 'build.log'
    try:
        _run(['tar', '-xf', str(tree.tarball)], root, log)
        shutil.copy2(tree.kdir / '.config', out / '.config')
        _run(['make', f'O={out}', 'olddefconfig'], src, log)
        _run(['make', f'O={out}', f'-j{jobs}', 'modules_prepare'], src, log)
        for name in KERNEL_FILES:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tree.kdir / name, out / name)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    (root / 'BUILT').write_text(f'{tree.package} {tree.version}\n')
    print(f'{tree.line}: O= layout ready: make -C {src} O={out}')
    return src, out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog='build-test-tree',
                                 description='Build (or find cached) test kernels.')
    ap.add_argument('lines', nargs='*', default=list(LINES),
                    help=f'kernel lines to build (default: {" ".join(LINES)})')
    ap.add_argument('-j', '--jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--print-kdir', action='store_true',
                    help='only print the KDIR of each (built) tree')
    args = ap.parse_args(argv)
    try:
        for line in args.lines:
            if args.print_kdir:
                print(built_kdir(line))
            else:
                build(lookup(line), args.jobs)
                build_outside(lookup(line), args.jobs)
    except (TreeError, kconfig.KconfigError) as e:
        print(f'build-test-tree: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
