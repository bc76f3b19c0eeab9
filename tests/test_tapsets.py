# SPDX-License-Identifier: GPL-2.0
"""The tapset library: loading, alias variables that cost nothing, and the
syscall family made from the tree."""

from __future__ import annotations

from typing import List

from stapgen.diag import Source
from stapgen.frontend import nodes as n
from stapgen.frontend import parser, unparse

LIB = '''
function fmt:string (x:long) { return sprintf("%d", x) }
function noisy:long (x:long) { printf("side effect\\n"); return x }
probe fake.read = kernel.function("f") {
    fd = 3
    count = 7
    argstr = sprintf("%d, %s", fd, fmt(count))
    loud = noisy(1)
    if (fd > 2) note = "big"
}
'''


def expanded(text: str) -> List[str]:
    lib = parser.Library([parser.parse_unit(Source('lib.stp', LIB))], trusted=True)
    script = parser.parse(Source('t.stp', text), library=lib)
    return [unparse.script(n.Script([p], [], [])) for p in script.probes]


def test_unread_alias_variables_are_elided() -> None:
    body = expanded('probe fake.read { x = 1 }')[0]
    assert 'argstr' not in body and 'fd =' not in body and 'count' not in body
    assert 'note' not in body
    assert 'loud = noisy(1)' in body        # it prints: kept


def test_read_alias_variables_keep_what_they_use() -> None:
    body = expanded('probe fake.read { println(argstr) }')[0]
    assert 'fd = 3' in body and 'count = 7' in body and 'argstr =' in body
    assert 'note' not in body
    body = expanded('probe fake.read { println(count) }')[0]
    assert 'count = 7' in body and 'argstr' not in body and 'fd =' not in body


# -- the syscall family, made from the tree ------------------------------------------

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from conftest import TOP, stapgen, write  # noqa: E402
from stapgen.diag import StapError  # noqa: E402
from stapgen.tapset import syscalls  # noqa: E402

NAMES = TOP / 'kernel-templates' / 'common' / 'tapset' / 'syscalls.names'


def _tree(tmp_path: Path, table64: str, table32: str = '') -> Path:
    d = tmp_path / 'arch/x86/entry/syscalls'
    d.mkdir(parents=True)
    (d / 'syscall_64.tbl').write_text(table64)
    (d / 'syscall_32.tbl').write_text(table32)
    return tmp_path


def test_table_keeps_what_the_tree_has(tmp_path: Path) -> None:
    src = _tree(tmp_path, '# nr abi name entry\n'
                '0\tcommon\tread\t\t\tsys_read\n'
                '1\tcommon\twrite\t\t\tsys_write\n'
                '2\tx32\tonlyx32\t\t\tcompat_sys_x\n'
                '3\t64\tgone\t\t\tsys_gone\n'
                '4\tcommon\tstub\t\t\tsys_stub\n'
                '5\tcommon\tnoentry\n',
                '3\ti386\tread\t\t\tsys_read\n')
    have = {'__x64_sys_read', '__x64_sys_write', '__x64_sys_stub', '__ia32_sys_read'}
    table = syscalls.read_table(src, True, have.__contains__, {'__x64_sys_stub'}.__contains__)
    assert sorted(table) == ['read', 'write']
    assert table['read'].symbols == ['__x64_sys_read', '__ia32_sys_read']
    assert table['read'].nr == 0 and table['read'].function == 'sys_read'
    table = syscalls.read_table(src, False, have.__contains__, lambda s: False)
    assert table['read'].symbols == ['__x64_sys_read'] and 'stub' in table


def test_table_missing_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StapError, match='cannot read the syscall table'):
        syscalls.read_table(tmp_path, False, lambda s: True, lambda s: False)


def test_weak_wrappers_are_compiled_out(tmp_path: Path) -> None:
    m = write(tmp_path, 'System.map', 'ffffffff8107c4e4 W __x64_sys_acct\n'
              'ffffffff811af2f9 T __x64_sys_mkdir\nffffffff81000000 w __x64_sys_weakling\n')
    assert syscalls.weak_symbols(m) == {'__x64_sys_acct', '__x64_sys_weakling'}


def test_names_table_bad_line_names_file_and_line(tmp_path: Path) -> None:
    bad = write(tmp_path, 'syscalls.names', '# c\n[*]\nfd fd %d\nwhat is this\n')
    with pytest.raises(StapError, match=r'syscalls.names:4: cannot read "what is this"'):
        syscalls.read_names(bad)


def test_describe_formats_as_systemtap_does() -> None:
    names = syscalls.read_names(NAMES)
    entry = syscalls.Entry('write', 1, 'sys_write', ['__x64_sys_write'])
    params = [syscalls.Param('fd', 'unsigned', 4), syscalls.Param('buf', 'string', 8),
              syscalls.Param('count', 'unsigned', 8)]
    s = syscalls.describe('write', entry, params, names)
    order = [v.name for v in s.vars]
    # buf_str reads count: made after every argument is read
    assert order.index('buf_str') > order.index('count')
    assert s.argstr == 'sprintf("%d, %s, %u", fd, buf_str, count)'
    mkdir = syscalls.describe('mkdir', syscalls.Entry('mkdir', 83, 'sys_mkdir', []),
                              [syscalls.Param('pathname', 'string', 8),
                               syscalls.Param('mode', 'unsigned', 2)], names)
    assert mkdir.argstr == 'sprintf("%s, %#o", pathname, mode)'
    assert [v.name for v in mkdir.vars] == ['pathname_uaddr', 'mode', 'pathname']


