# SPDX-License-Identifier: GPL-2.0
"""Report: how much of SystemTap's own example corpus stap-gen takes.

SystemTap ships its examples (Debian package systemtap-doc, under
/usr/share/systemtap/examples), each NAME.stp with a NAME.meta whose
`test_check:` line is how SystemTap's testsuite checks it, e.g.

    test_check: stap -p4 chng_cpu.stp bash
    test_check: stap -gp4 psig.stp -x $$

For every example this runs that line with stap-gen standing in for stap,
against one tree, at -p1 (parse), then -p2 (resolve) if -p1 passed, then
-p4 (build the module) if -p2 passed.  The line runs under /bin/sh in a
scratch copy of the example's directory (so `-Itapset/`, `$$` and
`which stap` mean what they mean for stap), with `stap` on PATH a small
shim that runs `stap-gen -r KDIR ... -pN`.  An example whose test_check
is not a stap command (`./socktop -D`) is run as `stap -p4 NAME.stp`.

It prints, per category (the example's directory), how many pass each
pass, and for each failure the first error line.  A report, not a test:
it asserts nothing and its exit status is 0 unless its own input is bad.

    tools/stap-gen/bench/corpus-report [--tree 6.12|KDIR] [-j N] [--only GLOB]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .. import paths
from . import testtree

PROG = 'corpus-report'
EXAMPLES = Path('/usr/share/systemtap/examples')
PASSES = (1, 2, 4)
TIMEOUT = 600


class CorpusError(Exception):
    """Bad input: one line for the user."""


@dataclass
class Example:
    category: str
    name: str                   # NAME.stp, relative to its directory
    directory: Path             # relative to the corpus root
    command: str                # the shell line, stap standing for the kit
    note: str = ''              # why the command is not the meta's own
    passed: Dict[int, bool] = field(default_factory=dict)
    error: str = ''


def _meta_fields(path: Path) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in path.read_text(errors='replace').splitlines():
        key, sep, value = line.partition(':')
        if sep and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def collect(root: Path, only: Optional[str]) -> List[Example]:
    out = []
    for meta in sorted(root.rglob('*.meta')):
        rel = meta.relative_to(root)
        fields = _meta_fields(meta)
        stp = meta.with_suffix('.stp')
        name = fields.get('name', stp.name)
        if not (meta.parent / name).exists():
            if not stp.exists():
                continue                    # a meta of something that is not a script
            name = stp.name
        if only and not fnmatch.fnmatch(str(rel.parent / name), only):
            continue
        command = fields.get('test_check', '')
        note = ''
        if not command.startswith('stap '):
            note = f'test_check is {command!r}' if command else 'no test_check'
            command = f'stap -p4 {shlex.quote(name)}'
        out.append(Example(rel.parts[0] if len(rel.parts) > 1 else '.', name,
                           rel.parent, command, note))
    return out


SHIM = '''#!/bin/sh
# stap, as the corpus report runs it: stap-gen against one tree, one pass.
exec {stapgen} -r {kdir} "$@" -p"$CORPUS_PASS"
'''


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if 'error' in ln.lower():
            return ln
    return lines[0] if lines else '(no message)'


def run_one(ex: Example, scratch: Path, shim_dir: Path) -> Example:
    env = dict(os.environ, PATH=f'{shim_dir}:{os.environ.get("PATH", "")}')
    for p in PASSES:
        env['CORPUS_PASS'] = str(p)
        work = Path(tempfile.mkdtemp(prefix='run-', dir=scratch))
        shutil.copytree(scratch / 'examples' / ex.directory, work / 'dir')
        try:
            proc = subprocess.run(['/bin/sh', '-c', ex.command], cwd=work / 'dir', env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  errors='replace', timeout=TIMEOUT)
            ok, err = proc.returncode == 0, proc.stderr
        except subprocess.TimeoutExpired:
            ok, err = False, f'timed out after {TIMEOUT} s'
        finally:
            shutil.rmtree(work, ignore_errors=True)
        ex.passed[p] = ok
        if not ok:
            ex.error = f'-p{p}: {_first_error(err)}'
            break
    return ex


def _kdir(tree: str) -> Path:
    if '/' in tree:
        kdir = Path(tree)
        if not (kdir / '.config').exists():
            raise CorpusError(f'{kdir} is not a configured kernel build tree')
        return kdir
    try:
        return testtree.built_kdir(tree)
    except Exception as e:          # the test-tree layer's own message
        raise CorpusError(str(e)) from None


def report(examples: List[Example], out: 'TextIO') -> None:   # type: ignore[name-defined]
    cats: 'OrderedDict[str, List[Example]]' = OrderedDict()
    for ex in sorted(examples, key=lambda e: (e.category, e.name)):
        cats.setdefault(ex.category, []).append(ex)
    width = max([len(c) for c in cats] + [8])
    head = f'{"category":<{width}}  {"scripts":>7}' + ''.join(f'  {"-p" + str(p):>5}' for p in PASSES)
    out.write(head + '\n')
    totals = [0] * len(PASSES)
    for cat, exs in cats.items():
        counts = [sum(1 for e in exs if e.passed.get(p)) for p in PASSES]
        totals = [a + b for a, b in zip(totals, counts)]
        out.write(f'{cat:<{width}}  {len(exs):>7}' + ''.join(f'  {c:>5}' for c in counts) + '\n')
    out.write(f'{"total":<{width}}  {len(examples):>7}' + ''.join(f'  {c:>5}' for c in totals)
              + '\n\nfailures (first error):\n')
    for ex in sorted(examples, key=lambda e: (e.category, e.name)):
        if ex.error:
            note = f'  [{ex.note}]' if ex.note else ''
            out.write(f'  {ex.directory / ex.name}: {ex.error}{note}\n')


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    ap.add_argument('--tree', default=testtree.DEFAULT_LINE,
                    help='a test-tree line (' + ', '.join(testtree.LINES) + ') or a kernel build tree')
    ap.add_argument('--examples', type=Path, default=EXAMPLES,
                    help=f'the corpus (default {EXAMPLES}, from systemtap-doc)')
    ap.add_argument('--only', metavar='GLOB', help='only examples whose DIR/NAME.stp matches')
    ap.add_argument('-j', dest='jobs', type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    try:
        if not args.examples.is_dir():
            raise CorpusError(f'{args.examples}: no such directory '
                              '(install Debian\'s systemtap-doc, or give --examples DIR)')
        kdir = _kdir(args.tree)
        examples = collect(args.examples, args.only)
        if not examples:
            raise CorpusError(f'no example scripts with a .meta under {args.examples}')
    except CorpusError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix='stap-gen-corpus-') as tmp:
        scratch = Path(tmp)
        shutil.copytree(args.examples, scratch / 'examples', symlinks=True)
        shim_dir = scratch / 'bin'
        shim_dir.mkdir()
        shim = shim_dir / 'stap'
        shim.write_text(SHIM.format(stapgen=shlex.quote(str(paths.TOOL_DIR / 'stap-gen')),
                                    kdir=shlex.quote(str(kdir))))
        shim.chmod(0o755)
        print(f'{PROG}: {len(examples)} examples from {args.examples}, tree {kdir}',
              file=sys.stderr)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(lambda e: run_one(e, scratch, shim_dir), examples))
    report(done, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
