# SPDX-License-Identifier: GPL-2.0
"""Load a stap-gen module, stream its output, stop it and unload it.

The same code runs on a developer's live kernel (stap-gen -p5) and inside
the QEMU guest (stap-gen --vm boots the tree's kernel with the host's
filesystem and runs this module there), so what the test suite exercises
is what a user gets.  It needs nothing but the standard library and root.

Protocol with the module (see kernel-templates/common/runtime/control.h):
/proc/stapgen_NAME/output yields records { u32 len; u8 type; u8 flags;
u16 cpu; u64 ns } + payload (the script's output, its messages, or a
command system() asks the runner to start); writing "stop" to
/proc/stapgen_NAME/control stops the script (end probes run), after which
output reaches EOF.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO, Dict, List, Optional

REC_HDR = struct.Struct('<IBBHQ')
REC_STDOUT, REC_STDERR, REC_SYSTEM = 1, 2, 3
SYS_FINIT_MODULE = 313      # x86_64
SYS_DELETE_MODULE = 176
O_NONBLOCK = os.O_NONBLOCK

LOAD_ERRORS = {
    errno.EEXIST: 'a module of that name is already loaded (stap-gen --cleanup unloads it)',
    errno.ENOEXEC: 'the kernel refused the module format: it was built for another kernel',
    errno.EPERM: 'loading modules needs root (and module loading must not be disabled)',
    errno.EKEYREJECTED: 'the module signature was rejected (this kernel enforces signing)',
    errno.ENOENT: 'a probe point does not exist in the running kernel',
    errno.EINVAL: 'a probe could not be placed (see the kernel log)',
    errno.ENODEV: 'a counter or device a probe needs is not there',
}


def kernel_messages(module: str, limit: int = 5) -> List[str]:
    """The last lines the kernel log holds from module (its pr_fmt prefix)."""
    out: List[str] = []
    try:
        fd = os.open('/dev/kmsg', os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return out
    try:
        while True:
            try:
                rec = os.read(fd, 8192).decode(errors='replace')
            except BlockingIOError:
                break
            except OSError:         # EPIPE: a record was overwritten; go on
                continue
            text = rec.split(';', 1)[-1].split('\n', 1)[0]
            if text.startswith(module + ': '):
                out.append(text[len(module) + 2:])
    finally:
        os.close(fd)
    return out[-limit:]


class RunError(Exception):
    """The module could not be loaded or run."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def load_module(ko: Path, params: str = '') -> None:
    fd = os.open(ko, os.O_RDONLY)
    try:
        if _libc().syscall(SYS_FINIT_MODULE, fd, params.encode(), 0) != 0:
            e = ctypes.get_errno()
            why = LOAD_ERRORS.get(e, os.strerror(e))
            said = kernel_messages(module_name(ko))
            raise RunError(f'cannot load {ko.name}: {os.strerror(e)}: {why}' +
                           (f'; the module said: {"; ".join(said)}' if said else ''))
    finally:
        os.close(fd)


def unload_module(name: str) -> None:
    libc = _libc()
    for _ in range(100):
        if libc.syscall(SYS_DELETE_MODULE, name.encode(), O_NONBLOCK) == 0:
            return
        e = ctypes.get_errno()
        if e == errno.ENOENT:
            return
        if e not in (errno.EAGAIN, errno.EBUSY, errno.EWOULDBLOCK):
            raise RunError(f'cannot unload {name}: {os.strerror(e)}')
        time.sleep(0.05)
    raise RunError(f'cannot unload {name}: still busy')


def cleanup(name: Optional[str] = None, err: Optional[BinaryIO] = None) -> List[str]:
    """Stop and unload stap-gen modules a killed run left loaded (all of
    them, or the one called name).  A module is ours if it has a
    /proc/stapgen_NAME directory."""
    done = []
    for d in sorted(Path('/proc').glob('stapgen_*')):
        mod = d.name[len('stapgen_'):]
        if name is not None and mod != name:
            continue
        try:
            (d / 'control').write_text('stop\n')
        except OSError:
            pass
        unload_module(mod)
        done.append(mod)
        if err is not None:
            err.write(f'stap-gen: unloaded {mod}, left loaded by an earlier run\n'.encode())
    return done


