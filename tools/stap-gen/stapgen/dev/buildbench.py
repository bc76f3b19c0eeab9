# SPDX-License-Identifier: GPL-2.0
"""Benchmark: how long building a module takes, on each built test tree.

Per test tree (6.1 and 6.12, those that are built), ROUNDS paired rounds;
each round runs every row once, in an order reversed every other round:

  stap-gen -p4   `stap-gen -r KDIR -p4 -m bench_opensnoop examples/opensnoop.stp`
                 in an empty temporary directory: the whole command (parse,
                 resolve, generate, kbuild);
  kprobe_count   the kbuild alone of the hand-written kprobe module
                 (bench/kprobe_count.c): `make -C KDIR M=DIR modules` in a
                 fresh scratch directory holding the .c and a one-line Kbuild;
  before REV     with --before REV: the same -p4 command run from a git
                 worktree of REV (removed at the end), with the same venv.

It prints min/median/max wall seconds of each row, the median over rounds
of the row's time over the stap-gen -p4 time of the same round, the
generated C's line count (-p3 -o FILE) and the .ko's size.  Every command
runs once untimed first, to warm the page cache and the kit's caches.  A
benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .. import paths
from . import testtree
from ..run import kbuild
from ..tree.kerneltree import open_tree

PROG = 'build-bench'
SCRIPT = Path('tools/stap-gen/examples/opensnoop.stp')
MODULE = 'bench_opensnoop'
BASELINE = paths.TOOL_DIR / 'bench' / 'kprobe_count.c'
# The make that kbuild is run with, as make itself names it.


class BenchError(Exception):
    """Bad input or a command that failed: one line for the user."""


@dataclass
class Row:
    name: str
    kind: str                       # 'stapgen' or 'kbuild'
    top: Optional[Path] = None      # the kit's checkout, for 'stapgen'
    times: List[float] = field(default_factory=list)
    c_lines: Optional[int] = None
    ko_bytes: Optional[int] = None


def _venv_env(tmp: Path) -> Dict[str, str]:
    """The environment for a stap-gen launcher: this very venv, and its
    scratch directories under tmp."""
    env = dict(os.environ)
    env['STAPGEN_VENV'] = sys.prefix
    env['TMPDIR'] = str(tmp)
    return env


def _run(cmd: List[str], cwd: Path, env: Dict[str, str], what: str) -> float:
    """Wall seconds of cmd; a failure is a BenchError with its output's last line.

    cmd runs in a process group of its own, so that an interrupted run
    ends with all of its children (make, the compiler) before the
    benchmark removes their directories.
    """
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate()
    except BaseException:
        _end_group(proc)
        raise
    elapsed = time.monotonic() - start
    if proc.returncode:
        tail = out.strip().splitlines()[-1:] or ['(no output)']
        raise BenchError(f'{what} failed (exit {proc.returncode}): {tail[0]}')
    return elapsed


def _end_group(proc: 'subprocess.Popen[str]') -> None:
    """SIGTERM to proc's process group, SIGKILL if it is not gone in 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()
    # the group's other members may outlive its leader by a moment
    for _ in range(50):
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.tmp = work / 'tmp'         # TMPDIR of every command run
        self.tmp.mkdir()
        self.serial = 0

    def scratch(self) -> Path:
        self.serial += 1
        d = self.work / f'run{self.serial}'
        d.mkdir()
        return d

    def stapgen(self, row: Row, kdir: Path, extra: List[str], d: Path) -> float:
        """The row's kit run on the script in directory d (empty)."""
        assert row.top is not None
        launcher = row.top / 'tools' / 'stap-gen' / 'stap-gen'
        cmd = [str(launcher), '-r', str(kdir), *extra, '-m', MODULE,
               str(paths.TOP_DIR / SCRIPT)]
        return _run(cmd, d, _venv_env(self.tmp), f'{row.name} on {kdir}')

    def kbuild(self, objtree: Path, d: Path) -> float:
        """make M= of kprobe_count.c in d (empty); only make is timed."""
        shutil.copyfile(BASELINE, d / BASELINE.name)
        (d / 'Kbuild').write_text(f'obj-m := {BASELINE.stem}.o\n')
        cmd = ['make', '-C', str(objtree), f'M={d}', 'modules']
        env = dict(kbuild._clean_env(), TMPDIR=str(self.tmp))
        return _run(cmd, d, env, f'kbuild of {BASELINE.name}')

    def once(self, row: Row, kdir: Path, objtree: Path) -> float:
        """One run of row in a fresh directory: its seconds; records the .ko's size."""
        d = self.scratch()
        try:
            if row.kind == 'kbuild':
                seconds, ko = self.kbuild(objtree, d), d / f'{BASELINE.stem}.ko'
            else:
                seconds, ko = self.stapgen(row, kdir, ['-p4'], d), d / f'{MODULE}.ko'
            if not ko.exists():
                raise BenchError(f'{row.name}: no {ko.name} was built')
            row.ko_bytes = ko.stat().st_size
            return seconds
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def c_lines(self, row: Row, kdir: Path) -> None:
        """The line count of the row's generated C (-p3 -o FILE)."""
        d = self.scratch()
        try:
            self.stapgen(row, kdir, ['-p3', '-o', f'{MODULE}.c'], d)
            row.c_lines = len((d / f'{MODULE}.c').read_text().splitlines())
        finally:
            shutil.rmtree(d, ignore_errors=True)


