# SPDX-License-Identifier: GPL-2.0
"""Benchmark: resolve probe points on Debian's 6.12 cloud-amd64 debug vmlinux.

Prints, for one named function and for every probeable function, the wall
time and peak RSS of stap-gen (cold: empty cache; warm: index cached) next
to `perf probe -k VMLINUX -D` on the same file.  A benchmark, not a test:
it prints figures and asserts nothing.  The vmlinux (340 MB) comes from
the linux-image-*-cloud-amd64-dbg package, fetched with apt-get download
into the kit's cache on first use.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .. import paths

PACKAGE = 'linux-image-6.12.117+deb12-cloud-amd64-dbg'
VMLINUX = 'usr/lib/debug/boot/vmlinux-6.12.117+deb12-cloud-amd64'


def fetch(package: str, member: str) -> Path:
    dest = paths.cache_dir() / 'bench' / Path(member).name
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        print(f'$ apt-get download {package}', file=sys.stderr)
        subprocess.run(['apt-get', 'download', package], cwd=tmp, check=True)
        deb = next(Path(tmp).glob('*.deb'))
        print(f'$ dpkg-deb --fsys-tarfile {deb.name} | tar -x ./{member}', file=sys.stderr)
        tar = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', str(deb)],
                               stdout=subprocess.PIPE)
        subprocess.run(['tar', '-x', '-C', tmp, f'./{member}'], stdin=tar.stdout, check=True)
        tar.wait()
        os.replace(Path(tmp) / member, dest)
    return dest


def measure(cmd: List[str], env: Optional[Dict[str, str]] = None) -> Tuple[float, int, int]:
    """(seconds, peak RSS in MB, exit status) of one run of cmd."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.monotonic() - start, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vmlinux', type=Path, help='use this vmlinux instead of fetching')
    ap.add_argument('--function', default='vfs_read')
    args = ap.parse_args(argv)
    vmlinux = args.vmlinux or fetch(PACKAGE, VMLINUX)
    stapgen = str(paths.LAUNCHER)
    perf = shutil.which('perf')
    cache = Path(tempfile.mkdtemp(prefix='stap-gen-bench-'))
    env = dict(os.environ, STAPGEN_CACHE=str(cache))
    # the parser tables are not what is measured: prime them
    subprocess.run([stapgen, '-p1', '-e', 'probe begin {}'], env=env,
                   stdout=subprocess.DEVNULL, check=False)
    one = ['--vmlinux', str(vmlinux), '-p2', '-e',
           f'probe kernel.function("{args.function}") {{}}']
    every = ['--vmlinux', str(vmlinux), '-l', 'kernel.function("*")']
    rows = []
    try:
        if perf:
            rows.append((f'perf probe -D {args.function}',
                         measure([perf, 'probe', '-k', str(vmlinux), '-D', args.function])))
        rows.append((f'stap-gen -p2 {args.function}, cold', measure([stapgen, *one], env)))
        rows.append((f'stap-gen -p2 {args.function}, warm', measure([stapgen, *one], env)))
        if perf:
            rows.append(('perf probe -F (every function)',
                         measure([perf, 'probe', '-k', str(vmlinux), '-F'])))
        rows.append(('stap-gen -l kernel.function("*"), cold',
                     measure([stapgen, *every], env)))
        rows.append(('stap-gen -l kernel.function("*"), warm',
                     measure([stapgen, *every], env)))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return _print(vmlinux, rows)


def _print(vmlinux: Path, rows: List[Tuple[str, Tuple[float, int, int]]]) -> int:
    print(f'{vmlinux} ({vmlinux.stat().st_size >> 20} MB), {os.cpu_count()} CPUs')
    print(f'{"what":44} {"seconds":>8} {"peak RSS MB":>12} {"exit":>5}')
    for what, (sec, rss, code) in rows:
        print(f'{what:44} {sec:8.2f} {rss:12d} {code:5d}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
