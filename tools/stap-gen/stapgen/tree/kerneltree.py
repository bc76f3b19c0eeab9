# SPDX-License-Identifier: GPL-2.0
"""A kernel build tree, as the kit sees it.

Everything here is read from the tree itself: its release string, its
.config (through kconfiglib), its vmlinux, its Module.symvers.  A tree
that is missing a piece gets an error naming the piece and the make
target that produces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from . import kconfig
from ..diag import error


@dataclass
class KernelTree:
    objtree: Path           # where the build output is (KDIR, or O=)
    srctree: Path           # where Makefile and Kconfig are
    release: str            # include/config/kernel.release
    config: kconfig.Config

    @property
    def vmlinux(self) -> Path:
        return self.objtree / 'vmlinux'

    @property
    def bzimage(self) -> Path:
        return self.objtree / 'arch' / 'x86' / 'boot' / 'bzImage'

    @property
    def version(self) -> Tuple[int, int]:
        """(VERSION, PATCHLEVEL) of the release, e.g. (6, 12)."""
        m = re.match(r'(\d+)\.(\d+)', self.release)
        assert m, self.release
        return int(m.group(1)), int(m.group(2))

    def fact(self, name: str) -> Optional[str]:
        """What a script's %( conditional asks about this tree."""
        if name == 'kernel_vr':
            return self.release
        if name == 'kernel_v':
            m = re.match(r'\d+\.\d+(\.\d+)?', self.release)
            return m.group(0) if m else self.release
        if name == 'arch':
            return 'x86_64' if self.config.enabled('X86_64') else \
                'i386' if self.config.enabled('X86_32') else None
        if name.startswith('CONFIG_'):
            v = self.config.value(name)
            return '' if v in (None, 'n') else v
        return None

    def require(self, options: List[Tuple[str, str]]) -> None:
        """Each (CONFIG_X, why) must be enabled in the tree's .config."""
        missing = [(o, why) for o, why in options if not self.config.enabled(o)]
        if missing:
            lines = [f'{o} is not set in {self.objtree / ".config"} ({why})'
                     for o, why in missing]
            raise error('; '.join(lines),
                        hint='enable ' + ', '.join(o for o, _ in missing) +
                        ' (make menuconfig), then rebuild the kernel')


def _hint_build(kdir: Path, target: str) -> str:
    return f'build it first: make -C {kdir} {target}'


def open_tree(kdir: Path) -> KernelTree:
    """Check that kdir is a configured, built kernel tree and read its facts."""
    if not kdir.is_dir():
        raise error(f'{kdir}: no such directory',
                    hint='-r takes a kernel build tree (KDIR)')
    if not (kdir / 'Makefile').exists():
        raise error(f'{kdir} is not a kernel tree (it has no Makefile)',
                    hint='-r takes the top of a kernel source or O= build tree')
    srctree = kdir
    if (kdir / 'source').is_symlink():
        srctree = (kdir / 'source').resolve()
    if not (kdir / '.config').exists():
        raise error(f'{kdir} is not configured (no .config)',
                    hint=f'configure it: make -C {kdir} defconfig (or menuconfig)')
    missing = []
    for path, target in (('include/config/kernel.release', 'modules_prepare'),
                         ('include/generated/autoconf.h', 'modules_prepare'),
                         ('scripts/mod/modpost', 'modules_prepare'),
                         ('vmlinux', 'vmlinux'),
                         ('Module.symvers', 'modules')):
        if not (kdir / path).exists():
            missing.append((path, target))
    if missing:
        targets = ' '.join(dict.fromkeys(t for _, t in missing))
        raise error(f'{kdir} is not a built kernel tree: missing ' +
                    ', '.join(p for p, _ in missing),
                    hint=_hint_build(kdir, targets))
    release = (kdir / 'include/config/kernel.release').read_text().strip()
    try:
        config = kconfig.load(srctree, kdir)
    except kconfig.KconfigError as e:
        raise error(str(e)) from None
    return KernelTree(kdir, srctree, release, config)


def find_template_set(tree: KernelTree, templates: Path) -> Path:
    """The template set for the tree's VERSION.PATCHLEVEL, or a clear error."""
    name = '%d.%d' % tree.version
    path = templates / name
    if path.is_dir():
        return path
    known = sorted((p.name for p in templates.iterdir()
                    if p.is_dir() and re.fullmatch(r'\d+\.\d+', p.name)),
                   key=lambda s: tuple(int(x) for x in s.split('.')))
    raise error(f'no kernel-templates set for Linux {name} (tree {tree.objtree}); '
                f'sets available: {", ".join(known) or "none"}',
                hint=f'start one: cp -r {templates}/{known[-1] if known else "X.Y"} '
                     f'{templates}/{name}, then run make stap-check and fix '
                     'what the compiler reports')