def module_name(ko: Path) -> str:
    return ko.name[:-3] if ko.name.endswith('.ko') else ko.name


def status(name: str) -> Dict[str, str]:
    text = Path(f'/proc/stapgen_{name}/control').read_text()
    return dict(kv.split('=', 1) for kv in text.split())


class Session:
    """One run of a loaded module."""

    def __init__(self, name: str, out: BinaryIO, err: BinaryIO) -> None:
        self.name = name
        self.out = out
        self.err = err
        self.proc_dir = Path(f'/proc/stapgen_{name}')
        self.fd = os.open(self.proc_dir / 'output', os.O_RDONLY | os.O_NONBLOCK)
        self.pending = b''
        self.stopped = False
        self.commands: List[subprocess.Popen[bytes]] = []
        # input.char / input.line: what comes on our stdin goes to the
        # script's __stdin file, a byte per write (as stapio does)
        self.stdin_to = -1
        if (self.proc_dir / '__stdin').exists():
            try:
                self.stdin_to = os.open(self.proc_dir / '__stdin', os.O_WRONLY)
            except OSError:
                pass

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            with open(self.proc_dir / 'control', 'w') as f:
                f.write('stop\n')

    def pump(self, timeout: float) -> bool:
        """Move output to out/err; False once the module's output ended."""
        watched = [self.fd] + ([sys.stdin.fileno()] if self.stdin_to >= 0 else [])
        ready, _, _ = select.select(watched, [], [], timeout)
        if self.stdin_to >= 0 and sys.stdin.fileno() in ready:
            self._forward_stdin()
        if self.fd not in ready:
            return True
        try:
            data = os.read(self.fd, 1 << 20)
        except BlockingIOError:
            return True
        if not data:
            return False
        buf = self.pending + data
        off = 0
        while len(buf) - off >= REC_HDR.size:
            length, typ, _flags, _cpu, _seq = REC_HDR.unpack_from(buf, off)
            if len(buf) - off < REC_HDR.size + length:
                break
            payload = buf[off + REC_HDR.size: off + REC_HDR.size + length]
            if typ == REC_SYSTEM:
                self._system(payload)
            else:
                (self.err if typ == REC_STDERR else self.out).write(payload)
            off += REC_HDR.size + length
        self.pending = buf[off:]
        self.out.flush()
        self.err.flush()
        return True

    def _system(self, command: bytes) -> None:
        """system(cmd): started, not waited for, its output after what the
        script printed before the call."""
        self.out.flush()
        try:
            sink: Any = self.out.fileno()
        except (AttributeError, OSError, ValueError):
            sink = None             # not a file: the runner's own stdout
        try:
            self.commands.append(subprocess.Popen(['/bin/sh', '-c', command.decode(
                errors='replace')], stdin=subprocess.DEVNULL, stdout=sink))
        except OSError as e:
            self.err.write(f'WARNING: system(): cannot start /bin/sh: {e.strerror}\n'.encode())
        self.commands = [p for p in self.commands if p.poll() is None]

    def _forward_stdin(self) -> None:
        data = os.read(sys.stdin.fileno(), 4096)
        try:
            for i in range(len(data)):
                os.write(self.stdin_to, data[i:i + 1])
        except OSError:
            data = b''              # the script stopped taking input
        if not data:
            os.close(self.stdin_to)
            self.stdin_to = -1

    def close(self) -> None:
        os.close(self.fd)
        if self.stdin_to >= 0:
            os.close(self.stdin_to)
        for p in self.commands:     # reap what has ended; the rest goes on
            p.poll()


def _as_fd9(fd: int) -> None:
    """In the child: fd becomes 9, kept across exec (dup2 onto itself would
    leave it close-on-exec)."""
    if fd == 9:
        os.set_inheritable(9, True)
    else:
        os.dup2(fd, 9)
        os.close(fd)


