# SPDX-License-Identifier: GPL-2.0
"""Probe placement against the real trees: duplicated static names,
compiler clones, symbol-table probes, wildcards and refusals; each hit
checked in QEMU where a workload can reach it, each placement checked
against perf probe where perf can say."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from conftest import STAPGEN, assert_healthy, run_vm, stapgen, write
from stapgen.elf import dwarfindex
from stapgen.elf import symbols

# (function, the file of the instance, the command name that reads it, the file read)
INSTANCES = [
    ('c_start', 'arch/x86/kernel/cpu/proc.c', 'rd_cpuinfo', '/proc/cpuinfo'),
    ('c_start', 'fs/proc/consoles.c', 'rd_consoles', '/proc/consoles'),
    ('m_start', 'fs/namespace.c', 'rd_mounts', '/proc/self/mounts'),
    ('m_start', 'fs/proc/task_mmu.c', 'rd_maps', '/proc/self/maps'),
    ('m_start', 'kernel/module/procfs.c', 'rd_modules', '/proc/modules'),
]
CLONES = ['proc_maps_open', 'may_create']


def perf_placement(kdir: Path, spec: str) -> List[str]:
    """What `perf probe -k vmlinux -D spec` would register, as SYM+OFF."""
    perf = shutil.which('perf')
    assert perf, 'perf is missing: scripts/stap/setup installs linux-perf'
    out = subprocess.run([perf, 'probe', '-k', str(kdir / 'vmlinux'), '-D', spec],
                         capture_output=True, text=True)
    return re.findall(r'^[pr]:\S+ (\S+)$', out.stdout, re.M)


def p2(kdir: Path, script: str, *extra: str) -> List[Tuple[str, str, int]]:
    r = stapgen('-r', str(kdir), '-p2', *extra, '-e', script)
    assert r.returncode == 0, r.stderr
    return [(m.group(1), m.group(2), int(m.group(3), 16)) for m in
            re.finditer(r'^(.*) /\* pc=<([^+]+)\+(0x[0-9a-f]+)> \*/', r.stdout, re.M)]


def system_map(kdir: Path) -> Dict[str, List[int]]:
    out: Dict[str, List[int]] = {}
    for ln in (kdir / 'System.map').read_text().splitlines():
        addr, _, name = ln.split()
        out.setdefault(name, []).append(int(addr, 16))
    return out


def test_duplicated_names_each_instance_hit(kdir: Path, tmp_path: Path) -> None:
    """Every instance of a duplicated static name is probed, anchored on a
    unique symbol, and a hit is attributed to the instance the workload ran."""
    smap = system_map(kdir)
    placed = p2(kdir, 'probe kernel.function("c_start"), kernel.function("m_start") {}')
    assert len(placed) == len(smap['c_start']) + len(smap['m_start'])
    for pp, anchor, off in placed:
        assert len(smap[anchor]) == 1, f'{anchor} is not unique'
        assert not anchor.startswith('__pfx_')
        name = re.match(r'kernel\.function\("(\w+)@', pp).group(1)
        assert smap[anchor][0] + off in smap[name]
    script = write(tmp_path, 'dups.stp', '''
global hits
probe kernel.function("c_start"), kernel.function("m_start") {
	if (execname() != "stapgen-runner") hits[execname(), pp()]++
}
probe end { foreach ([who, where] in hits+) printf("%s %s\\n", who, where) }
''')
    links = '; '.join(f'ln -s /bin/cat /tmp/{who}' for _, _, who, _ in INSTANCES)
    reads = '; '.join(f'/tmp/{who} {path} >/dev/null' for _, _, who, path in INSTANCES)
    r = run_vm(kdir, script, f'{links}; {reads}', tmp_path)
    assert r.returncode == 0, r.stderr
    seen = {}
    for line in r.stdout.splitlines():
        who, where = line.split(' ', 1)
        seen.setdefault(who, set()).add(where)
    for func, path, who, _ in INSTANCES:
        wanted = {w for w in seen.get(who, set()) if f'"{func}@' in w}
        assert len(wanted) == 1 and f'@{path}:' in wanted.pop(), (who, seen.get(who))
    assert_healthy(r.console)


def test_clones_probe_the_clone_symbol(kdir: Path, tmp_path: Path) -> None:
    for func in CLONES:
        placed = p2(kdir, f'probe kernel.function("{func}") {{}}')
        assert len(placed) == 1
        pp, anchor, off = placed[0]
        assert re.fullmatch(rf'{func}\.(isra|constprop)\.\d+', anchor) and off == 0, placed
        assert perf_placement(kdir, func) == [f'{anchor}+{off}']
    script = write(tmp_path, 'clones.stp', '''
global hits
probe kernel.function("proc_maps_open"), kernel.function("may_create") {
	if (execname() == "cat" || execname() == "mkdir") hits[execname(), probefunc()]++
}
probe end { foreach ([who, f] in hits+) printf("%s %s %d\\n", who, f, hits[who, f]) }
''')
    r = run_vm(kdir, script, 'cat /proc/self/maps >/dev/null; mkdir /tmp/d1 /tmp/d2', tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'cat proc_maps_open 1\nmkdir may_create 2\n'
    assert_healthy(r.console)


@pytest.mark.parametrize('func', ['vfs_read', 'do_sys_openat2', 'schedule_tail',
                                  'proc_reg_open'])
def test_unique_functions_agree_with_perf(kdir: Path, func: str) -> None:
    for suffix, perf_spec in (('', func), ('.return', f'{func}%return')):
        for family in ('kernel', 'kprobe'):
            placed = p2(kdir, f'probe {family}.function("{func}"){suffix} {{}}')
            assert [f'{a}+{o}' for _, a, o in placed] == perf_placement(kdir, perf_spec)


def test_kprobe_function_refuses_duplicates(kdir: Path) -> None:
    r = stapgen('-r', str(kdir), '-p2', '-e', 'probe kprobe.function("c_start") {}')
    assert r.returncode != 0
    assert "'c_start' names 2 symbols in this kernel" in r.stderr
    assert 'use kernel.function("c_start")' in r.stderr


def test_wildcards_and_file_filter(kdir: Path) -> None:
    listed = stapgen('-r', str(kdir), '-l', 'kernel.function("vfs_read*")').stdout.split()
    assert 'kernel.function("vfs_read@fs/read_write.c:' + listed[0].split(':')[-1] in listed
    assert all(re.fullmatch(r'kernel\.function\("vfs_read\w*@[\w/.-]+:\d+"\)', x) for x in listed)
    placed = p2(kdir, 'probe kernel.function("{c,m}_start@fs/*") {}')
    files = sorted(re.search(r'@([^:]+):', pp).group(1) for pp, _, _ in placed)
    assert files == ['fs/namespace.c', 'fs/proc/consoles.c', 'fs/proc/task_mmu.c']
    r = stapgen('-r', str(kdir), '-p2', '-e', 'probe kernel.function("c_start@mm/*") {}')
    assert r.returncode != 0
    assert 'no function "c_start" is defined in "mm/*"' in r.stderr
    assert 'fs/proc/consoles.c' in r.stderr
    # module("*"): every module the tree built (here the one its config has)
    mods = {ko.stem.replace('-', '_') for ko in kdir.rglob('*.ko')}
    assert mods, 'the test config builds a module'
    listed = stapgen('-r', str(kdir), '-l', 'module("*").function("*thermal*")').stdout
    assert {m for m in re.findall(r'^module\("([^"]+)"\)', listed, re.M)} == mods, listed
    placed = p2(kdir, 'probe module("x86_*").function("pkg_thermal_notify") {}')
    assert [a for _, a, _ in placed] == ['x86_pkg_temp_thermal:pkg_thermal_notify']


def _first_symbol_in(kdir: Path, start: str, end: str) -> str:
    table = symbols.load(kdir / 'vmlinux')
    lo, hi = table.by_name[start][0].addr, table.by_name[end][0].addr
    for f in table.funcs:
        if lo <= f.addr < hi and table.count(f.name) == 1 and not f.name.startswith('__'):
            return f.name
    raise AssertionError(f'no function between {start} and {end}')


def test_refusals(kdir: Path) -> None:
    table = symbols.load(kdir / 'vmlinux')
    cases = [
        ('start_kernel', 'is in .init.text'),
        (_first_symbol_in(kdir, '__noinstr_text_start', '__noinstr_text_end'),
         'is in .noinstr.text'),
        (_first_symbol_in(kdir, '__entry_text_start', '__entry_text_end'),
         'is in .entry.text'),
        (next(f.name for f in table.funcs if f.addr in table.blacklist and
              table.count(f.name) == 1 and table.refused_region(f.addr) is None),
         'is marked NOKPROBE_SYMBOL'),
        (next(f.name for f in table.funcs if 'irqentry' in
              (table.refused_region(f.addr) or '') and table.count(f.name) == 1 and
              symbols.entry_name(f.name) == f.name),
         'irqentry.text'),
    ]
    for func, why in cases:
        r = stapgen('-r', str(kdir), '-p2', '-e', f'probe kernel.function("{func}") {{}}')
        assert r.returncode != 0, func
        assert why in r.stderr and 'kprobes refuse it' in r.stderr, (func, r.stderr)
    r = stapgen('-r', str(kdir), '-p2', '-e',
                'probe kernel.function("start_kernel")?, begin {}')
    assert r.returncode == 0 and r.stdout == 'begin\n'
    # a function of which only .part/.cold pieces are left, inlined nowhere
    # (6.12's rb_check_bpage; the 6.1 tree has none such)
    index = dwarfindex.open_index(kdir / 'vmlinux', table.build_id)
    pieces = sorted({m.group(1) for f in table.funcs for m in
                     [re.match(r'(?!__pfx_)(.+?)\.(?:part|cold)\b', f.name)] if m})
    for name in [p for p in pieces if not table.entries(p) and not index.inlines(p)]:
        r = stapgen('-r', str(kdir), '-p2', '-e', f'probe kernel.function("{name}") {{}}')
        assert r.returncode != 0 and f"'{name}' has no entry of its own" in r.stderr
        assert 'probe the callers' in r.stderr
    # a function symbol DWARF does not describe (perf probe falls back to a
    # raw _text+offset there): refused, and kprobe.function offered
    described = set(index.all_functions())
    bare = next(f.name for f in table.funcs if f.addr not in described and
                table.count(f.name) == 1 and table.refused_region(f.addr) is None and
                f.addr not in table.blacklist and symbols.entry_name(f.name) == f.name)
    r = stapgen('-r', str(kdir), '-p2', '-e', f'probe kernel.function("{bare}") {{}}')
    assert r.returncode != 0 and 'has no DWARF description' in r.stderr, (bare, r.stderr)
    assert f'hint: kprobe.function("{bare}")' in r.stderr
    assert p2(kdir, f'probe kprobe.function("{bare}") {{}}') == \
        [(f'kprobe.function("{bare}")', bare, 0)]


def test_vmlinux_without_a_tree(kdir: Path) -> None:
    r = stapgen('--vmlinux', str(kdir / 'vmlinux'), '-p2', '-e',
                'probe kernel.function("vfs_read") {}')
    assert r.returncode == 0
    assert r.stdout.startswith('kernel.function("vfs_read@fs/read_write.c:')
    r = stapgen('--vmlinux', str(kdir / 'vmlinux'), '-p4', '-e', 'probe begin {}')
    assert r.returncode != 0 and '--vmlinux stops at -p2' in r.stderr


def test_vmlinux_without_dwarf(kdir: Path, tmp_path: Path) -> None:
    """A vmlinux built without debug info: DWARF probe points say so (a
    fresh cache, as the tree's own index would answer for this build-id),
    symbol-table probes work."""
    bare = tmp_path / 'vmlinux'
    subprocess.run(['objcopy', '--strip-debug', str(kdir / 'vmlinux'), str(bare)], check=True)
    env = dict(os.environ, STAPGEN_CACHE=str(tmp_path / 'cache'))
    for pp in ('kernel.function("vfs_read")', 'kernel.function("vfs_*")'):
        r = subprocess.run([str(STAPGEN), '--vmlinux', str(bare), '-p2', '-e',
                            f'probe {pp} {{}}'], capture_output=True, text=True, env=env)
        assert r.returncode == 1 and f'{bare} has no DWARF' in r.stderr, r.stderr
        assert 'Traceback' not in r.stderr and 'hint: kernel.function and' in r.stderr
    r = subprocess.run([str(STAPGEN), '--vmlinux', str(bare), '-p2', '-e',
                        'probe kprobe.function("vfs_read") {}'], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0 and r.stdout.startswith('kprobe.function("vfs_read")'), r.stderr


def _source_line(kdir: Path, path: str, func: str, needle: str) -> int:
    """The line of `needle` inside func's body in the tree's own source."""
    lines = (kdir / path).read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(rf'\w.*\b{func}\(', ln))
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_statements_agree_with_perf_and_hit(kdir: Path, tmp_path: Path) -> None:
    line = _source_line(kdir, 'fs/read_write.c', 'vfs_read', 'if (file->f_op->read)')
    listed = stapgen('-r', str(kdir), '-l',
                     'kernel.statement("vfs_read@fs/read_write.c:*")').stdout.split()
    assert f'kernel.statement("vfs_read@fs/read_write.c:{line}")' in listed
    for ln in (line, line + 1):
        placed = p2(kdir, f'probe kernel.statement("vfs_read@fs/read_write.c:{ln}") {{}}')
        perf = shutil.which('perf')
        out = subprocess.run([perf, 'probe', '-k', str(kdir / 'vmlinux'), '-s', str(kdir),
                              '-D', f'fs/read_write.c:{ln}'], capture_output=True,
                             text=True, cwd=kdir).stdout
        want = sorted(re.findall(r'^p:\S+ (\S+)\+(\d+)$', out, re.M))
        assert sorted((a, str(o)) for _, a, o in placed) == want, (ln, placed, out)
    r = stapgen('-r', str(kdir), '-p2', '-e',
                'probe kernel.statement("vfs_read@fs/read_write.c:1") {}')
    assert r.returncode != 0 and 'no code for fs/read_write.c:1 in vfs_read' in r.stderr
    assert 'lines with code there:' in r.stderr
    script = write(tmp_path, 'stmt.stp', f'''
global calls, reads
probe kernel.function("vfs_read") {{ if (execname() == "cat") calls++ }}
probe kernel.statement("vfs_read@fs/read_write.c:{line}") {{ if (execname() == "cat") reads++ }}
probe end {{ printf("%d %d\\n", calls, reads) }}
''')
    r = run_vm(kdir, script, 'cat /proc/version /proc/cpuinfo >/dev/null', tmp_path)
    assert r.returncode == 0, r.stderr
    calls, reads = map(int, r.stdout.split())
    # every read of a regular file passes the checks and reaches the line
    assert reads == calls and calls >= 4, r.stdout
    assert_healthy(r.console)


def test_inline_instances(kdir: Path, tmp_path: Path) -> None:
    """file_ppos() is only ever inlined (read/write/... paths): each inlined
    copy is probed at its entry and cat's reads and writes hit them."""
    smap = system_map(kdir)
    assert 'file_ppos' not in smap
    placed = p2(kdir, 'probe kernel.function("file_ppos") {}')
    assert len(placed) >= 2
    assert len({smap[a][0] + o for _, a, o in placed}) == len(placed)
    for what in ('.return', '.call'):
        r = stapgen('-r', str(kdir), '-p2', '-e',
                    f'probe kernel.function("file_ppos"){what} {{}}')
        assert r.returncode != 0
        assert ('is only inlined' if what == '.return' else 'is inlined everywhere') \
            in r.stderr
    # perf probe places the same inlined copies
    perf = subprocess.run([shutil.which('perf') or 'perf', 'probe', '-k',
                           str(kdir / 'vmlinux'), '-D', 'file_ppos'],
                          capture_output=True, text=True).stdout
    assert sorted((a, str(o)) for _, a, o in placed) == \
        sorted(re.findall(r'^p:\S+ (\S+)\+(\d+)$', perf, re.M)), perf
    # a line of its body: one probe in every inlined copy
    body = _source_line(kdir, 'fs/read_write.c', 'file_ppos', 'return file->f_mode')
    at_body = p2(kdir, f'probe kernel.statement("file_ppos@fs/read_write.c:{body}") {{}}')
    hosts = {a for _, a, _ in placed}
    assert {a for _, a, _ in at_body} == hosts and len(at_body) == len(placed)
    script = write(tmp_path, 'inline.stp', f'''
global hits, lines
probe kernel.function("file_ppos") {{ if (execname() == "cat") hits++ }}
probe kernel.statement("file_ppos@fs/read_write.c:{body}") {{
    if (execname() == "cat") lines++
}}
probe end {{ printf("%d %d\\n", hits, lines) }}
''')
    r = run_vm(kdir, script, 'cat /proc/version /proc/version >/dev/null', tmp_path)
    assert r.returncode == 0, r.stderr
    hits, lines = map(int, r.stdout.split())
    # two files: at least two reads each (data, EOF) and one write each; every
    # copy entered runs its one line
    assert hits >= 6 and lines == hits, r.stdout
    assert_healthy(r.console)


def _build_testmod(kdir: Path, tmp_path: Path) -> Path:
    src = tmp_path / 'testmod'
    shutil.copytree(Path(__file__).parent / 'data' / 'testmod', src)
    (src / 'Kbuild').write_text('obj-m := stapgen_testmod.o\n')
    r = subprocess.run(['make', '-s', '-C', str(kdir), f'M={src}', 'modules'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return src / 'stapgen_testmod.ko'


def test_module_symbol_never_binds_to_vmlinux(kdir: Path, tmp_path: Path) -> None:
    """The module exports do_dentry_open, also a static of vmlinux (fs/open.c):
    module("...").function probes only the module's, via "module:symbol"."""
    ko = _build_testmod(kdir, tmp_path)
    placed = p2(kdir, f'probe module("{ko}").function("do_dentry_open"), '
                      f'kprobe.module("{ko}").function("do_dentry_open").return {{}}')
    assert [(a, o) for _, a, o in placed] == [('stapgen_testmod:do_dentry_open', 0)] * 2
    script = write(tmp_path, 'mod.stp', f'''
global mod, vmlinux, returns
probe module("{ko}").function("do_dentry_open") {{ mod++ }}
probe kprobe.module("{ko}").function("do_dentry_open").return {{ returns++ }}
probe kernel.function("do_dentry_open") {{ if (execname() == "cat") vmlinux++ }}
probe end {{ printf("%d %d %d\\n", mod, returns, vmlinux) }}
''')
    r = run_vm(kdir, script, 'cat /proc/stapgen_testmod /proc/stapgen_testmod >/dev/null',
               tmp_path, extra=['--vm-preload', str(ko)])
    assert r.returncode == 0, r.stderr
    mod, returns, vmlinux = map(int, r.stdout.split())
    assert (mod, returns) == (2, 2), r.stdout
    assert vmlinux >= 2, r.stdout
    assert_healthy(r.console)
    r = stapgen('-r', str(kdir), '-p2', '-e',
                f'probe module("{ko}").function("testmod_init") {{}}')
    assert r.returncode != 0 and 'is in .init.text of stapgen_testmod' in r.stderr


def test_relative_line_and_absolute_address(kdir: Path) -> None:
    decl = int(re.search(r':(\d+)"', p2(kdir, 'probe kernel.function("vfs_read") {}')[0][0])
               .group(1))
    line = _source_line(kdir, 'fs/read_write.c', 'vfs_read', 'if (file->f_op->read)')
    rel = p2(kdir, f'probe kernel.function("vfs_read@fs/read_write.c+{line - decl}") {{}}')
    stmt = p2(kdir, f'probe kernel.statement("vfs_read@fs/read_write.c:{line}") {{}}')
    assert [(a, o) for _, a, o in rel] == [(a, o) for _, a, o in stmt]
    smap = system_map(kdir)
    (_, anchor, off), = stmt
    addr = smap[anchor][0] + off
    script = f'probe kernel.statement({addr:#x}).absolute {{}}'
    r = stapgen('-r', str(kdir), '-p2', '-e', script)
    assert r.returncode != 0 and 'needs guru mode (-g)' in r.stderr
    assert [(a, o) for _, a, o in p2(kdir, script, '-g')] == [(anchor, off)]
    r = stapgen('-r', str(kdir), '-g', '-p2', '-e',
                f'probe kernel.statement({addr + 1:#x}).absolute {{}}')
    assert r.returncode != 0 and 'is not the start of a source line' in r.stderr


def test_module_target_variables(kdir: Path, tmp_path: Path) -> None:
    """$n and $return of the module's do_dentry_open(int n) come from the
    .ko's own DWARF: each read of /proc/stapgen_testmod calls it with n=1
    and it returns the running total."""
    ko = _build_testmod(kdir, tmp_path)
    r = stapgen('-r', str(kdir), '-L', f'module("{ko}").function("do_dentry_open")')
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r'module\("stapgen_testmod"\)\.function\("do_dentry_open@\S+:\d+"\) '
                        r'\$n:int\n', r.stdout), r.stdout
    script = write(tmp_path, 'modvars.stp', f'''
probe module("{ko}").function("do_dentry_open") {{ printf("n=%d %s\\n", $n, $$parms) }}
probe module("{ko}").function("do_dentry_open").return {{
	printf("return %d n=%d\\n", $return, @entry($n))
}}
''')
    r = run_vm(kdir, script, 'cat /proc/stapgen_testmod /proc/stapgen_testmod /proc/stapgen_testmod',
               tmp_path, extra=['--vm-preload', str(ko)])
    assert r.returncode == 0, r.stderr
    assert_healthy(r.console)
    totals = [int(x) for x in re.findall(r'^(\d+)$', r.stdout, re.M)]
    assert totals == [1, 2, 3], r.stdout
    assert re.findall(r'^n=(\d+) n=0x(\d+)$', r.stdout, re.M) == [('1', '1')] * 3, r.stdout
    assert [int(x) for x in re.findall(r'^return (\d+) n=1$', r.stdout, re.M)] == totals


def test_labels(kdir: Path) -> None:
    """.label("L") lands where the line table puts the first code after the
    label (DW_TAG_label and the line rows agree); a label the compiler kept
    no address for, or that is not there, is refused with the labels that are."""
    (pp, anchor, off), = p2(kdir, 'probe kernel.function("release_task").label("repeat") {}')
    assert (pp, anchor) == ('kernel.function("release_task").label("repeat")', 'release_task')
    line = _source_line(kdir, 'kernel/exit.c', 'release_task', 'repeat:')
    first = None
    for ln in range(line + 1, line + 10):
        r = stapgen('-r', str(kdir), '-p2', '-e',
                    f'probe kernel.statement("release_task@kernel/exit.c:{ln}") {{}}')
        if r.returncode == 0:
            first = re.search(r'pc=<release_task\+(0x[0-9a-f]+)>', r.stdout)
            break
    assert first is not None and int(first.group(1), 16) == off
    r = stapgen('-r', str(kdir), '-p2', '-e',
                'probe kernel.function("release_task").label("no_such") {}')
    assert r.returncode != 0 and 'no label "no_such" with code in release_task' in r.stderr
    assert 'its labels with code: ' in r.stderr and 'repeat' in r.stderr
    r = stapgen('-r', str(kdir), '-p2', '-e',
                'probe kernel.function("release_task").label("repeat").return {}')
    assert r.returncode != 0 and "unknown probe point suffix '.label(" in r.stderr


def test_vmlinux_that_is_not_elf(tmp_path: Path) -> None:
    text = write(tmp_path, 'vmlinux', 'not an ELF file\n')
    for args in (['-p2', '-e', 'probe kernel.function("vfs_read") {}'],
                 ['-l', 'kernel.function("vfs_*")']):
        r = stapgen('--vmlinux', str(text), *args)
        assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
        assert f'error: cannot read {text}' in r.stderr
        assert 'hint: it must be an ELF vmlinux with a symbol table' in r.stderr
