# SPDX-License-Identifier: GPL-2.0
"""Build a generated module with the tree's own kbuild.

The C and a one-line Kbuild go into a scratch directory; `make -C KDIR
M=DIR modules` builds it exactly as any external module is built.  Only a
finished .ko is moved to its destination (atomically), so a failed build
leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..diag import StapError, error
from ..tree.kerneltree import KernelTree


@dataclass
class BuildRequest:
    tree: KernelTree
    module: str
    c_text: str
    defines: Dict[str, str]
    verbose: int = 0
    keep_dir: bool = False
    kbuild_style: bool = False      # print kbuild's own progress lines
    include_dirs: List[Path] = field(default_factory=list)  # the runtime's headers


def _kbuild_file(objects: List[str], include_dirs: List[Path],
                 defines: Dict[str, str]) -> str:
    """The module's Kbuild: its objects, the template set's headers (the
    line's own set first, then common/) and the -D limits."""
    flags = [f'-I{d}' for d in include_dirs] + \
        [f'-D{k}={v}' for k, v in sorted(defines.items())]
    text = 'obj-m := ' + ' '.join(objects) + '\n'
    return text + (f'ccflags-y := {" ".join(flags)}\n' if flags else '')


def _echo(cmd: List[str]) -> None:
    print('$ ' + ' '.join(cmd), file=sys.stderr, flush=True)


def build(req: BuildRequest, dest: Path) -> Path:
    """Build req into dest/NAME.ko; returns its path."""
    tmp = Path(tempfile.mkdtemp(prefix=f'stap-gen-{req.module}-'))
    try:
        src = tmp / f'{req.module}.c'
        src.write_text(req.c_text)
        (tmp / 'Kbuild').write_text(_kbuild_file([f'{req.module}.o'], req.include_dirs,
                                                 req.defines))
        cmd = ['make', '-C', str(req.tree.objtree), f'M={tmp}', 'modules']
        if req.verbose >= 2:
            cmd.append('V=1')
        if req.verbose:
            _echo(cmd)
        if req.verbose or req.kbuild_style:
            print(f'  STAPGEN {req.module}.c', file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, check=False, env=_clean_env())
        if req.verbose:
            sys.stderr.write(proc.stdout)
        elif req.kbuild_style and proc.returncode == 0:
            sys.stderr.write(''.join(ln for ln in proc.stdout.splitlines(True)
                                     if ln.startswith('  ') and not ln.startswith('   ')))
        ko = tmp / f'{req.module}.ko'
        if proc.returncode != 0 or not ko.exists():
            failed = error(f'kbuild failed to build {req.module}.ko against '
                           f'{req.tree.objtree} (make exit {proc.returncode})',
                           hint='the compiler messages above name the template '
                                'or script line; -k keeps the build directory')
            if not req.verbose:
                failed.prelude = _relevant(proc.stdout)
            raise failed
        dest.mkdir(parents=True, exist_ok=True)
        final = dest / ko.name
        staging = dest / f'.{ko.name}.tmp{os.getpid()}'
        shutil.copyfile(ko, staging)
        os.replace(staging, final)
        return final
    except StapError:
        if req.keep_dir:
            print(f'stap-gen: build directory kept: {tmp}', file=sys.stderr)
        raise
    finally:
        if not req.keep_dir:
            shutil.rmtree(tmp, ignore_errors=True)


# What a module build may take from the caller's environment.
_ENV_KEEP = {'PATH', 'HOME', 'LANG', 'LANGUAGE', 'TERM', 'TMPDIR', 'USER', 'LOGNAME',
             'SHELL', 'ARCH', 'CROSS_COMPILE', 'LLVM', 'LLVM_IAS', 'KCFLAGS',
             'CCACHE_DIR', 'SOURCE_DATE_EPOCH'}


def _clean_env() -> Dict[str, str]:
    """The environment without what a parent make exported.

    `make stap` runs this from inside the kernel's own make, which exports
    its make flags, its command-line variables (O=, SCRIPT=, ...) and many
    of its own; none of that may leak into the external module build.
    """
    return {k: v for k, v in os.environ.items()
            if k in _ENV_KEEP or k.startswith(('LC_', 'STAPGEN', 'XDG_'))}


def _relevant(output: str) -> str:
    """Compiler diagnostics without make's own chatter."""
    keep = [ln for ln in output.splitlines(keepends=True)
            if not ln.startswith(('make[', 'make:'))]
    return ''.join(keep)


def build_many(tree: KernelTree, sources: Dict[str, str], dest: Path,
               include_dirs: List[Path], jobs: int = 0) -> Dict[str, Path]:
    """Build several generated modules in one kbuild run (faster than one each).

    Returns the .ko of each module; if any failed, the compiler output of
    the failures is raised.
    """
    built, failed = build_each(tree, sources, dest, include_dirs, jobs)
    if failed:
        raise error(f'kbuild failed to build {", ".join(sorted(failed))}:\n' +
                    ''.join(failed.values()))
    return built


def build_each(tree: KernelTree, sources: Dict[str, str], dest: Path,
               include_dirs: List[Path], jobs: int = 0
               ) -> Tuple[Dict[str, Path], Dict[str, str]]:
    """Build several modules in one kbuild run, going on past failures:
    (the .ko of each module that built, the compiler output of each that
    did not).  kbuild links no module while any object fails, so the
    modules that compiled are linked in one more (incremental) run; make's
    --output-sync keeps each object's messages after the line kbuild prints
    for it, and modpost names the module it refuses."""
    tmp = Path(tempfile.mkdtemp(prefix='stap-gen-many-'))
    try:
        for name, text in sources.items():
            (tmp / f'{name}.c').write_text(text)
        names, failed = list(sources), {}
        while names:
            (tmp / 'Kbuild').write_text(_kbuild_file([f'{m}.o' for m in names],
                                                     include_dirs, {}))
            cmd = ['make', '-C', str(tree.objtree), f'M={tmp}',
                   f'-j{jobs or os.cpu_count() or 1}', '-k', '--output-sync=target', 'modules']
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, check=False, env=_clean_env())
            if proc.returncode == 0:
                break
            said = _messages_by_module(_relevant(proc.stdout), names)
            named = {Path(m).name for m in _MODPOST.findall(proc.stdout)}
            refused = {m for m in names if not (tmp / f'{m}.o').exists()} or \
                {m for m in names if m in named} or set(names)
            for m in refused:
                failed[m] = ''.join(said[m]) or _relevant(proc.stdout)
            names = [m for m in names if m not in refused]
        dest.mkdir(parents=True, exist_ok=True)
        built = {}
        for name in names:
            shutil.copyfile(tmp / f'{name}.ko', dest / f'{name}.ko')
            built[name] = dest / f'{name}.ko'
        return built, failed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_TARGET = re.compile(r'^  [A-Z]+(?: \[M\])? +(\S+)$')     # '  CC [M]  dir/name.o'
_MODPOST = re.compile(r'ERROR: modpost: .*\[(\S+?)\.ko\]')


def _messages_by_module(output: str, names: List[str]) -> Dict[str, List[str]]:
    """kbuild's messages split by the module they are about."""
    said: Dict[str, List[str]] = {name: [] for name in names}
    current: Optional[str] = None
    for ln in output.splitlines(keepends=True):
        m = _TARGET.match(ln.rstrip('\n'))
        if m:
            stem = Path(m.group(1)).name.split('.')[0]
            current = stem if stem in said else None
            continue
        m = _MODPOST.search(ln)
        if m and Path(m.group(1)).name in said:
            said[Path(m.group(1)).name].append(ln)
        elif current is not None:
            said[current].append(ln)
    return said
