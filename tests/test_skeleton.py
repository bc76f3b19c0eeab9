# SPDX-License-Identifier: GPL-2.0
"""The walking skeleton's acceptance, on the 6.1 and the 6.12 tree.

Each script is turned into a module by kbuild, booted with the tree's own
kernel under QEMU (-smp 2) and checked against what the workload did.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import TOP, assert_healthy, run_vm, stapgen, write

COUNT_OPENS = '''
global entries, returns
probe kernel.function("do_sys_openat2") { if (execname() == "cat") entries[execname()]++ }
probe kernel.function("do_sys_openat2").return { if (execname() == "cat") returns[execname()]++ }
probe end {
	foreach (name in entries-)
		printf("%s entries=%d returns=%d\\n", name, entries[name], returns[name])
}
'''


def test_hello(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'hello.stp',
                   'probe begin { printf("hello from %s\\n", "stap-gen"); '
                   'warn("a warning"); exit() }\n')
    r = run_vm(kdir, script, None, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'hello from stap-gen\n'
    assert 'WARNING: a warning\n' in r.stderr     # warn(): stderr, and the script goes on
    assert_healthy(r.console)
    assert re.search(r'stap_\w+: loading out-of-tree module taints kernel', r.console)


def test_count_opens_and_returns(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'count.stp', COUNT_OPENS)
    r = run_vm(kdir, script,
               'for i in $(seq 50); do cat /proc/version >/dev/null; done', tmp_path)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r'cat entries=(\d+) returns=(\d+)\n', r.stdout)
    assert m, r.stdout
    entries, returns = int(m.group(1)), int(m.group(2))
    assert entries >= 50
    assert entries == returns
    assert_healthy(r.console)


def test_timer_ms(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'timer.stp', '''
global ticks
probe timer.ms(100) { ticks++ }
probe end { printf("ticks=%d\\n", ticks) }
''')
    out = tmp_path / 'out.txt'
    r = run_vm(kdir, script, 'sleep 1', tmp_path, extra=['-o', str(out)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ''
    m = re.fullmatch(r'ticks=(\d+)\n', out.read_text())
    assert m, out.read_text()
    assert 5 <= int(m.group(1)) <= 15
    assert_healthy(r.console)


def test_generated_c_uses_symbol_names_only(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'count.stp', COUNT_OPENS)
    r = stapgen('-r', str(kdir), '-p3', '-m', 'count', str(script))
    assert r.returncode == 0, r.stderr
    c = r.stdout
    assert 'kallsyms_lookup_name' not in c
    # no kernel address literal of any spelling
    assert not re.search(r'0x[fF]{4}[0-9a-fA-F]{8,}|\b1844674\d{13}\b', c)
    kprobes = re.findall(r'\.symbol_name = "([^"]+)", \.offset = (0x[0-9a-f]+)', c)
    assert kprobes == [('do_sys_openat2', '0x0'), ('do_sys_openat2', '0x0')]
    # script statements carry their script line
    assert f'#line 3 "{script.resolve()}"\n\tif (!stp_action(c, "{script}:3:' in c


def test_p2_matches_system_map_and_source(kdir: Path, tmp_path: Path) -> None:
    r = stapgen('-r', str(kdir), '-p2', '-e',
                'probe kernel.function("do_sys_openat2") {}')
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(r'kernel\.function\("do_sys_openat2@(\S+):(\d+)"\) '
                     r'/\* pc=<(\w+)\+(0x[0-9a-f]+)> \*/\n', r.stdout)
    assert m, r.stdout
    path, line, sym, off = m.group(1), int(m.group(2)), m.group(3), int(m.group(4), 16)
    smap = {}
    for ln in (kdir / 'System.map').read_text().splitlines():
        addr, _, name = ln.split()
        smap.setdefault(name, int(addr, 16))
    assert smap[sym] + off == smap['do_sys_openat2']
    source = (kdir / path).read_text().splitlines()
    assert re.search(r'\bdo_sys_openat2\s*\(', source[line - 1]), source[line - 1]


# -- bad input: a clear error, a non-zero exit, nothing left behind -------------

def _p4_in_empty_dir(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    work = tmp_path / 'work'
    work.mkdir()
    r = stapgen(*args, cwd=work)
    assert r.returncode != 0
    assert list(work.iterdir()) == []
    return r


def test_syntax_error(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'bad.stp', 'probe begin {\n  x = (1 + ;\n}\n')
    r = _p4_in_empty_dir(tmp_path, '-r', str(kdir), '-p4', str(script))
    assert f"{script}:2:12: error: syntax error: unexpected ';'" in r.stderr
    assert '  x = (1 + ;\n' in r.stderr
    assert '\n             ^\n' in r.stderr


def test_unknown_function(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'typo.stp', 'probe kernel.function("do_sys_opnat2") {}\n')
    r = _p4_in_empty_dir(tmp_path, '-r', str(kdir), '-p4', str(script))
    assert "error: no function 'do_sys_opnat2'" in r.stderr
    assert 'did you mean do_sys_openat2' in r.stderr
    assert f'{script}:1:14:' in r.stderr


def test_kdir_not_built(tmp_path: Path) -> None:
    fake = tmp_path / 'linux'
    fake.mkdir()
    (fake / 'Makefile').write_text('# not really\n')
    (fake / '.config').write_text('CONFIG_KPROBES=y\n')
    script = write(tmp_path, 'hello.stp', 'probe begin { exit() }\n')
    r = _p4_in_empty_dir(tmp_path, '-r', str(fake), '-p4', str(script))
    assert 'is not a built kernel tree: missing include/config/kernel.release' in r.stderr
    assert 'vmlinux' in r.stderr and 'Module.symvers' in r.stderr
    assert f'make -C {fake} modules_prepare vmlinux modules' in r.stderr


def test_tree_without_kprobes(kdir: Path, tmp_path: Path) -> None:
    """A tree whose .config lacks CONFIG_KPROBES: named, read with kconfiglib."""
    tree = tmp_path / 'tree'
    tree.mkdir()
    for entry in kdir.iterdir():
        if entry.name != '.config':
            (tree / entry.name).symlink_to(entry)
    config = (kdir / '.config').read_text()
    config = re.sub(r'^CONFIG_KPROBES=y$', '# CONFIG_KPROBES is not set', config, flags=re.M)
    (tree / '.config').write_text(config)
    script = write(tmp_path, 'count.stp', COUNT_OPENS)
    r = _p4_in_empty_dir(tmp_path, '-r', str(tree), '-p4', str(script))
    assert f'CONFIG_KPROBES is not set in {tree}/.config' in r.stderr
    assert 'enable CONFIG_KPROBES' in r.stderr


def test_p4_builds_module_in_cwd(kdir: Path, tmp_path: Path) -> None:
    script = write(tmp_path, 'count.stp', COUNT_OPENS)
    work = tmp_path / 'work'
    work.mkdir()
    r = stapgen('-r', str(kdir), '-p4', '-m', 'countopens', str(script), cwd=work)
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'countopens.ko\n'
    assert sorted(p.name for p in work.iterdir()) == ['countopens.ko']
    if shutil.which('modinfo'):
        import subprocess
        info = subprocess.run(['modinfo', str(work / 'countopens.ko')],
                              capture_output=True, text=True).stdout
        assert 'license:        GPL' in info
        release = (kdir / 'include/config/kernel.release').read_text().strip()
        assert f'vermagic:       {release} SMP' in info


def test_compile_error_points_at_template_line(kdir: Path, tmp_path: Path) -> None:
    """An error in a template is reported at that template's file and line."""
    templates = tmp_path / 'kernel-templates'
    shutil.copytree(Path(__file__).parent.parent / 'kernel-templates', templates)
    victim = templates / 'common' / 'runtime' / 'map.h'
    lines = victim.read_text().splitlines()
    where = next(i for i, ln in enumerate(lines) if ln.startswith('static __maybe_unused void stp_map_clear'))
    lines.insert(where, '#error "injected template error"')
    victim.write_text('\n'.join(lines) + '\n')
    script = write(tmp_path, 'count.stp', COUNT_OPENS)
    r = _p4_in_empty_dir(tmp_path, '-r', str(kdir), '-p4', '--templates', str(templates),
                         str(script))
    assert f'{victim}:{where + 1}:2: error: #error "injected template error"' in r.stderr