def test_library_locals_are_not_the_scripts_globals() -> None:
    lib = parser.Library([parser.parse_unit(Source('lib.stp',
                          'function count_to:long (m:long) { n = 0; while (n < m) n++; '
                          'return n }'))], trusted=True)
    script = parser.parse(Source('t.stp', 'global n\nprobe begin { n[1] = count_to(3) }'),
                          library=lib)
    from stapgen.frontend import semantic
    semantic.check(script)          # n is an array in the script, a local in the tapset


def test_syscall_aliases_on_the_tree(kdir: Path, tmp_path: Path) -> None:
    r = stapgen('-r', str(kdir), '-L', 'syscall.mkdir')
    assert r.stdout == ('syscall.mkdir name:string pathname_uaddr:long mode:long '
                        'pathname:string argstr:string\n'), r.stderr
    r = stapgen('-r', str(kdir), '-L', 'syscall.write.return')
    assert r.stdout == 'syscall.write.return name:string retval:long retstr:string\n'
    listed = stapgen('-r', str(kdir), '-l', 'nd_syscall.*').stdout.split()
    table = {ln.split()[2] for ln in
             (kdir / 'arch/x86/entry/syscalls/syscall_64.tbl').read_text().splitlines()
             if ln[:1].isdigit()}
    assert 'nd_syscall.openat' in listed and 'nd_syscall.read' in listed
    assert {x.split('.')[1] for x in listed} <= table
    for point, message in [
            ('syscall.acct', "syscall acct is compiled out of this tree"),
            ('syscall.nosuch', "syscall table (arch/x86/entry/syscalls/syscall_64.tbl) "
                               "has no syscall 'nosuch'")]:
        r = stapgen('-r', str(kdir), '-p2', str(write(tmp_path, 'x.stp', f'probe {point} {{}}')))
        assert r.returncode == 1 and message in r.stderr, r.stderr
    # an alias variable nothing reads costs nothing: no argstr formatting
    r = stapgen('-r', str(kdir), '-p3', str(write(tmp_path, 'n.stp',
                'global n\nprobe syscall.read { n++ }\nprobe end { print(n) }')))
    assert r.returncode == 0, r.stderr
    assert 'stp_syscall_arg' not in r.stdout and 'sprintf' not in r.stdout
    r = stapgen('-r', str(kdir), '-p3', str(write(tmp_path, 'a.stp',
                'probe syscall.read { print(argstr) }')))
    assert 'stp_syscall_arg' in r.stdout


def test_tapset_needing_what_the_tree_lacks_is_absent(kdir: Path, tmp_path: Path) -> None:
    """A tapset file's '# requires:' options come from the tree's .config:
    a file the tree cannot support is left out, and a script probing one of
    its aliases is told why; stap-check says it skipped it."""
    lib = tmp_path / 'lib'
    lib.mkdir()
    (lib / 'nfsdfake.stp').write_text('# requires: CONFIG_NFSD\n'
                                      'probe nfsdfake.dispatch = kernel.function("nfsd_dispatch") '
                                      '{ x = 1 }\n')
    (lib / 'blockfake.stp').write_text('# requires: CONFIG_BLOCK\n'
                                       'probe blockfake.submit = kernel.function('
                                       '"submit_bio_noacct") { size = $bio->bi_iter->bi_size }\n')
    script = write(tmp_path, 'n.stp', 'probe nfsdfake.dispatch { print(x) }\n')
    r = stapgen('-r', str(kdir), '-I', str(lib), '-p2', str(script))
    assert r.returncode == 1
    assert (f"probe point 'nfsdfake.dispatch' is not in this tree's tapsets: nfsdfake.stp "
            f"needs CONFIG_NFSD, which {kdir}/.config does not set") in r.stderr, r.stderr
    r = stapgen('-r', str(kdir), '-I', str(lib), '-L', 'blockfake.submit')
    assert r.stdout == 'blockfake.submit size:long\n', r.stderr
    r = stapgen('-r', str(kdir), '-I', str(lib), '-l', 'nfsdfake.*')
    assert r.stdout == ''


def test_tapset_directory_headers(kdir: Path, tmp_path: Path) -> None:
    """A tapset of an -I directory includes a header beside it by name."""
    lib = tmp_path / 'lib'
    lib.mkdir()
    (lib / 'mine.h').write_text('#define STP_MINE 42\n')
    (lib / 'mine.stp').write_text('%{\n#include "mine.h"\n%}\n'
                                  'function mine:long () %{ /* pure */\n'
                                  '\tSTAP_RETVALUE = STP_MINE;\n%}\n')
    script = write(tmp_path, 'm.stp', 'probe begin { println(mine()) exit() }\n')
    r = stapgen('-r', str(kdir), '-I', str(lib), '-p4', '-m', 'uses_mine', str(script),
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'uses_mine.ko').exists()
