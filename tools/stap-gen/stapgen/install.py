# SPDX-License-Identifier: GPL-2.0
"""Install stap-gen into a kernel source tree, and take it out again.

The tree gets scripts/stap/, tools/stap-gen/, Documentation/trace/stap-gen/,
kernel-templates/ with only the set for the tree's own VERSION.PATCHLEVEL
(plus common/), a three-line hook at the end of the top-level Makefile and
an entry in Documentation/trace/index.rst.  Every file the installer adds
is listed in scripts/stap/.installed; edited files are rewritten
atomically (so a hard-linked copy of a tree is never changed behind its
back) and the edits are marked so that --uninstall removes exactly them.
"""

from __future__ import annotations

import argparse
import difflib
import email.utils
import os
import re
import shutil
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from . import paths

MANIFEST = 'scripts/stap/.installed'
HOOK = ('# stap-gen: make stap SCRIPT=foo.stp (scripts/stap/install)\n'
        'ifneq ($(wildcard $(srctree)/scripts/stap/Makefile.stap),)\n'
        'include $(srctree)/scripts/stap/Makefile.stap\n'
        'endif\n')
DOC_ENTRY = '   stap-gen/index\n'
COPY = [('scripts/stap', ('setup', 'python', 'install', 'Makefile.stap')),
        ('tools/stap-gen', None),
        ('Documentation/trace/stap-gen', None)]


class InstallError(Exception):
    """The tree cannot take the kit (or give it back)."""


def tree_version(kdir: Path) -> Tuple[int, int]:
    try:
        text = (kdir / 'Makefile').read_text()
    except OSError:
        raise InstallError(f'{kdir} is not a kernel tree (no Makefile)') from None
    v = re.search(r'^VERSION = (\d+)$', text, re.M)
    p = re.search(r'^PATCHLEVEL = (\d+)$', text, re.M)
    if not (v and p and (kdir / 'Kconfig').exists() and (kdir / 'scripts/kconfig').is_dir()):
        raise InstallError(f'{kdir} does not look like a kernel source tree '
                           '(top-level Makefile with VERSION/PATCHLEVEL, Kconfig, scripts/)')
    return int(v.group(1)), int(p.group(1))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f'.{path.name}.stap-gen.{os.getpid()}')
    tmp.write_text(text)
    shutil.copymode(path, tmp)
    os.replace(tmp, path)


def _files(src_root: Path, rel: str, names: Optional[Tuple[str, ...]]) -> List[str]:
    base = src_root / rel
    if names is not None:
        return [f'{rel}/{n}' for n in names]
    out = []
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for f in files:
            if not f.endswith('.pyc'):
                out.append(str((Path(root) / f).relative_to(src_root)))
    return sorted(out)


def _kit_files(kdir: Path) -> Tuple[str, List[str], List[str]]:
    """The tree's VERSION.PATCHLEVEL, the kit's own files and the template
    files (only the tree's set) it puts into the tree."""
    version = '%d.%d' % tree_version(kdir)
    src = paths.TOP_DIR
    templates = paths.templates_dir()
    if not (templates / version).is_dir():
        have = sorted(p.name for p in templates.iterdir()
                      if p.is_dir() and re.fullmatch(r'\d+\.\d+', p.name))
        raise InstallError(f'the kit has no kernel-templates set for Linux {version} '
                           f'(it has {", ".join(have)}); start one with cp -r '
                           f'kernel-templates/{have[-1]} kernel-templates/{version} and '
                           'run make stap-check against the tree')
    kit = []
    for rel, names in COPY:
        kit += _files(src, rel, names)
    tset = _files(src, 'kernel-templates/common', None) + \
        _files(src, f'kernel-templates/{version}', None) + ['kernel-templates/README']
    return version, kit, tset


def _edited(kdir: Path) -> List[Tuple[str, str, str]]:
    """(path, text before, text after) of the tree files the kit edits."""
    out = []
    text = (kdir / 'Makefile').read_text()
    if HOOK not in text:
        out.append(('Makefile', text, text + ('' if text.endswith('\n') else '\n') + '\n' + HOOK))
    index = kdir / 'Documentation/trace/index.rst'
    if index.exists():
        text = index.read_text()
        m = re.search(r'\.\. toctree::\n(?:   :.*\n)*\n?((?:   \S.*\n)+)', text)
        if DOC_ENTRY not in text and m:
            out.append(('Documentation/trace/index.rst', text,
                        text[:m.end(1)] + DOC_ENTRY + text[m.end(1):]))
    return out


def install(kdir: Path) -> None:
    version, kit, tset = _kit_files(kdir)
    src = paths.TOP_DIR
    files = kit + tset
    manifest = kdir / MANIFEST
    previous = set(manifest.read_text().split()) if manifest.exists() else set()
    for f in files:
        dst = kdir / f
        if dst.exists() and f not in previous:
            raise InstallError(f'{dst} exists and is not the kit\'s; not overwriting it')
    for f in files:
        dst = kdir / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f'.{dst.name}.stap-gen.{os.getpid()}')
        shutil.copy2(src / f, tmp)
        os.replace(tmp, dst)
    for stale in previous - set(files):
        (kdir / stale).unlink(missing_ok=True)
    manifest.write_text('\n'.join(files) + '\n')
    for rel, _, after in _edited(kdir):
        _write_atomic(kdir / rel, after)
    print(f'stap-gen installed in {kdir} (kernel-templates/{version}); '
          f'try: make -C {kdir} stap SCRIPT=tools/stap-gen/examples/opensnoop.stp')