def time_zone_params() -> str:
    """tz_gmtoff() and tz_name() of the script: this process's local time
    zone (TZ, /etc/localtime), as staprun passes it to SystemTap's."""
    now = time.localtime()
    name = re.sub(r'[^A-Za-z0-9+_-]', '', now.tm_zone or '') or 'UTC'
    return f'stp_tz_gmtoff={-now.tm_gmtoff} stp_tz_name={name}'


def run(ko: Path, command: Optional[str], out: BinaryIO, timeout: Optional[float],
        err: Optional[BinaryIO] = None, params: str = '',
        target: Optional[int] = None, command_out: Optional[BinaryIO] = None) -> int:
    """Load ko, run command (if any), stream output, stop, unload.

    target() is the command's pid, or target when given (-x PID).  The
    command writes to our stdout, or to command_out when given.
    Returns 0 when the script ran and stopped cleanly, 1 on script errors.
    """
    err = err or sys.stderr.buffer
    name = module_name(ko)
    cleanup(name, err)          # the same script, from a run that was killed
    stop_signal: List[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stop_signal.append(signum)

    out.flush()
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    child: Optional[subprocess.Popen[bytes]] = None
    go = -1
    if command:
        # As stap does: the command's process exists before the module
        # loads (so its pid is known) and runs CMD once the script started.
        # The shell says on fd 9 that it is ready, once its own start-up
        # (the dynamic loader's opens and mmaps) is over, so the first thing
        # a probe sees target() do is CMD; then it waits on stdin for "go".
        # stdin stays the command's, at EOF (an open of /dev/null would be
        # seen too).  (Python's own descriptors are close-on-exec.)
        go_r, go = os.pipe()
        ready_r, ready_w = os.pipe()
        # A simple command replaces the shell (exec), so target() is its pid,
        # as with stap; a list or pipeline runs under the shell, target().
        run_it = 'eval "$0"' if re.search(r'[;&|()`\n]', command) else 'eval "exec $0"'
        child = subprocess.Popen(['/bin/sh', '-c', f'echo >&9; exec 9>&-; read -r _; {run_it}',
                                  command], stdin=go_r, stdout=command_out, close_fds=False,
                                 preexec_fn=lambda: _as_fd9(ready_w))
        os.close(go_r)
        os.close(ready_w)
        os.read(ready_r, 1)
        os.close(ready_r)
        target = child.pid
    if target is not None:
        params = f'{params} stp_target={target}'.strip()
    params = f'{params} {time_zone_params()}'.strip()
    try:
        load_module(ko, params)
    except BaseException:
        if child is not None:
            child.kill()
            child.wait()
            os.close(go)
        for s, h in old.items():
            signal.signal(s, h)
        raise
    try:
        session = Session(name, out, err)
        if go >= 0:
            os.write(go, b'go\n')
            os.close(go)
        deadline = time.monotonic() + timeout if timeout else None
        while session.pump(0.05):
            if session.stopped:
                continue
            if stop_signal:
                session.stop()
            elif child is not None and child.poll() is not None:
                session.stop()
            elif deadline is not None and time.monotonic() > deadline:
                err.write(f'stap-gen: timeout after {timeout:g} s, stopping\n'.encode())
                session.stop()
        st = status(name)
        session.close()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        try:
            unload_module(name)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    return _report(st, err)


def _report(st: Dict[str, str], err: BinaryIO) -> int:
    msgs = []
    if st.get('dropped_msgs', '0') != '0':
        msgs.append(f"WARNING: output buffer overflowed: {st['dropped_msgs']} messages "
                    f"({st['dropped_bytes']} bytes) dropped; raise it with -s MB")
    skipped, locks = int(st.get('skipped', '0')), int(st.get('skipped_locks', '0'))
    if skipped:
        msgs.append(f'WARNING: {skipped} probe hits skipped: {skipped - locks} reentrant '
                    f'(the CPU was in a handler), {locks} on a lock not had within '
                    'MAXTRYLOCK tries')
    suppressed = st.get('suppressed', '0') != '0'
    if st.get('errors', '0') != '0':
        msgs.append(f"WARNING: number of errors: {st['errors']}" +
                    (' (suppressed: --suppress-handler-errors)' if suppressed else ''))
    for m in msgs:
        err.write((m + '\n').encode())
    err.flush()
    return 1 if st.get('errors', '0') != '0' and not suppressed else 0


JOB_MARK = 'stap-gen-run: job'


def kmsg_mark(text: str) -> None:
    """A line in the kernel log (and so on the console), to tell which job
    the kernel's messages around it belong to.  Each open of /dev/kmsg is
    rate-limited on its own, so a line per open is never dropped; no
    /dev/kmsg (or no right to it) is no error."""
    try:
        fd = os.open('/dev/kmsg', os.O_WRONLY)
    except OSError:
        return
    try:
        os.write(fd, f'<5>{text}\n'.encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def run_jobs(spec: Path) -> int:
    """Several runs in one process (one interpreter start-up in a slow guest).

    Before each job the kernel log gets "stap-gen-run: job N MODULE", after
    it the same with " rc=R": a console line lies between a job's two.
    A job's target is a pid, or "self" for this process (what $$ is to
    the shell that runs stap)."""
    import json
    worst = 0
    for i, job in enumerate(json.loads(spec.read_text())):
        ko = Path(job['module'])
        kmsg_mark(f'{JOB_MARK} {i} {module_name(ko)}')
        target = job.get('target')
        with open(job['output'], 'wb') as out, open(job['messages'], 'wb') as err, \
                open(job['command_output'], 'wb') as cmd_out:
            try:
                rc = run(ko, job.get('command'), out, job.get('timeout'), err,
                         params=job.get('params') or '',
                         target=os.getpid() if target == 'self' else target,
                         command_out=cmd_out)
            except (RunError, OSError) as e:
                err.write(f'stap-gen: error: {e}\n'.encode())
                rc = 1
        Path(job['rc']).write_text(f'{rc}\n')
        kmsg_mark(f'{JOB_MARK} {i} {module_name(ko)} rc={rc}')
        worst = max(worst, rc)
    return worst


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog='stap-gen-run',
                                 description='Run a built stap-gen module.')
    ap.add_argument('module', type=Path, nargs='?')
    ap.add_argument('-c', dest='command')
    ap.add_argument('--timeout', type=float)
    ap.add_argument('-o', dest='output', type=Path)
    ap.add_argument('--preload', type=Path, action='append', default=[],
                    help='load this module first (and unload it after)')
    ap.add_argument('--params', default='', help='module parameters (-G NAME=VALUE)')
    ap.add_argument('-x', dest='target', type=int, metavar='PID', help="target()'s value")
    ap.add_argument('--cleanup', action='store_true',
                    help='stop and unload stap-gen modules left loaded, then exit')
    ap.add_argument('--jobs', type=Path,
                    help='run the modules a JSON list describes, one after another: '
                         '[{"module", "command", "timeout", "params", "target", '
                         '"output", "messages", "rc", "command_output"}]')
    args = ap.parse_args(argv)
    if args.cleanup:
        cleanup(err=sys.stderr.buffer)
        return 0
    if args.jobs:
        return run_jobs(args.jobs)
    if args.module is None:
        ap.error('a module (or --jobs) is required')
    out: BinaryIO = args.output.open('wb') if args.output else sys.stdout.buffer
    loaded: List[str] = []
    try:
        for ko in args.preload:
            load_module(ko)
            loaded.append(module_name(ko))
        return run(args.module, args.command, out, args.timeout, params=args.params,
                   target=args.target)
    except (RunError, OSError) as e:
        print(f'stap-gen: error: {e}', file=sys.stderr)
        return 1
    finally:
        for name in reversed(loaded):
            unload_module(name)
        if args.output:
            out.close()


if __name__ == '__main__':
    sys.exit(main())
