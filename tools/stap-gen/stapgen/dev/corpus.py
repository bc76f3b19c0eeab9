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

With --run, every example that passed -p4 and has a `test_installcheck:`
line (how SystemTap's testsuite runs it: `stap topsys.stp -T 1`) also
runs, in QEMU on the tree's own bzImage.  The line runs as above, the
shim in record mode: each stap command in it builds its module
(`stap-gen -p4 -m corpusN_NAME`, N the example's number) and notes what
the run would take: -c CMD, -T SECONDS, -x PID (`-x $$`, the shell that
runs stap, becomes the guest runner's own pid), -G NAME=VALUE; -o FILE
is dropped, the output is captured anyway.  Then the modules run, 20 to
a boot, a job with neither -T nor -c stopped after 30 s, one with -c
(and no -T) after 120 s: a script still running then is stopped, its
end probes run, as by -T.  A line that stops at -p4 (the games of
stapgames/) is run too.  A job passes when the runner exits 0 and the
guest's console shows no kernel complaint (vm.BAD_CONSOLE) between the
runner's marks around it; a guest that crashes or hangs fails the job
that was running, and the jobs after it go again in a new boot.

It prints, per category (the example's directory), how many pass each
pass (and with --run how many ran), and for each failure the first error
line.  A report, not a test: it asserts nothing and its exit status is 0
unless its own input is bad.

    tools/stap-gen/bench/corpus-report [--tree 6.12|KDIR] [-j N] [--only GLOB] [--run]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .. import paths
from ..run import vm
from . import testtree

PROG = 'corpus-report'
EXAMPLES = Path('/usr/share/systemtap/examples')
PASSES = (1, 2, 4)
TIMEOUT = 600
BATCH = 20                  # jobs a boot: a crashed guest costs one boot's results
GUARD = 30                  # s: a job without -T or -c
GUARD_COMMAND = 120         # s: a job with -c and no -T
OVERHEAD = 30               # s a job may take beyond its timeout (load, unload)


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
    index: int = 0              # its number in the corpus: module names
    installcheck: str = ''      # the test_installcheck line
    records: List[Dict[str, Any]] = field(default_factory=list)
    run: Optional[bool] = None  # None: not run (no installcheck, or -p4 failed)
    run_error: str = ''

    @property
    def module(self) -> str:
        """A module name of its own: a C identifier, room left for _K."""
        return f'corpus{self.index}_{re.sub(r"[^A-Za-z0-9_]", "_", Path(self.name).stem)}'[:50]


def _meta_fields(path: Path) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in path.read_text(errors='replace').splitlines():
        key, sep, value = line.partition(':')
        if sep and key.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def collect(root: Path, only: Optional[str]) -> List[Example]:
    out: List[Example] = []
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
                           rel.parent, command, note, index=len(out),
                           installcheck=fields.get('test_installcheck', '')))
    return out


SHIM = '''#!/bin/sh
# stap, as the corpus report runs it: stap-gen against one tree, one pass;
# or, CORPUS_PASS=record, build the module and note the run in CORPUS_RECORD.
if [ "$CORPUS_PASS" = record ]; then
    exec {python} -m stapgen.dev.corpus --record "$CORPUS_RECORD" -- -r {kdir} "$@"
fi
exec {stapgen} -r {kdir} "$@" -p"$CORPUS_PASS"
'''


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if 'error' in ln.lower():
            return ln
    return lines[0] if lines else '(no message)'


def _sh(ex: Example, line: str, scratch: Path, env: Dict[str, str]) -> Tuple[bool, str]:
    """line under /bin/sh in a scratch copy of the example's directory:
    (exit status 0, its stderr)."""
    work = Path(tempfile.mkdtemp(prefix='run-', dir=scratch))
    shutil.copytree(scratch / 'examples' / ex.directory, work / 'dir')
    try:
        proc = subprocess.run(['/bin/sh', '-c', line], cwd=work / 'dir', env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors='replace', timeout=TIMEOUT)
        return proc.returncode == 0, proc.stderr
    except subprocess.TimeoutExpired:
        return False, f'timed out after {TIMEOUT} s'
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_one(ex: Example, scratch: Path, shim_dir: Path, record: bool = False) -> Example:
    env = dict(os.environ, PATH=f'{shim_dir}:{os.environ.get("PATH", "")}')
    for p in PASSES:
        env['CORPUS_PASS'] = str(p)
        ok, err = _sh(ex, ex.command, scratch, env)
        ex.passed[p] = ok
        if not ok:
            ex.error = f'-p{p}: {_first_error(err)}'
            break
    if record and ex.passed.get(4) and ex.installcheck:
        record_one(ex, scratch, env)
    return ex


# -- the run pass: record on the host, run in QEMU ------------------------------

def record_one(ex: Example, scratch: Path, env: Dict[str, str]) -> None:
    """The installcheck line, its stap commands built and noted, not run."""
    path = scratch / 'records' / f'{ex.module}.json'
    env = dict(env, CORPUS_PASS='record', CORPUS_RECORD=str(path))
    _, err = _sh(ex, ex.installcheck, scratch, env)
    try:
        ex.records = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    except FileNotFoundError:
        ex.records = []
    failed = [r for r in ex.records if 'ko' not in r]
    if failed or not ex.records:
        ex.run = False
        ex.run_error = ('build: ' + _first_error(err) if failed else
                        'the test_installcheck line ran no stap' +
                        (f' ({_first_error(err)})' if err.strip() else ''))
        ex.records = []


def record(path: Path, argv: List[str]) -> int:
    """Record mode (the shim's, for --run): build the module the stap
    command line argv names, as stap-gen -p4 -m MODULE, into the current
    directory, move it next to path and append to path (JSON, a line per
    command) what running it takes.  MODULE is path's stem, with _K for
    the line's K-th stap command after the first."""
    from .. import cli, pipeline
    args = cli.parse_args(argv)
    if args.script is None and args.script_text is None:
        if args.listing or args.listing_vars or args.dump_functions or \
                args.dump_probe_types or args.dump_probe_aliases:
            return cli.run_args(args)       # a listing: nothing to run later
        print(f'{PROG}: error: nothing to record: no script', file=sys.stderr)
        return 1
    done = len(path.read_text().splitlines()) if path.exists() else 0
    module = path.stem if done == 0 else f'{path.stem}_{done}'
    target: Any = args.target
    if target is not None and target in (os.getpid(), os.getppid()):
        target = 'self'                     # -x $$: the shell that runs stap
    rec: Dict[str, Any] = {
        'module': module, 'pass': args.pass_, 'command': args.command,
        'timeout': args.timeout, 'target': target,
        'params': ' '.join(pipeline.param(name, value) for name, _, value in
                           (g.partition('=') for g in args.globals)),
        'output': str(args.output) if args.output else None}
    args.pass_, args.module = 4, module
    args.command = args.target = args.timeout = args.output = None
    args.vm = False
    rc = cli.run_args(args)
    ko = Path.cwd() / f'{module}.ko'
    if rc == 0 and ko.exists():
        rec['ko'] = str(shutil.move(str(ko), str(path.parent / ko.name)))
    else:
        rec['error'] = rc or 1
    with path.open('a') as f:
        f.write(json.dumps(rec) + '\n')
    return rc


def _job(rec: Dict[str, Any]) -> vm.BatchJob:
    timeout = rec['timeout']
    if timeout is None:
        timeout = GUARD_COMMAND if rec['command'] else GUARD
    return vm.BatchJob(Path(rec['ko']), rec['command'], timeout=float(timeout),
                       params=rec['params'], target=rec['target'])


def _bad_console(text: str) -> str:
    m = vm.BAD_CONSOLE.search(text)
    if m is None:
        return ''
    line = text[text.rfind('\n', 0, m.start()) + 1:].split('\n', 1)[0]
    return re.sub(r'^\[\s*[\d.]+\]\s*', '', line).strip()


def _verdict(rc: int, messages: str, console: str) -> str:
    """'' for a pass, else why not."""
    why = []
    if rc != 0:
        why.append(f'rc {rc}: {_first_error(messages)}')
    bad = _bad_console(console)
    if bad:
        why.append(f'console: {bad}')
    return '; '.join(why)


def run_jobs(bzimage: Path, jobs: List[vm.BatchJob], console: Path) -> List[str]:
    """One boot for the jobs (more if the guest fails): a verdict each."""
    out: Dict[int, str] = {}
    pending = list(range(len(jobs)))
    while pending:
        failure = ''
        try:
            results: Optional[List[vm.BatchResult]] = vm.run_batch(
                bzimage, [jobs[i] for i in pending], console, overhead=OVERHEAD)
        except vm.VMError as e:
            results, failure = None, str(e).split('; console log:')[0]
        text = console.read_text(errors='replace') if console.exists() else ''
        parts = vm.job_consoles(text)
        if results is not None:
            for k, i in enumerate(pending):
                # without the runner's marks, no console line can be told apart
                seen = parts[k].text if k in parts else '' if parts else text
                out[i] = _verdict(results[k].exit_code, results[k].messages, seen)
            break
        if not parts:
            for i in pending:
                out[i] = f'the guest failed before the job: {failure}'
            break
        last, rest = max(parts), []
        for k, i in enumerate(pending):
            part = parts.get(k)
            if k < last and part is not None and part.exit_code is not None:
                out[i] = _verdict(part.exit_code, '(its messages were lost: the guest '
                                  'failed later)', part.text)
            elif k == last:
                bad = _bad_console(parts[k].text)
                out[i] = f'the guest failed while it ran: {bad or failure}'
            else:
                rest.append(i)
        pending = rest
    return [out[i] for i in range(len(jobs))]


def run_pass(examples: List[Example], bzimage: Path, scratch: Path) -> None:
    """The recorded modules in QEMU, BATCH jobs a boot."""
    jobs: List[Tuple[Example, vm.BatchJob]] = [
        (ex, _job(rec)) for ex in examples if ex.run is None for rec in ex.records]
    boots = (len(jobs) + BATCH - 1) // BATCH
    for ex in examples:
        if ex.records:
            ex.run = True
    for b in range(boots):
        chunk = jobs[b * BATCH:(b + 1) * BATCH]
        start = time.monotonic()
        print(f'{PROG}: boot {b + 1} of {boots}: {len(chunk)} modules', file=sys.stderr)
        verdicts = run_jobs(bzimage, [job for _, job in chunk], scratch / f'console.{b}.log')
        for (ex, _), why in zip(chunk, verdicts):
            if why and ex.run:
                ex.run, ex.run_error = False, why
        print(f'{PROG}: boot {b + 1} of {boots}: {sum(1 for v in verdicts if not v)} '
              f'passed, {time.monotonic() - start:.0f} s', file=sys.stderr)


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


def report(examples: List[Example], out: 'TextIO',   # type: ignore[name-defined]
           run: bool = False) -> None:
    cats: 'OrderedDict[str, List[Example]]' = OrderedDict()
    for ex in sorted(examples, key=lambda e: (e.category, e.name)):
        cats.setdefault(ex.category, []).append(ex)
    width = max([len(c) for c in cats] + [8])
    cols = [f'-p{p}' for p in PASSES] + (['run'] if run else [])

    def counts(exs: List[Example]) -> List[int]:
        return [sum(1 for e in exs if e.passed.get(p)) for p in PASSES] + \
            ([sum(1 for e in exs if e.run)] if run else [])

    out.write(f'{"category":<{width}}  {"scripts":>7}' + ''.join(f'  {c:>5}' for c in cols)
              + '\n')
    for cat, exs in cats.items():
        out.write(f'{cat:<{width}}  {len(exs):>7}' + ''.join(f'  {c:>5}' for c in counts(exs))
                  + '\n')
    out.write(f'{"total":<{width}}  {len(examples):>7}'
              + ''.join(f'  {c:>5}' for c in counts(examples)) + '\n')
    if run:
        having = [e for e in examples if e.installcheck]
        out.write(f'\nrun: the examples whose test_installcheck line ran clean in QEMU; '
                  f'{len(having)} have such a line, {sum(1 for e in having if e.passed.get(4))} '
                  'of them passed -p4 and were run\n')
    out.write('\nfailures (first error):\n')
    for ex in sorted(examples, key=lambda e: (e.category, e.name)):
        if ex.error:
            note = f'  [{ex.note}]' if ex.note else ''
            out.write(f'  {ex.directory / ex.name}: {ex.error}{note}\n')
        elif ex.run is False:
            out.write(f'  {ex.directory / ex.name}: run: {ex.run_error}\n')


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n\n')[0])
    ap.add_argument('--tree', default=testtree.DEFAULT_LINE,
                    help='a test-tree line (' + ', '.join(testtree.LINES) + ') or a kernel build tree')
    ap.add_argument('--examples', type=Path, default=EXAMPLES,
                    help=f'the corpus (default {EXAMPLES}, from systemtap-doc)')
    ap.add_argument('--only', metavar='GLOB', help='only examples whose DIR/NAME.stp matches')
    ap.add_argument('-j', dest='jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--run', action='store_true',
                    help='also run each test_installcheck line of the examples that '
                         "passed -p4, in QEMU on the tree's bzImage")
    ap.add_argument('--record', type=Path, metavar='FILE', help=argparse.SUPPRESS)
    ap.add_argument('stap_args', nargs='*', help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.record:
        return record(args.record, args.stap_args)
    if args.stap_args:
        ap.error(f'unrecognized arguments: {" ".join(args.stap_args)}')
    try:
        if not args.examples.is_dir():
            raise CorpusError(f'{args.examples}: no such directory '
                              '(install Debian\'s systemtap-doc, or give --examples DIR)')
        kdir = _kdir(args.tree)
        examples = collect(args.examples, args.only)
        if not examples:
            raise CorpusError(f'no example scripts with a .meta under {args.examples}')
        bzimage = kdir / 'arch' / 'x86' / 'boot' / 'bzImage'
        if args.run and not bzimage.exists():
            raise CorpusError(f'{bzimage} does not exist: --run boots the tree\'s own kernel')
    except CorpusError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix='stap-gen-corpus-') as tmp:
        scratch = Path(tmp)
        shutil.copytree(args.examples, scratch / 'examples', symlinks=True)
        shim_dir = scratch / 'bin'
        shim_dir.mkdir()
        shim = shim_dir / 'stap'
        shim.write_text(SHIM.format(
            stapgen=shlex.quote(str(paths.TOOL_DIR / 'stap-gen')), kdir=shlex.quote(str(kdir)),
            python=shlex.quote(str(paths.TOP_DIR / 'scripts' / 'stap' / 'python'))))
        shim.chmod(0o755)
        (scratch / 'records').mkdir()
        print(f'{PROG}: {len(examples)} examples from {args.examples}, tree {kdir}',
              file=sys.stderr)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(lambda e: run_one(e, scratch, shim_dir, args.run), examples))
        if args.run:
            run_pass(done, bzimage, scratch)
    report(done, sys.stdout, args.run)
    return 0


if __name__ == '__main__':
    sys.exit(main())
