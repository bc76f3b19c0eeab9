# SPDX-License-Identifier: GPL-2.0
"""Target variables read from the tree's DWARF, run for real in QEMU.

A static workload (tests/data/stapgen_work.c) opens and reads files with
flags the test chooses and prints what it did; the probes print what they
saw through $vars, and the two accounts must agree.  Listings (-L) are
checked against perf probe -V on the same vmlinux.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import TOP, assert_healthy, run_vm, stapgen, write
from stapgen import paths

O_LARGEFILE = 0o100000      # the openat syscall adds it on 64-bit
AT_FDCWD = -100
WORKLOAD_ARGS = ['/etc/hostname', '0', '/proc/version', '0x80000',     # O_CLOEXEC
                 '/nonexistent', '0', '/tmp/stapgen-out', '0x241']       # WRONLY|CREAT|TRUNC


@pytest.fixture(scope='session')
def workload() -> Path:
    """The workload, static, where the guest can see it (not under /tmp)."""
    src = TOP / 'tests' / 'data' / 'stapgen_work.c'
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    out = paths.cache_dir() / 'tests' / digest / 'stapgen_work'   # comm: stapgen_work
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix('.tmp')
        subprocess.run(['gcc', '-static', '-O2', '-o', str(tmp), str(src)], check=True)
        tmp.rename(out)
    return out


def workload_says(stdout: str) -> Dict[str, List[str]]:
    """path -> [flags, result] as the workload itself reported its opens."""
    return {m.group(1): [m.group(2), m.group(3)] for m in
            re.finditer(r'^workload open (\S+) (\S+) (-?\d+)$', stdout, re.M)}


def test_open_paths_flags_and_return(kdir: Path, tmp_path: Path, workload: Path) -> None:
    """$filename, $how->flags at entry; $return and @entry($dfd) at return,
    compared with what the workload says it did."""
    script = write(tmp_path, 'open.stp', '''
probe kernel.function("do_sys_openat2") {
	if (execname() == "stapgen_work")
		printf("entry %s %#x\\n", kernel_string($filename), $how->flags)
}
probe kernel.function("do_sys_openat2").return {
	if (execname() == "stapgen_work")
		printf("return %d dfd=%d name=%s\\n", $return, @entry($dfd),
		       kernel_string($filename))
}
''')
    r = run_vm(kdir, script, ' '.join([str(workload)] + WORKLOAD_ARGS), tmp_path)
    assert r.returncode == 0, r.stderr + r.console[-2000:]
    assert_healthy(r.console)
    said = workload_says(r.stdout)
    paths_in_order = WORKLOAD_ARGS[::2]
    assert list(said) == paths_in_order
    entries = re.findall(r'^entry (\S+) (\S+)$', r.stdout, re.M)
    returns = re.findall(r'^return (-?\d+) dfd=(-?\d+) name=(\S+)$', r.stdout, re.M)
    assert [p for p, _ in entries] == paths_in_order, r.stdout
    for path, flags in entries:
        assert int(flags, 16) & ~O_LARGEFILE == int(said[path][0], 16), (path, flags)
    assert [(name, int(ret)) for ret, _, name in returns] == \
        [(p, int(said[p][1])) for p in paths_in_order]
    assert all(int(dfd) == AT_FDCWD for _, dfd, _ in returns)
    assert int(said['/nonexistent'][1]) == -2


def test_struct_walk_to_the_dentry_name(kdir: Path, tmp_path: Path, workload: Path) -> None:
    """$file->f_path->dentry->d_name->name: four levels to the file read."""
    script = write(tmp_path, 'read.stp', '''
probe kernel.function("vfs_read") {
	if (execname() == "stapgen_work")
		printf("read %s %d\\n", kernel_string($file->f_path->dentry->d_name->name),
		       $count)
}
''')
    r = run_vm(kdir, script, ' '.join([str(workload)] + WORKLOAD_ARGS), tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    reads = re.findall(r'^workload read (\S+) (-?\d+)$', r.stdout, re.M)
    # a read of a write-only file fails in the syscall, before vfs_read's body
    expected = [(Path(p).name, '1') for p, res in reads]
    seen = re.findall(r'^read (\S+) (\d+)$', r.stdout, re.M)
    assert seen == expected, r.stdout


def listing(kdir: Path, spec: str) -> Dict[str, str]:
    r = stapgen('-r', str(kdir), '-L', spec)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip().splitlines()[0]
    return dict(re.findall(r'\$(\w+):(.+?)(?= \$|$)', line))


def test_pretty_parms_follow_the_listed_types(kdir: Path, tmp_path: Path,
                                              workload: Path) -> None:
    """$$parms$ prints each parameter -L lists, formatted by its type."""
    types = listing(kdir, 'kernel.function("do_sys_openat2")')
    assert list(types)[:3] == ['dfd', 'filename', 'how']
    script = write(tmp_path, 'parms.stp', '''
probe kernel.function("do_sys_openat2") {
	if (execname() == "stapgen_work")
		println($$parms$)
}
''')
    r = run_vm(kdir, script, f'{workload} /etc/hostname 0', tmp_path)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith('dfd='))
    values = dict(re.findall(r'(\w+)=(".*?"|\S+)', line))
    params = [p for p in types if p in values]
    assert params == ['dfd', 'filename', 'how'], line
    assert values['dfd'] == str(AT_FDCWD)                       # int: decimal
    assert values['filename'] == '"/etc/hostname"'              # char const*: the string
    assert re.fullmatch(r'0x[0-9a-f]+', values['how'])          # pointer: hex
    assert types['how'] == 'struct open_how*' and types['dfd'] == 'int'


@pytest.mark.parametrize('body, message, hint', [
    ('print($fd)', 'is optimized out', 'readable here: $dfd $filename $how'),
    ('print($how->nosuch)', "struct open_how has no member 'nosuch'",
     'its members: flags, mode, resolve'),
    ('print($dfd->x)', "'->x' on int, which is not a struct",
     "'$dfd' is a int: use it as a number"),
    ('print($nosuch)', 'no variable $nosuch in do_sys_openat2',
     'available here: $dfd $filename $how'),
])
def test_compile_time_errors(kdir: Path, body: str, message: str, hint: str) -> None:
    r = stapgen('-r', str(kdir), '-p3', '-o', '/dev/null', '-e',
                f'probe kernel.function("do_sys_openat2") {{ {body} }}')
    assert r.returncode == 1
    assert re.search(r'<command line>:1:\d+: error: ', r.stderr), r.stderr
    assert message in r.stderr and f'hint: ' in r.stderr and hint in r.stderr, r.stderr


def test_defined_picks_the_branch(kdir: Path) -> None:
    """@defined on a variable that is not there drops that branch at build
    time; @choose_defined(A, B) is A where A resolves, else B."""
    r = stapgen('-r', str(kdir), '-p3', '-e',
                'probe kernel.function("do_sys_openat2") { '
                'print(@defined($nosuch) ? $nosuch : 7); '
                'if (@defined($dfd)) print($dfd) else print($nosuch); '
                'print(@choose_defined($nosuch, 8)); print(@choose_defined($dfd, $nosuch)) }')
    assert r.returncode == 0, r.stderr
    prints = re.findall(r'\(void\)\(stp_printf\(c, "%lld", \(long long\)\((.*)\)\)\);', r.stdout)
    assert prints[0] == '7LL' and 'stp_dwreg(c, ' in prints[1] and len(prints) == 4
    assert prints[2] == '8LL' and prints[3] == prints[1]


def perf_vars(kdir: Path, func: str) -> Dict[str, str]:
    perf = shutil.which('perf')
    assert perf, 'perf is missing: scripts/stap/setup installs linux-perf'
    out = subprocess.run([perf, 'probe', '-k', str(kdir / 'vmlinux'), '-V', func],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return {m.group(2): m.group(1) for m in
            re.finditer(r'^\t\t(.+?)\t(\w+)$', out.stdout, re.M)}


@pytest.mark.parametrize('func', ['do_sys_openat2', 'vfs_read', 'vfs_write',
                                  'do_filp_open', 'vfs_statx',
                                  'may_create', 'proc_maps_open'])     # clones
def test_listing_agrees_with_perf(kdir: Path, func: str) -> None:
    """-L lists the variables perf probe -V finds at the entry, with the same
    types (perf leaves out const and volatile)."""
    ours = listing(kdir, f'kernel.function("{func}")')
    theirs = perf_vars(kdir, func)
    assert theirs, f'perf found no variables in {func}'
    plain = {k: re.sub(r' (const|volatile)\b', '', v) for k, v in ours.items()}
    assert plain == theirs


def test_inline_and_clone_instances(kdir: Path, tmp_path: Path, workload: Path) -> None:
    """file_ppos is inlined into ksys_read/ksys_write: $file comes from each
    inlined instance's own DWARF.  proc_maps_open exists only as a
    .constprop clone: its $file from the clone's DWARF."""
    placed = stapgen('-r', str(kdir), '-p2', '-e',
                     'probe kernel.function("proc_maps_open") {}').stdout
    assert 'pc=<proc_maps_open.constprop.' in placed
    script = write(tmp_path, 'inline.stp', '''
probe kernel.function("file_ppos") {
	if (execname() == "stapgen_work")
		printf("ppos %s\\n", kernel_string($file->f_path->dentry->d_name->name))
}
probe kernel.function("proc_maps_open") {
	if (execname() == "stapgen_work")
		printf("maps %s\\n", kernel_string($file->f_path->dentry->d_name->name))
}
''')
    r = run_vm(kdir, script, f'{workload} /etc/hostname 0 /proc/self/maps 0 '
                             '/tmp/stapgen-out 0x241', tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    names = re.findall(r'^ppos (\S+)$', r.stdout, re.M)
    # reads of the three files (the write-only one fails after file_ppos),
    # and the workload's own writes to its stdout
    stdout_name = names[0]
    assert [x for x in names if x != stdout_name] == ['hostname', 'maps', 'stapgen-out']
    assert re.findall(r'^maps (\S+)$', r.stdout, re.M) == ['maps']


def test_var_reads_an_exported_global(kdir: Path, tmp_path: Path) -> None:
    """@var("jiffies") through the export, typed from the probed file's DWARF
    (or, in a begin probe, from the file @var names),
    agrees with the kernel's own get_jiffies_64(); an unexported global is
    refused, never reached by address."""
    script = write(tmp_path, 'var.stp', '''
probe begin {
	# read in this order (C leaves the order of printf's arguments open)
	v = @var("jiffies@kernel/time/timer.c"); j = jiffies()
	printf("begin %d %d\\n", v, j)
}
probe kernel.function("schedule_timeout") {
	v = @var("jiffies"); j = jiffies()
	printf("jiffies %d %d\\n", v, j)
	exit()
}
''')
    r = run_vm(kdir, script, 'sleep 0.1', tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    ours, kernels = map(int, re.search(r'^jiffies (\d+) (\d+)$', r.stdout, re.M).groups())
    assert 0 <= kernels - ours <= 1
    # outside a function probe the type comes from the named file's DWARF
    ours, kernels = map(int, re.search(r'^begin (\d+) (\d+)$', r.stdout, re.M).groups())
    assert 0 <= kernels - ours <= 1
    bad = stapgen('-r', str(kdir), '-p3', '-o', '/dev/null', '-e',
                  'probe begin { print(@var("jiffies")) }')
    assert bad.returncode == 1 and '@var("jiffies@FILE.c")' in bad.stderr, bad.stderr
    bad = stapgen('-r', str(kdir), '-p3', '-o', '/dev/null', '-e',
                  'probe kernel.function("do_sys_openat2") { print(@var("nr_files")) }')
    assert bad.returncode == 1 and "'nr_files' is not exported" in bad.stderr


def test_cast_walks_kernel_types(kdir: Path, tmp_path: Path, workload: Path) -> None:
    """@cast(task_current(), "struct task_struct"): an int member, a char
    array and a pointer chain, each checked against the kernel's own
    tid(), execname() and ppid(), and a bare tag name as SystemTap takes
    it ("task_struct"); in a script function called from a begin probe (no
    DWARF scope of its own) and from a function probe."""
    script = write(tmp_path, 'cast.stp', '''
@define T %( @cast(task_current(), "struct task_struct") %)
function check(where) {
	printf("%s %d %d %d %d\\n", where, @T->pid == tid(),
	       kernel_string(@T->comm) == execname(), @T->real_parent->tgid == ppid(),
	       @cast(task_current(), "task_struct")->tgid == pid())
}
probe begin { check("begin") }
probe kernel.function("do_sys_openat2") {
	if (execname() == "stapgen_work")
		check("open")
}
''')
    r = run_vm(kdir, script, f'{workload} /etc/hostname 0', tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    assert re.findall(r"^(begin|open) (\d) (\d) (\d) (\d)$", r.stdout, re.M) == \
        [('begin', '1', '1', '1', '1'), ('open', '1', '1', '1', '1')], r.stdout
    bad = stapgen('-r', str(kdir), '-p3', '-o', '/dev/null', '-e',
                  'function f() { return $x } probe begin { print(f()) }')
    assert bad.returncode == 1 and 'target variables belong to probes' in bad.stderr


def test_pretty_parameters_in_a_return_probe(kdir: Path, tmp_path: Path,
                                             workload: Path) -> None:
    """$$parms$ in a .return probe shows the values at entry (saved by the
    kretprobe's entry handler, strings included), the same text an entry
    probe prints, next to $$return."""
    script = write(tmp_path, 'parms.stp', '''
probe kernel.function("do_sys_openat2") {
	if (execname() == "stapgen_work")
		printf("entry %s\\n", $$parms$)
}
probe kernel.function("do_sys_openat2").return {
	if (execname() == "stapgen_work")
		printf("return %s %s\\n", $$parms$, $$return$)
}
''')
    r = run_vm(kdir, script, ' '.join([str(workload)] + WORKLOAD_ARGS), tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    said = workload_says(r.stdout)
    entries = re.findall(r'^entry (.*)$', r.stdout, re.M)
    returns = re.findall(r'^return (.*) return=(-?\d+)$', r.stdout, re.M)
    assert [f'filename="{p}"' in e for e, p in zip(entries, said)] == [True] * len(said)
    assert [parms for parms, _ in returns] == entries
    assert [int(ret) for _, ret in returns] == [int(res) for _, res in said.values()]


def test_locals_at_a_statement(kdir: Path, tmp_path: Path, workload: Path) -> None:
    """At the `putname(tmp);` line of do_sys_openat2 (found in the tree's
    source), the locals $fd and $tmp->name hold the open's result and the
    kernel's copy of the path, as the workload saw them."""
    from test_placement import _source_line
    line = _source_line(kdir, 'fs/open.c', 'do_sys_openat2', 'putname(tmp);')
    pp = f'kernel.statement("do_sys_openat2@fs/open.c:{line}")'
    listed = stapgen('-r', str(kdir), '-L', pp)
    assert listed.returncode == 0, listed.stderr
    assert '$fd:int' in listed.stdout and '$tmp:struct filename*' in listed.stdout, listed.stdout
    script = write(tmp_path, 'stmt.stp', f'''
probe {pp} {{
	if (execname() == "stapgen_work")
		printf("at %s %d\\n", kernel_string($tmp->name), $fd)
}}
''')
    r = run_vm(kdir, script, ' '.join([str(workload)] + WORKLOAD_ARGS), tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    said = workload_says(r.stdout)
    seen = re.findall(r'^at (\S+) (-?\d+)$', r.stdout, re.M)
    assert seen == [(path, res) for path, (_, res) in said.items()], r.stdout


def test_struct_split_over_registers(kdir: Path, tmp_path: Path) -> None:
    """timestamp_truncate(struct timespec64 t, ...) gets t in two registers
    (DW_OP_piece); $t->tv_sec and $t->tv_nsec are read piece by piece and
    equal the times touch(1) asked utimensat(2) for."""
    listed = stapgen('-r', str(kdir), '-L', 'kernel.function("timestamp_truncate")')
    assert '$t:struct timespec64' in listed.stdout, listed.stdout + listed.stderr
    script = write(tmp_path, 'pieces.stp', '''
probe kernel.function("timestamp_truncate") {
	if (execname() == "touch")
		printf("t %d %d\\n", $t->tv_sec, $t->tv_nsec)
}
''')
    r = run_vm(kdir, script, 'touch -d @1234567890.25 /tmp/stapgen-touched', tmp_path)
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    seen = re.findall(r'^t (\d+) (\d+)$', r.stdout, re.M)
    # atime and mtime, as given (other calls are the kernel's own clock)
    assert seen.count(('1234567890', '250000000')) == 2, r.stdout
