# SPDX-License-Identifier: GPL-2.0
"""Benchmark: what a probe costs, in QEMU on a test tree.

One guest boot runs, ROUNDS times each and interleaved, a loop of N
one-byte reads of /dev/zero (each one call of vfs_read):

  none         no probe at all (a stap-gen module without probes is loaded,
               so every row pays the same runner);
  hand-written a minimal kprobe module written by hand that counts hits with
               one atomic increment (tools/stap-gen/bench/kprobe_count.c);
  n++          stap-gen: a counter global, taken under its lock per hit;
  n <<< 1      stap-gen: a per-CPU aggregate, no lock on the hot path.

With --syscall, where syscall.NAME is placed: syscall.read (a kprobe on
the tree's __x64_sys_read) against the raw_syscalls:sys_enter tracepoint
filtered on the read's number; and what each costs the reads when the
probe is meant for another syscall (getpid): a kprobe elsewhere costs
nothing, the tracepoint is passed by every syscall of every task.

It prints the median time per read and the cost per probe hit over the
`none` row.  A benchmark, not a test: it prints figures and asserts
nothing, except that each probe saw at least the N reads (a probe that
missed hits would make its figure meaningless).  Without KVM the guest is
emulated (TCG): absolute figures are slow, the ratios are what matter.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from .. import paths
from . import testtree
from ..run import vm
from ..tree.kerneltree import open_tree

BENCH = paths.TOOL_DIR / 'bench'

SCRIPTS = {
    'n++': 'global n\nprobe kernel.function("{f}") {{ n++ }}\n'
           'probe end {{ printf("hits %d\\n", n) }}\n',
    'n <<< 1': 'global n\nprobe kernel.function("{f}") {{ n <<< 1 }}\n'
               'probe end {{ printf("hits %d\\n", @count(n)) }}\n',
}

# --syscall: where the syscall family is placed.  syscall.read is a kprobe
# on the tree's __x64_sys_read; the alternative is the raw_syscalls
# tracepoint, which every syscall of every task then passes (the filter
# on the number runs in the handler).
SYSCALL_SCRIPTS = {
    'syscall.read': 'global n\nprobe syscall.read {{ n++ }}\n'
                    'probe end {{ printf("hits %d\\n", n) }}\n',
    'sys_enter': 'global n\nprobe kernel.trace("raw_syscalls:sys_enter") '
                 '{{ if ($id == {nr}) n++ }}\nprobe end {{ printf("hits %d\\n", n) }}\n',
    # what the tracepoint costs the syscalls a script does not probe: the
    # reads, with a probe meant for getpid
    'sys_enter, other': 'global n\nprobe kernel.trace("raw_syscalls:sys_enter") '
                        '{{ if ($id == {other}) n++ }}\nprobe end {{ printf("other %d\\n", n) }}\n',
    'syscall.getpid': 'global n\nprobe syscall.getpid {{ n++ }}\n'
                      'probe end {{ printf("other %d\\n", n) }}\n',
}


def _cached(name: str, digest_of: bytes) -> Path:
    return paths.cache_dir() / 'bench' / hashlib.sha256(digest_of).hexdigest()[:12] / name


def build_readloop() -> Path:
    """The workload, static, where the guest sees it (not under /tmp)."""
    src = BENCH / 'readloop.c'
    out = _cached('readloop', src.read_bytes())
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(['gcc', '-static', '-O2', '-o', str(out.with_suffix('.tmp')), str(src)],
                       check=True)
        out.with_suffix('.tmp').rename(out)
    return out


def build_baseline(kdir: Path) -> Path:
    """kprobe_count.ko for this tree, built by its kbuild."""
    from ..run import kbuild
    tree = open_tree(kdir)
    src = (BENCH / 'kprobe_count.c').read_text()
    dest = _cached(tree.release, src.encode() + tree.release.encode()
                   + (kdir / 'vmlinux').read_bytes()[:4096])
    ko = dest / 'kprobe_count.ko'
    if not ko.exists():
        dest.mkdir(parents=True, exist_ok=True)
        kbuild.build(kbuild.BuildRequest(tree, 'kprobe_count', src, {}), dest)
    return ko


def build_script(kdir: Path, name: str, text: str, workdir: Path) -> Path:
    script = workdir / f'{name}.stp'
    script.write_text(text)
    r = subprocess.run([str(paths.LAUNCHER), '-r', str(kdir), '-p4', '-m', name, str(script)],
                       cwd=workdir, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f'stap-gen failed on {script}:\n{r.stderr}')
    return workdir / f'{name}.ko'


def _syscall_nr(kdir: Path, name: str) -> int:
    from ..tapset.syscalls import table_names
    tree = open_tree(kdir)
    return next(nr for nr, x in table_names(tree.srctree) if x == name)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-r', dest='kdir', type=Path, help='kernel tree (default: the 6.12 test tree)')
    ap.add_argument('--reads', type=int, default=100000)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--function', default='vfs_read')
    ap.add_argument('--syscall', action='store_true',
                    help='also time syscall.read (a kprobe on the syscall wrapper) '
                         'against the raw_syscalls:sys_enter tracepoint')
    args = ap.parse_args(argv)
    kdir = args.kdir or testtree.built_kdir('6.12')
    readloop = build_readloop()
    baseline = build_baseline(kdir)
    loop = f'{readloop} {args.reads}'
    with tempfile.TemporaryDirectory(prefix='stap-gen-bench-') as tmp:
        work = Path(tmp)
        none = build_script(kdir, 'stp_bench_none', 'probe end { }\n', work)
        kos: Dict[str, Path] = {'none': none, 'hand-written': none}
        scripts = dict(SCRIPTS)
        if args.syscall:
            scripts.update(SYSCALL_SCRIPTS)
        nr, other = _syscall_nr(kdir, 'read'), _syscall_nr(kdir, 'getpid')
        for i, (row, text) in enumerate(scripts.items()):
            kos[row] = build_script(kdir, f'stp_bench_{i}',
                                    text.format(f=args.function, nr=nr, other=other), work)
        commands = {row: loop for row in kos}
        commands['hand-written'] = (
            f'PATH=/usr/sbin:/sbin:$PATH; insmod {baseline} func={args.function} && {loop}; '
            'rmmod kprobe_count; '
            "dmesg | sed -n 's/.*kprobe_count: [^ ]* \\([0-9]*\\)$/hits \\1/p' | tail -n 1")
        jobs, rows = [], []
        for _ in range(args.rounds):
            for row, ko in kos.items():
                jobs.append(vm.BatchJob(ko, commands[row], timeout=600))
                rows.append(row)
        console = work / 'console.log'
        results = vm.run_batch(kdir / 'arch/x86/boot/bzImage', jobs, console)
        times: Dict[str, List[float]] = {row: [] for row in kos}
        hits: Dict[str, List[int]] = {row: [] for row in kos}
        for row, res in zip(rows, results):
            m = re.search(r'^readloop (\d+) (\d+)$', res.command_output, re.M)
            if res.exit_code or m is None:
                sys.exit(f'{row}: the run failed (exit {res.exit_code}):\n'
                         f'{res.output}{res.messages}{res.command_output}')
            times[row].append(int(m.group(2)) / int(m.group(1)))
            h = re.search(r'^hits (\d+)$', res.output + res.command_output, re.M)
            if h:
                hits[row].append(int(h.group(1)))
    release = open_tree(kdir).release
    print(f'probe overhead on {release}: {args.reads} reads x {args.rounds} rounds, '
          f'probe on {args.function}, QEMU (TCG) -smp 2')
    print(f'{"probe":16} {"ns/read":>9} {"ns/hit over none":>17} {"x hand-written":>15} '
          f'{"hits (min)":>11}')
    base = statistics.median(times['none'])
    hand = statistics.median(times['hand-written']) - base
    for row in kos:
        t = statistics.median(times[row])
        over = t - base
        ratio = f'{over / hand:.2f}' if row != 'none' and hand > 0 else '-'
        seen = min(hits[row]) if hits[row] else '-'
        if hits[row] and min(hits[row]) < args.reads:
            print(f'{row}: saw {min(hits[row])} hits of {args.reads} reads', file=sys.stderr)
            return 1
        print(f'{row:16} {t:9.0f} {over if row != "none" else 0:17.0f} {ratio:>15} {seen!s:>11}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
