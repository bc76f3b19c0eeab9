# SPDX-License-Identifier: GPL-2.0
"""Run a module in QEMU, booting the tree's own bzImage.

The guest is the tree's kernel with a tiny busybox initramfs that mounts
the host's root filesystem read-only over virtio-9p (as virtme-ng does)
and runs the kit's runner (stapgen.run.runner) from it under chroot: the
same loader, reader and unloader as on a live kernel.  Serial ports carry
the streams apart: ttyS0 the kernel console, ttyS1 the script's output,
ttyS2 the runner's messages.  The guest's /dev/vda is a scratch disk of
SCRATCH_MB MiB of zeros, made for the run, for workloads that need block
I/O (the host's filesystem is 9p, its /tmp a tmpfs).  QEMU always ends: the guest reboots (and
-no-reboot makes QEMU exit) or the host kills it at the timeout.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Tuple, Union

from .. import paths
from . import runner
from .qemu_configs import x86_64 as arch

BUSYBOX = Path('/bin/busybox')
RUNNER = Path(__file__).with_name('runner.py')
EXIT_RE = re.compile(rb'STAPGEN-EXIT=(\d+)')
SCRATCH_MB = 4
# What must never appear on the guest's console: the kernel complained.
BAD_CONSOLE = re.compile(r'Oops|BUG:|WARNING:|Call Trace|general protection|'
                         r'kernel BUG|RCU stall|rcu_sched self-detected|'
                         r'possible recursive locking|Kernel panic')

GUEST_INIT = r'''#!/bin/sh
# stap-gen guest init: host root over 9p, run the job, report, reboot.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host ||
	echo "stap-gen: cannot mount the host filesystem (virtio-9p)" >/dev/console
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mount -t tmpfs tmp /host/tmp
mkdir -p /host/tmp/stap-gen
cp -a /job/. /host/tmp/stap-gen/
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
echo "stap-gen: guest up, running the job" >/dev/console
chroot /host /bin/sh /tmp/stap-gen/job.sh >/dev/ttyS1 2>/dev/ttyS2 </dev/null
echo "STAPGEN-EXIT=$?" >/dev/console
sync
reboot -f
'''


class VMError(Exception):
    """The guest could not be booted or did not finish."""


@dataclass
class VMResult:
    exit_code: int
    console: Path
    output: bytes = b''
    messages: bytes = b''


# -- initramfs --------------------------------------------------------------

def _cpio_entry(name: str, mode: int, data: bytes = b'', rdev: Tuple[int, int] = (0, 0),
                ino: int = 0) -> bytes:
    namez = name.encode() + b'\0'
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(namez), 0]
    hdr = b'070701' + b''.join(b'%08X' % f for f in fields)
    out = hdr + namez
    out += b'\0' * (-len(out) % 4)
    out += data
    out += b'\0' * (-len(out) % 4)
    return out


def cpio(entries: List[Tuple[str, int, bytes]]) -> bytes:
    """A newc archive of (path, mode, data); mode carries the file type."""
    out = bytearray()
    for i, (name, mode, data) in enumerate(entries, 1):
        rdev = (5, 1) if name == 'dev/console' else (0, 0)
        out += _cpio_entry(name, mode, data, rdev, ino=i)
    out += _cpio_entry('TRAILER!!!', 0)
    out += b'\0' * (-len(out) % 512)
    return bytes(out)


def base_initramfs() -> Path:
    """busybox + /init, cached by content."""
    if not BUSYBOX.exists():
        raise VMError(f'{BUSYBOX} is missing; run scripts/stap/setup '
                      '(apt-get install busybox-static)')
    bb = BUSYBOX.read_bytes()
    key = hashlib.sha256(bb + GUEST_INIT.encode()).hexdigest()[:16]
    path = paths.cache_dir() / 'initramfs' / f'base-{key}.cpio.gz'
    if path.exists():
        return path
    d = 0o040755
    entries = [(p, d, b'') for p in ('bin', 'dev', 'proc', 'sys', 'host', 'tmp', 'job')]
    entries += [('dev/console', 0o020600, b''),
                ('bin/busybox', 0o100755, bb),
                ('bin/sh', 0o120777, b'busybox'),
                ('init', 0o100755, GUEST_INIT.encode())]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f'.tmp{os.getpid()}')
    tmp.write_bytes(gzip.compress(cpio(entries), 6))
    os.replace(tmp, path)
    return path


def job_script(ko_name: str, command: Optional[str], timeout: float,
               preload: Optional[List[str]] = None, params: str = '') -> str:
    """What the guest runs under chroot: the kit's runner on the module.

    The runner needs only the standard library, so it travels in the job
    archive (the guest's /tmp is a fresh tmpfs that may hide the checkout)
    and runs under the host's own interpreter, without site packages.
    """
    args = [os.path.realpath(sys.executable), '-S', f'/tmp/stap-gen/{RUNNER.name}',
            f'/tmp/stap-gen/{ko_name}', '--timeout', f'{timeout:g}']
    if command:
        args += ['-c', command]
    for p in preload or []:
        args += ['--preload', f'/tmp/stap-gen/{p}']
    if params:
        args += ['--params', params]
    return ('#!/bin/sh\n'
            'export PYTHONDONTWRITEBYTECODE=1 HOME=/tmp\n'
            'cd /tmp\n'
            'exec ' + ' '.join(shlex.quote(a) for a in args) + '\n')


# -- running ----------------------------------------------------------------

@dataclass
class VMRequest:
    bzimage: Path
    ko: Path
    command: Optional[str]
    timeout: float = 60.0           # for the script, inside the guest
    boot_timeout: float = 120.0     # on top of it, for boot and shutdown
    console: Optional[Path] = None
    smp: int = 2
    memory_mb: int = 512
    extra_files: Dict[str, bytes] = field(default_factory=dict)
    preload: List[Path] = field(default_factory=list)
    params: str = ''


def _tail(path: Path, pos: int, sink: Optional[BinaryIO]) -> Tuple[int, bytes]:
    try:
        with path.open('rb') as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return pos, b''
    if data and sink is not None:
        sink.write(data)
        sink.flush()
    return pos + len(data), data


def run(req: VMRequest, out: Optional[BinaryIO], err: Optional[BinaryIO],
        verbose: bool = False, job_sh: Optional[str] = None) -> VMResult:
    if shutil.which(arch.QEMU) is None:
        raise VMError(f'{arch.QEMU} is not installed; run scripts/stap/setup '
                      '(apt-get install qemu-system-x86)')
    if not req.bzimage.exists():
        raise VMError(f'{req.bzimage} does not exist: build it with make bzImage')
    work = Path(tempfile.mkdtemp(prefix='stap-gen-vm-'))
    console = req.console or work / 'console.log'
    initrd = work / 'initrd.img'
    job = [('job', 0o040755, b''),
           (f'job/{req.ko.name}', 0o100644, req.ko.read_bytes()),
           (f'job/{RUNNER.name}', 0o100644, RUNNER.read_bytes()),
           ('job/job.sh', 0o100755, (job_sh or job_script(
               req.ko.name, req.command, req.timeout,
               [p.name for p in req.preload], req.params)).encode())]
    job += [(f'job/{p.name}', 0o100644, p.read_bytes()) for p in req.preload]
    job += [(f'job/{k}', 0o100644, v) for k, v in req.extra_files.items()]
    with initrd.open('wb') as f:
        # The run's own files first: an uncompressed archive ends padded to
        # 512 bytes, so the compressed base that follows starts aligned.
        f.write(cpio(job))
        f.write(base_initramfs().read_bytes())
    out_log, err_log = work / 'ttyS1.log', work / 'ttyS2.log'
    disk = work / 'scratch.img'
    with disk.open('wb') as f:
        f.truncate(SCRATCH_MB << 20)
    cmd = arch.command(req.bzimage, initrd, console, out_log, err_log,
                       req.smp, req.memory_mb, disk)
    if verbose:
        print('$ ' + ' '.join(shlex.quote(c) for c in cmd), file=sys.stderr)
    deadline = time.monotonic() + req.timeout + req.boot_timeout
    opos = epos = 0
    output = bytearray()
    messages = bytearray()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    timed_out = False
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                timed_out = True
                proc.kill()
                break
            time.sleep(0.1)
            opos, data = _tail(out_log, opos, out)
            output += data
            epos, data = _tail(err_log, epos, err)
            messages += data
        proc.wait()
        opos, data = _tail(out_log, opos, out)
        output += data
        epos, data = _tail(err_log, epos, err)
        messages += data
        qemu_err = proc.stderr.read().decode(errors='replace') if proc.stderr else ''
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = console.read_bytes() if console.exists() else b''
    keep = req.console is None
    m = EXIT_RE.search(log)
    if timed_out or m is None:
        kept = _keep_console(console, keep)
        shutil.rmtree(work, ignore_errors=True)
        why = (f'the guest did not finish within {req.timeout + req.boot_timeout:g} s'
               if timed_out else 'the guest stopped before the job finished')
        if qemu_err.strip():
            why += f'; qemu said: {qemu_err.strip()}'
        raise VMError(f'{why}; console log: {kept}')
    code = int(m.group(1))
    if code != 0 and keep:
        console = _keep_console(console, True)
    shutil.rmtree(work, ignore_errors=True)
    return VMResult(code, console, bytes(output), bytes(messages))


def _keep_console(console: Path, copy: bool) -> Path:
    if not copy or not console.exists():
        return console
    fd, name = tempfile.mkstemp(prefix='stap-gen-console-', suffix='.log')
    os.close(fd)
    shutil.copyfile(console, name)
    return Path(name)





# -- several modules in one boot --------------------------------------------------

@dataclass
class BatchJob:
    ko: Path
    command: Optional[str] = None
    timeout: float = 30.0
    params: str = ''                # module parameters (-G NAME=VALUE)
    target: Union[int, str, None] = None    # -x PID; 'self': the guest runner's pid


@dataclass
class BatchResult:
    exit_code: int
    output: str
    messages: str
    command_output: str = ''        # what the job's command wrote on stdout


def run_batch(bzimage: Path, jobs: List[BatchJob], console: Path,
              smp: int = 2, overhead: float = 0.0) -> List[BatchResult]:
    """Run each module in turn in one guest; one result per job, in order.

    The runner writes each job's output and messages to files in the
    guest; a last step prints them on ttyS1 between marker lines.  The
    guest gets the jobs' timeouts, plus overhead seconds a job (loading
    and unloading), plus the boot's own allowance.
    """
    import json
    spec = [{'module': f'/tmp/stap-gen/{job.ko.name}', 'command': job.command,
             'timeout': job.timeout, 'params': job.params, 'target': job.target,
             'output': f'/tmp/stap-gen/out.{i}',
             'messages': f'/tmp/stap-gen/err.{i}', 'rc': f'/tmp/stap-gen/rc.{i}',
             'command_output': f'/tmp/stap-gen/cmd.{i}'}
            for i, job in enumerate(jobs)]
    py = shlex.quote(os.path.realpath(sys.executable))
    lines = ['#!/bin/sh', 'export PYTHONDONTWRITEBYTECODE=1 HOME=/tmp', 'cd /tmp',
             f'{py} -S /tmp/stap-gen/{RUNNER.name} --jobs /tmp/stap-gen/jobs.json '
             '>/dev/null 2>&1']
    for i in range(len(jobs)):
        lines.append(f'echo "=== job {i} rc=$(cat /tmp/stap-gen/rc.{i})"; '
                     f'cat /tmp/stap-gen/out.{i}; echo "=== messages {i}"; '
                     f'cat /tmp/stap-gen/err.{i}; echo "=== command {i}"; '
                     f'cat /tmp/stap-gen/cmd.{i}')
    lines.append('echo "=== end"')
    script = '\n'.join(lines) + '\n'
    files = {ko.name: ko.read_bytes() for ko in {j.ko for j in jobs} if ko != jobs[0].ko}
    files['jobs.json'] = json.dumps(spec).encode()
    req = VMRequest(bzimage, jobs[0].ko, None,
                    timeout=sum(j.timeout + overhead for j in jobs),
                    console=console, smp=smp, extra_files=files)
    res = run(req, None, None, job_sh=script)
    text = res.output.decode(errors='replace')
    results = []
    for i in range(len(jobs)):
        m = re.search(rf'=== job {i} rc=(\d+)\n(.*?)=== messages {i}\n(.*?)'
                      rf'=== command {i}\n(.*?)(?==== )', text, re.S)
        if m is None:
            raise VMError(f'job {i} left no result; console log: {console}')
        results.append(BatchResult(int(m.group(1)), m.group(2), m.group(3), m.group(4)))
    return results


JOB_MARK_RE = re.compile(rf'{re.escape(runner.JOB_MARK)} (\d+) (\w+)(?: rc=(\d+))?\r?$', re.M)


@dataclass
class JobConsole:
    text: str = ''                  # the console from the job's start mark to the next job's
    exit_code: Optional[int] = None     # from its end mark, if the guest got that far


def job_consoles(console: str) -> Dict[int, JobConsole]:
    """A run_batch console log cut by the runner's marks, by job index:
    which kernel messages came while which job ran, and how far each got
    (after a crash, the jobs that started)."""
    out: Dict[int, JobConsole] = {}
    marks = list(JOB_MARK_RE.finditer(console))
    for k, m in enumerate(marks):
        i = int(m.group(1))
        job = out.setdefault(i, JobConsole())
        if m.group(3) is not None:
            job.exit_code = int(m.group(3))
            continue
        end = len(console)
        for later in marks[k + 1:]:
            if int(later.group(1)) != i:
                end = later.start()
                break
        job.text = console[m.start():end]
    return out