def _git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['git', '-C', str(paths.TOP_DIR), *args],
                          capture_output=True, text=True, check=False)


def _resolve_rev(rev: str) -> str:
    proc = _git('rev-parse', '--verify', '--quiet', f'{rev}^{{commit}}')
    if proc.returncode or not proc.stdout.strip():
        raise BenchError(f'--before {rev}: no such revision in {paths.TOP_DIR}')
    return proc.stdout.strip()


def _add_worktree(commit: str, where: Path) -> None:
    proc = _git('worktree', 'add', '--detach', '--quiet', str(where), commit)
    if proc.returncode:
        raise BenchError(f'git worktree add failed: {proc.stderr.strip()}')


def _remove_worktree(where: Path) -> None:
    if not where.exists():
        return
    _git('worktree', 'remove', '--force', str(where))
    shutil.rmtree(where, ignore_errors=True)
    _git('worktree', 'prune')


def _trees(lines: List[str]) -> Tuple[Dict[str, Path], List[str]]:
    """The built trees of lines, and a line for each one that is not."""
    found, missing = {}, []
    for line in lines:
        try:
            found[line] = testtree.built_kdir(line)
        except testtree.TreeError as e:
            missing.append(f'{line}: skipped: {e}')
    if not found:
        raise BenchError('no built test tree (' + ', '.join(lines) + '); run `make trees`')
    return found, missing


def _fmt_ratio(row: Row, ref: Row) -> str:
    if row is ref:
        return '1.00'
    return f'{statistics.median(t / r for t, r in zip(row.times, ref.times)):.2f}'


def _report(title: str, rows: List[Row]) -> None:
    ref = rows[0]
    print(f'{title}:')
    for row in rows:
        t = row.times
        lines = str(row.c_lines) if row.c_lines is not None else '-'
        size = str(row.ko_bytes) if row.ko_bytes is not None else '-'
        print(f'  {row.name:22} {min(t):8.2f} {statistics.median(t):8.2f} {max(t):8.2f} '
              f'{_fmt_ratio(row, ref):>7} {lines:>8} {size:>9}')


def _on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, work: Path) -> None:
    if args.rounds < 1:
        raise BenchError('--rounds must be at least 1')
    commit = _resolve_rev(args.before) if args.before else None
    trees, missing = _trees(args.tree or list(testtree.LINES))
    for text in missing:
        print(text, file=sys.stderr)
    rows_proto: List[Row] = [Row('stap-gen -p4', 'stapgen', paths.TOP_DIR),
                             Row('kprobe_count kbuild', 'kbuild')]
    if commit:
        wt = work / 'before'
        _add_worktree(commit, wt)
        if not (wt / 'tools' / 'stap-gen' / 'stap-gen').exists():
            raise BenchError(f'--before {args.before}: that revision has no '
                             'tools/stap-gen/stap-gen')
        rows_proto.append(Row(f'before {args.before} -p4', 'stapgen', wt))
    bench = Bench(work)
    per_tree = {}
    for line, kdir in trees.items():
        tree = open_tree(kdir)
        rows = [Row(r.name, r.kind, r.top) for r in rows_proto]
        per_tree[line] = (kdir, tree.objtree, f'{line} ({tree.release})', rows)
        print(f'{line}: warming up ({tree.release})', file=sys.stderr, flush=True)
        for row in rows:
            bench.once(row, kdir, tree.objtree)     # untimed: warms the caches
            if row.kind == 'stapgen':
                bench.c_lines(row, kdir)
    load = [os.getloadavg()[0]]
    for n in range(args.rounds):
        print(f'round {n + 1}/{args.rounds}', file=sys.stderr, flush=True)
        for kdir, objtree, _release, rows in per_tree.values():
            for row in (rows if n % 2 == 0 else rows[::-1]):
                row.times.append(bench.once(row, kdir, objtree))
    load.append(os.getloadavg()[0])
    print(f'{"build time, wall s":24} {"min":>8} {"median":>8} {"max":>8} '
          f'{"ratio":>7} {"C lines":>8} {".ko B":>9}')
    for _kdir, _objtree, title, rows in per_tree.values():
        _report(title, rows)
    for text in missing:
        print(text)
    print(f'measured: {args.rounds} paired rounds (each runs every row once, in an order '
          f'reversed every other round),\n'
          f'  after one untimed warm-up run of each; wall time of the whole command '
          f'(stap-gen) or of make alone\n'
          f'  (kprobe_count); ratio: median over rounds of the row over stap-gen -p4 '
          f'of the same round;\n'
          f'  {os.cpu_count()} CPUs, 1-min load average {load[0]:.2f} at the start, '
          f'{load[1]:.2f} at the end (a busy machine makes the figures noisy)')


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    ap.add_argument('--rounds', type=int, default=5, help='paired rounds (default 5)')
    ap.add_argument('--before', metavar='REV',
                    help="also time -p4 of the kit at git revision REV")
    ap.add_argument('--tree', action='append', choices=testtree.LINES, metavar='LINE',
                    help='only this test tree (repeatable; default: '
                         + ' and '.join(testtree.LINES) + ')')
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    work = Path(tempfile.mkdtemp(prefix='stap-gen-build-bench-'))
    try:
        run(args, work)
    except BenchError as e:
        print(f'{PROG}: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'{PROG}: interrupted', file=sys.stderr)
        return 130
    finally:
        _remove_worktree(work / 'before')
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