def uninstall(kdir: Path) -> None:
    manifest = kdir / MANIFEST
    if not manifest.exists():
        raise InstallError(f'stap-gen is not installed in {kdir} (no {MANIFEST})')
    files = manifest.read_text().split()
    for f in files:
        (kdir / f).unlink(missing_ok=True)
    manifest.unlink()
    dirs = sorted({str(Path(f).parent) for f in files}, key=lambda d: -d.count('/'))
    for d in dirs:
        p = kdir / d
        while p != kdir:
            try:
                p.rmdir()           # only ever removes directories left empty
            except OSError:
                break
            p = p.parent
    makefile = kdir / 'Makefile'
    text = makefile.read_text()
    if '\n' + HOOK in text:
        _write_atomic(makefile, text.replace('\n' + HOOK, '', 1))
    index = kdir / 'Documentation/trace/index.rst'
    if index.exists() and DOC_ENTRY in index.read_text():
        _write_atomic(index, index.read_text().replace(DOC_ENTRY, '', 1))
    print(f'stap-gen removed from {kdir}')


# -- the same change as a patch series ------------------------------------------

def _new_file_diff(rel: str, path: Path) -> str:
    text = path.read_text()
    mode = '100755' if os.access(path, os.X_OK) else '100644'
    out = f'diff --git a/{rel} b/{rel}\nnew file mode {mode}\n'
    if not text:
        return out
    lines = text.splitlines(keepends=True)
    out += f'--- /dev/null\n+++ b/{rel}\n@@ -0,0 +1' + \
        (f',{len(lines)}' if len(lines) != 1 else '') + ' @@\n'
    for ln in lines:
        out += '+' + ln
    if not text.endswith('\n'):
        out += '\n\\ No newline at end of file\n'
    return out


def _edit_diff(rel: str, before: str, after: str) -> str:
    body = ''.join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f'a/{rel}', f'b/{rel}'))
    return f'diff --git a/{rel} b/{rel}\n' + body


def _mail(n: int, total: int, subject: str, body: str, diff: str, author: str) -> str:
    date = email.utils.formatdate(localtime=True)
    return (f'From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n'
            f'From: {author}\nDate: {date}\n'
            f'Subject: [PATCH {n}/{total}] {subject}\n\n{body}\n---\n{diff}-- \nstap-gen\n\n')


def patch_series(kdir: Path, out: Path, author: str) -> List[Path]:
    """The installation as a series `git am` applies to the tree: the kit,
    the tree's template set, then the documentation and the make hook."""
    version, kit, tset = _kit_files(kdir)
    src = paths.TOP_DIR
    edits = {rel: (before, after) for rel, before, after in _edited(kdir)}
    docs = [f for f in kit if f.startswith('Documentation/')]
    parts = [
        ('scripts/stap, tools/stap-gen: add stap-gen',
         'SystemTap-style scripts as kernel modules built by this tree\'s kbuild:\n'
         'the front end, probe resolution and the runner.',
         [_new_file_diff(f, src / f) for f in kit if f not in docs]),
        (f'kernel-templates: add the stap-gen runtime for Linux {version}',
         'The kernel-coupled C of stap-gen, as jinja2 templates that change with\n'
         'the kernel: a patch changing an API they use fixes them too.',
         [_new_file_diff(f, src / f) for f in tset]),
        ('Documentation/trace, Makefile: stap-gen documentation and make stap',
         'make stap SCRIPT=foo.stp, make stap-check and make stap-test.',
         [_new_file_diff(f, src / f) for f in docs] +
         [_edit_diff(rel, *edits[rel]) for rel in sorted(edits)]),
    ]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n, (subject, body, diffs) in enumerate(parts, 1):
        slug = re.sub(r'[^a-z0-9]+', '-', subject.lower()).strip('-')[:52]
        path = out / f'{n:04d}-{slug}.patch'
        tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
        tmp.write_text(_mail(n, len(parts), subject, body, ''.join(diffs), author))
        os.replace(tmp, path)
        written.append(path)
    print('\n'.join(str(p) for p in written))
    return written


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog='scripts/stap/install',
                                 description='Put stap-gen into a kernel tree, or take it out.')
    ap.add_argument('--uninstall', action='store_true')
    ap.add_argument('--patch', type=Path, metavar='DIR',
                    help='write the same change as a git-am series into DIR instead')
    ap.add_argument('--author', default='stap-gen <stap-gen@localhost>',
                    help='the From: of the patches')
    ap.add_argument('kdir', type=Path)
    args = ap.parse_args(argv)
    try:
        if args.patch:
            patch_series(args.kdir.resolve(), args.patch, args.author)
        else:
            (uninstall if args.uninstall else install)(args.kdir.resolve())
    except (InstallError, OSError) as e:
        print(f'stap-gen install: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
