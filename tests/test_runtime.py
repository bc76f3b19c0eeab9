# SPDX-License-Identifier: GPL-2.0
"""The runtime under QEMU: tracepoints, target(), and the kernel surviving
what a script does.  Expected values come from the workload's own account
or from the tree (its headers and syscall table), never from the kit."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import BAD_CONSOLE, assert_healthy, run_vm, stapgen, write
from stapgen.run import vm
from test_targets import workload  # noqa: F401  (the fixture)


def tree_define(kdir: Path, header: str, name: str) -> int:
    m = re.search(rf'^#define\s+{name}\s+(0x[0-9a-fA-F]+|\d+)',
                  (kdir / header).read_text(), re.M)
    assert m, f'{name} not in {header}'
    return int(m.group(1), 0)


def syscall_nr(kdir: Path, name: str) -> int:
    table = (kdir / 'arch/x86/entry/syscalls/syscall_64.tbl').read_text()
    m = re.search(rf'^(\d+)\s+(common|64)\s+{name}\s', table, re.M)
    assert m, name
    return int(m.group(1))


def test_tracepoints(kdir: Path, tmp_path: Path, workload: Path) -> None:  # noqa: F811
    """kernel.trace probes with their TP_PROTO arguments typed from DWARF:
    sys_enter's $id counts the workload's openat calls; sched_switch's
    $prev ends with the workload leaving the CPU as TASK_DEAD."""
    listed = stapgen('-r', str(kdir), '-L', 'kernel.trace("sched:sched_switch")')
    assert listed.returncode == 0, listed.stderr
    assert '$prev:struct task_struct* $next:struct task_struct*' in listed.stdout
    script = write(tmp_path, 'tp.stp', '''
probe kernel.trace("sched:sched_switch") {
	if ($prev->pid == target())
		printf("switch %s %d\\n", kernel_string($prev->comm), $prev_state)
}
probe kernel.trace("sys_enter") {
	if (pid() == target())
		printf("syscall %d\\n", $id)
}
''')
    r = run_vm(kdir, script, f'{workload} /etc/hostname 0 /proc/version 0 /nonexistent 0',
               tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    calls = [int(x) for x in re.findall(r'^syscall (\d+)$', r.stdout, re.M)]
    opens = len(re.findall(r'^workload open ', r.stdout, re.M))
    assert opens == 3
    assert calls.count(syscall_nr(kdir, 'openat')) == opens, calls
    assert calls[-1] == syscall_nr(kdir, 'exit_group'), calls
    switches = re.findall(r'^switch (\S+) (\d+)$', r.stdout, re.M)
    assert {name for name, _ in switches} <= {'sh', 'stapgen_work'}
    assert switches[-1] == ('stapgen_work',
                            str(tree_define(kdir, 'include/linux/sched.h', 'TASK_DEAD')))


def test_no_such_tracepoint(kdir: Path) -> None:
    r = stapgen('-r', str(kdir), '-p2', '-e', 'probe kernel.trace("sched_swich") {}')
    assert r.returncode == 1
    assert 'no tracepoint matches "sched_swich"' in r.stderr
    assert 'did you mean sched_switch' in r.stderr


def test_backtrace_symbolized_from_the_tree(kdir: Path, tmp_path: Path,
                                            workload: Path) -> None:  # noqa: F811
    """print_backtrace() in a probe on vfs_read shows the read(2) path, the
    probed function first; each caller's file:line is the line of the tree's
    source that makes the call."""
    script = write(tmp_path, 'bt.stp', '''
probe kernel.function("vfs_read") {
	if (execname() == "stapgen_work") {
		print_backtrace()
		printf("caller %s\\n", caller())
		exit()
	}
}
''')
    r = run_vm(kdir, script, f'{workload} /etc/hostname 0', tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    frames = re.findall(r'^ 0x[0-9a-f]+ : (\w+)\+0x[0-9a-f]+(?:/0x[0-9a-f]+)? \[kernel\]'
                        r'(?: \((\S+):(\d+)\))?$', r.stdout, re.M)
    names = [f[0] for f in frames]
    assert names[:2] == ['vfs_read', 'ksys_read'], r.stdout
    assert 'do_syscall_64' in names
    _, file, line = frames[1]
    source = (kdir / file).read_text().splitlines()[int(line) - 1]
    assert 'vfs_read(' in source, (file, line, source)
    assert re.search(r'^caller ksys_read\+0x[0-9a-f]+/0x[0-9a-f]+$', r.stdout, re.M)


def test_timers_fire_at_their_periods(kdir: Path, tmp_path: Path) -> None:
    """timer.hz/jiffies/us fire as often as their periods say over the run
    (HZ from the tree's .config); timer.profile fires on every CPU."""
    hz_config = int(re.search(r'^CONFIG_HZ=(\d+)$', (kdir / '.config').read_text(),
                              re.M).group(1))
    script = write(tmp_path, 'timers.stp', '''
global prof, hz, jif, us, t0
probe begin { t0 = gettimeofday_ns() }
probe timer.profile { prof[cpu()]++ }
probe timer.hz(100) { hz++ }
probe timer.jiffies(2) { jif++ }
probe timer.us(2000) { us++ }
probe timer.ms(1500) { exit() }
probe end {
	printf("elapsed_ms %d\\n", (gettimeofday_ns() - t0) / 1000000)
	printf("hz %d jiffies %d us %d\\n", hz, jif, us)
	foreach (c in prof+) printf("profile %d %d\\n", c, prof[c])
}
''')
    r = run_vm(kdir, script, None, tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    seconds = int(re.search(r'^elapsed_ms (\d+)$', r.stdout, re.M).group(1)) / 1000
    hz, jif, us = map(int, re.search(r'^hz (\d+) jiffies (\d+) us (\d+)$',
                                     r.stdout, re.M).groups())
    profile = dict(re.findall(r'^profile (\d+) (\d+)$', r.stdout, re.M))

    def near(got: int, want: float) -> bool:
        return 0.7 * want <= got <= 1.1 * want + 1

    assert near(hz, 100 * seconds), (hz, seconds)
    assert near(jif, hz_config / 2 * seconds), (jif, seconds)
    assert near(us, 500 * seconds), (us, seconds)
    assert sorted(profile) == ['0', '1']            # the guest has two CPUs
    assert all(near(int(n), hz_config * seconds) for n in profile.values()), profile


def test_error_limits(kdir: Path, tmp_path: Path, workload: Path) -> None:  # noqa: F811
    """A division by zero on each of five opens: by default the first one
    stops the script (error probe, no end probe); with -D MAXERRORS=2 the
    third one does; with --suppress-handler-errors the script runs to the
    end and the count is reported, with exit status 0."""
    script = write(tmp_path, 'div.stp', '''
global n
probe kernel.function("do_sys_openat2") {
	if (pid() == target()) {
		printf("open %d\\n", ++n)
		x = 1 / (n - n)
		printf("not reached %d\\n", x)
	}
}
probe end { printf("end %d\\n", n) }
probe error { printf("error probe %d\\n", n) }
''')
    variants = {'default': [], 'maxerrors': ['-D', 'MAXERRORS=2'],
                'suppress': ['--suppress-handler-errors']}
    kos = []
    for name, flags in variants.items():
        built = stapgen('-r', str(kdir), '-p4', '-m', f'stap_err_{name}', *flags, str(script),
                        cwd=tmp_path)
        assert built.returncode == 0, built.stderr
        kos.append(tmp_path / f'stap_err_{name}.ko')
    opens = ' '.join(['/etc/hostname 0'] * 5)
    console = tmp_path / 'console.log'
    default, maxerrors, suppress = vm.run_batch(
        kdir / 'arch/x86/boot/bzImage',
        [vm.BatchJob(ko, f'{workload} {opens}', timeout=30) for ko in kos], console)
    text = console.read_text(errors='replace')
    assert BAD_CONSOLE.search(text) is None, text[-3000:]
    assert (default.exit_code, default.output) == (1, 'open 1\nerror probe 1\n')
    assert default.messages.count('ERROR: division by zero near') == 1, default.messages
    assert 'div.stp:6:' in default.messages and 'do_sys_openat2' in default.messages
    assert (maxerrors.exit_code, maxerrors.output) == \
        (1, 'open 1\nopen 2\nopen 3\nerror probe 3\n')
    assert maxerrors.messages.count('ERROR: division by zero') == 3, maxerrors.messages
    assert suppress.exit_code == 0, suppress.messages
    assert suppress.output == ''.join(f'open {i}\n' for i in range(1, 6)) + 'end 5\n'
    assert 'ERROR' not in suppress.messages
    assert 'number of errors: 5 (suppressed' in suppress.messages, suppress.messages


def test_signals_stop_cleanly(kdir: Path, tmp_path: Path, workload: Path) -> None:  # noqa: F811
    """SIGINT and SIGTERM to the runner while the command still runs: the
    end probe runs and sees every hit, the output is drained, the exit
    status is 0, and no module is left loaded."""
    script = write(tmp_path, 'sig.stp', '''
global n
probe kernel.function("do_sys_openat2") { if (execname() == "stapgen_work") n++ }
probe end { printf("end %d\\n", n) }
''')
    kos = []
    for name in ('stap_sigint', 'stap_sigterm'):
        built = stapgen('-r', str(kdir), '-p4', '-m', name, str(script), cwd=tmp_path)
        assert built.returncode == 0, built.stderr
        kos.append(tmp_path / f'{name}.ko')
    # (a list runs under the shell, whose parent is the runner)
    opens = f'{workload} /etc/hostname 0 /proc/version 0 /etc/hostname 0'
    # (the command would outlive the runner's timeout: only the signal stops it)
    jobs = [vm.BatchJob(ko, f'{opens}; kill -{sig} $PPID; sleep 600', timeout=60)
            for ko, sig in zip(kos, ('INT', 'TERM'))]
    jobs.append(vm.BatchJob(kos[0], 'cat /proc/modules', timeout=60))
    console = tmp_path / 'console.log'
    sigint, sigterm, after = vm.run_batch(kdir / 'arch/x86/boot/bzImage', jobs, console)
    text = console.read_text(errors='replace')
    assert BAD_CONSOLE.search(text) is None, text[-3000:]
    for res in (sigint, sigterm):
        assert res.command_output.count('workload open') == 3, res.command_output
        assert (res.exit_code, res.output) == (0, 'end 3\n'), res.messages
        assert 'timeout' not in res.messages, res.messages
    # the third run's own module is the only one loaded while it runs
    loaded = re.findall(r'^(stap_\w+) ', after.command_output, re.M)
    assert loaded == ['stap_sigint'], after.command_output


def test_maxskipped_stops_the_script(kdir: Path, tmp_path: Path) -> None:
    """Two CPUs fight over one global with a single try for its lock: the
    hits that lose are skipped and counted, and past MAXSKIPPED the script
    stops as on an error (error probe, no end probe, exit status 1)."""
    script = write(tmp_path, 'skip.stp', '''
global n, x
probe kernel.function("vfs_read") {
	n++
	for (i = 0; i < 300; i++) x += i
}
probe end { printf("end\\n") }
probe error { printf("error probe\\n") }
''')
    dd = 'dd if=/dev/zero of=/dev/null bs=1 count=1000000 status=none'
    r = run_vm(kdir, script, f'{dd} & {dd} & wait', tmp_path,
               extra=['-D', 'MAXTRYLOCK=1', '-D', 'TRYLOCKDELAY=0', '-D', 'MAXSKIPPED=10',
                      '--timeout', '120'])
    assert BAD_CONSOLE.search(r.console) is None, r.console[-3000:]
    assert r.returncode == 1, r.stderr
    assert 'ERROR: too many probe hits skipped (more than MAXSKIPPED)' in r.stderr, r.stderr
    assert r.stdout == 'error probe\n'
    m = re.search(r'(\d+) probe hits skipped: \d+ reentrant.*, (\d+) on a lock', r.stderr)
    assert m and int(m.group(1)) > 10 and int(m.group(2)) > 0, r.stderr