def test_make_stap(kdir: Path, tmp_path: Path) -> None:
    """make stap SCRIPT=... KDIR=... builds the module; SCRIPT is required."""
    import subprocess
    top = Path(__file__).parent.parent
    usage = subprocess.run(['make', '-s', '-C', str(top), 'stap'], capture_output=True,
                           text=True)
    assert usage.returncode != 0
    assert 'usage: make stap SCRIPT=foo.stp' in usage.stderr
    script = write(tmp_path, 'count.stp', COUNT_OPENS)
    name = f'stap_make_test_{kdir.name.replace("-", "_").replace(".", "_")}'
    try:
        r = subprocess.run(['make', '-s', '-C', str(top), 'stap', f'SCRIPT={script}',
                            f'KDIR={kdir}', f"MODNAME={name}"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (top / f'{name}.ko').exists()
    finally:
        (top / f'{name}.ko').unlink(missing_ok=True)
    # without MODNAME the module is named after the script; ARGS are its arguments
    stem = f'args-{kdir.name.replace(".", "_")}'
    script = write(tmp_path, f'{stem}.stp', 'probe begin { printf("%s\\n", @1); exit() }\n')
    ko = top / f'{stem.replace("-", "_")}.ko'
    try:
        r = subprocess.run(['make', '-s', '-C', str(top), 'stap', f'SCRIPT={script}',
                            f'KDIR={kdir}', 'ARGS=hello-from-args'], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        assert b'hello-from-args' in ko.read_bytes()
    finally:
        ko.unlink(missing_ok=True)


def _tampered_module(kdir: Path, tmp_path: Path, script: str, old: str, new: str) -> Path:
    """A module whose generated C had `old` replaced by `new`, built by kbuild."""
    import subprocess
    src = write(tmp_path, 'tamper.stp', script)
    r = stapgen('-r', str(kdir), '-p3', '-m', 'tampered', str(src))
    assert r.returncode == 0, r.stderr
    assert old in r.stdout
    build = tmp_path / 'build'
    build.mkdir()
    (build / 'tampered.c').write_text(r.stdout.replace(old, new, 1))
    # the runtime's headers: the line's template set, then common/ (as -p4 does)
    from stapgen.tree import kerneltree
    templates = TOP / 'kernel-templates'
    tset = kerneltree.find_template_set(kerneltree.open_tree(kdir), templates)
    (build / 'Kbuild').write_text('obj-m := tampered.o\n'
                                  f'ccflags-y := -I{tset} -I{templates / "common"}\n')
    mk = subprocess.run(['make', '-s', '-C', str(kdir), f'M={build}', 'modules'],
                        capture_output=True, text=True)
    assert mk.returncode == 0, mk.stderr
    return build / 'tampered.ko'


def test_module_refuses_another_kernel_and_misplaced_probes(kdir: Path,
                                                             tmp_path: Path) -> None:
    """Build-id and landing checks at load: a mismatch refuses to run."""
    from stapgen.elf import symbols
    build_id = symbols.load(kdir / 'vmlinux').build_id
    first = f'0x{build_id[:2]}, 0x{build_id[2:4]}'
    wrong = f'0x{int(build_id[:2], 16) ^ 0xff:02x}, 0x{build_id[2:4]}'
    ko = _tampered_module(kdir, tmp_path, 'probe begin { exit() }\n', first, wrong)
    console = tmp_path / 'c1.log'
    r = stapgen('-r', str(kdir), '--vm', '--vm-console', str(console), str(ko))
    assert r.returncode != 0
    assert 'cannot load tampered.ko' in r.stderr
    log = console.read_text()
    assert f'this kernel is not the one in {kdir}' in log and build_id in log
    ko2 = tmp_path / 'ko2'
    ko2.mkdir()
    ko = _tampered_module(kdir, ko2, COUNT_OPENS, '.target = "do_sys_openat2"',
                          '.target = "do_sys_open"')
    console = tmp_path / 'c2.log'
    r = stapgen('-r', str(kdir), '--vm', '--vm-console', str(console), str(ko))
    assert r.returncode != 0
    log = console.read_text()
    assert 'landed in do_sys_openat2+0x' in log and 'not in do_sys_open ' in log, log[-3000:]
    assert_healthy_after_refusal(log)


def assert_healthy_after_refusal(log: str) -> None:
    from conftest import BAD_CONSOLE
    assert BAD_CONSOLE.search(log) is None


def test_set_globals_at_load(kdir: Path, tmp_path: Path) -> None:
    """-G NAME=VALUE sets a scalar global as a module parameter."""
    script = write(tmp_path, 'g.stp', 'global n = 1, s = "default"\n'
                   'probe begin { printf("%d %s\\n", n * 2, s); exit() }\n')
    r = run_vm(kdir, script, None, tmp_path, extra=['-G', 'n=21', '-G', 's=from the host'])
    assert r.returncode == 0, r.stderr
    assert r.stdout == '42 from the host\n'
    for bad, why in (('x=1', 'bad -G'), ('n=ten', "'n' is a number")):
        r = stapgen('-r', str(kdir), '-p2', '-G', bad, str(script))
        assert r.returncode != 0 and why in r.stderr


EMBEDDED_TYPO = '''# an error in embedded C
function twice:long (v:long) %{
	STAP_RETVALUE = 2 * STAP_ARG_v;
	STAP_RETVALUE += undeclared_thing;
%}
probe begin { print(twice(1)); exit() }
'''


def test_embedded_c_compile_error_points_at_script_line(kdir: Path, tmp_path: Path) -> None:
    """A compiler error in a script's embedded C names the script's line."""
    script = write(tmp_path, 'typo.stp', EMBEDDED_TYPO)
    r = _p4_in_empty_dir(tmp_path, '-r', str(kdir), '-p4', '-g', str(script))
    assert re.search(rf'{re.escape(str(script))}:4:\d+: error: .undeclared_thing. undeclared',
                     r.stderr), r.stderr
    (tmp_path / 'b').mkdir()
    r = _p4_in_empty_dir(tmp_path / 'b', '-r', str(kdir), '-p4', str(script))
    assert f'{script}:2:10: error: function \'twice\' in embedded C needs guru mode (-g)' \
        in r.stderr


def test_target_write_without_guru_mode(kdir: Path, tmp_path: Path) -> None:
    r = _p4_in_empty_dir(tmp_path, '-r', str(kdir), '-p4', '-e',
                         'probe kernel.function("do_sys_openat2") { $dfd = 1 }')
    assert "<command line>:1:43: error: writing to the target variable '$dfd' needs " \
           'guru mode (-g)' in r.stderr
