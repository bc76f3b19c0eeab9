# SPDX-License-Identifier: GPL-2.0
"""The language SystemTap's own scripts use: script arguments, embedded C,
guru-mode writes, brace expansion, conditional probes, wildcard keys,
wrapping arrays, macros with parameters.  What each construct becomes
(the tree the parser builds) and each of its errors, with line, column,
message and hint.  Their run-time behaviour is checked by the self-tests
in QEMU (tools/stap-gen/selftests: scriptargs, embedded, guruwrite,
arraysmore, probepoints, macros)."""

from __future__ import annotations

from typing import List, Optional

import pytest

from stapgen import cli
from stapgen.diag import Source, StapError
from stapgen.frontend import nodes as n
from stapgen.frontend import parser, semantic, unparse


def parse(text: str, args: Optional[List[str]] = None) -> n.Script:
    return parser.parse(Source('t.stp', text), args=args)


def diag(text: str, args: Optional[List[str]] = None, guru: bool = False) -> str:
    with pytest.raises(StapError) as e:
        semantic.check(parse(text, args), guru)
    return str(e.value)


def points(script: n.Script) -> List[List[str]]:
    return [[str(pt) for pt in p.points] for p in script.probes]


# -- script arguments -------------------------------------------------------------------

def test_arguments_as_numbers_strings_and_probe_points() -> None:
    s = parse('probe $1 { printf("%s %d %d\\n", @2, $3 + 1, $#) }',
              ['kernel.function("vfs_read").return', 'two words', '41'])
    assert points(s) == [['kernel.function("vfs_read").return']]
    call = s.probes[0].body.body[0].expr
    assert isinstance(call, n.Call)
    assert isinstance(call.args[1], n.String) and call.args[1].value == 'two words'
    total = call.args[2]
    assert isinstance(total, n.Binary) and isinstance(total.left, n.Number) and \
        total.left.value == 41
    assert isinstance(call.args[3], n.Number) and call.args[3].value == 3


@pytest.mark.parametrize('cond, args, taken', [
    ('$# > 1', ['a', 'b'], True), ('$# > 1', ['a'], False), ('$# == 0', [], True),
    ('@1 == "x"', ['x'], True), ('@1 != "x"', ['x'], False),
    ('$# >= 1 && @1 == "-h"', ['-h'], True), ('$1 < 10', ['9'], True),
])
def test_arguments_in_conditions(cond: str, args: List[str], taken: bool) -> None:
    s = parse(f'probe begin {{ x = %( {cond} %? 1 %: 2 %) }}', args)
    value = s.probes[0].body.body[0].expr.value
    assert isinstance(value, n.Number) and value.value == (1 if taken else 2)


def test_missing_argument_names_it() -> None:
    out = diag('probe begin { print(@3) }', ['a'])
    assert 't.stp:1:21: error: missing script argument @3 (1 given)' in out
    assert 'hint: pass it after the script: stap-gen SCRIPT ARG1 ARG2 ARG3' in out
    assert 'missing script argument $1 (none given)' in diag('probe begin { print($1) }')


def test_argument_errors_point_into_the_argument() -> None:
    out = diag('probe $1 { }', ['kernel.function("f"))'])
    assert "<argument $1>:1:21: error: syntax error: unexpected ')'" in out
    assert 'script argument $1 is empty' in diag('probe begin { x = $1 }', [''])


def test_command_line_takes_arguments_after_the_script(tmp_path) -> None:
    args = cli._args(['-p1', '-w', 'foo.stp', 'bash', '-x', '5', '7'])
    assert str(args.script) == 'foo.stp' and args.args == ['bash', '7']
    assert args.target == 5 and args.no_warnings
    args = cli._args(['-gp4', '-e', 'probe begin {}', 'one', 'two'])
    assert args.script is None and args.args == ['one', 'two'] and args.guru
    assert args.pass_ == 4
    args = cli._args(['-T', '3', '-I', str(tmp_path), '--all-modules', 'x.stp'])
    assert args.timeout == 3.0 and args.tapset_dirs == [tmp_path]


def test_missing_argument_from_the_command_line(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(['-p1', '-e', 'probe begin { printf("%s\\n", @1) }']) == 1
    assert 'missing script argument @1 (none given)' in capsys.readouterr().err
    assert cli.main(['-p1', '-e', 'probe begin { printf("%s\\n", @1) }', 'hi']) == 0
    assert 'printf("%s\\n", "hi")' in capsys.readouterr().out


# -- embedded C and guru mode ---------------------------------------------------------------

EMBEDDED = '''%{
#include <linux/jiffies.h>
%}
function j:long () %{ /* pure */ /* unprivileged */ STAP_RETVALUE = jiffies; %}
probe begin { print(j() + %{ 1 %}) }
'''


def test_embedded_c_needs_guru_mode() -> None:
    out = diag(EMBEDDED)
    assert 't.stp:1:1: error: embedded C needs guru mode (-g)' in out
    assert "t.stp:4:10: error: function 'j' in embedded C needs guru mode (-g)" in out
    assert 't.stp:5:27: error: an embedded C expression needs guru mode (-g)' in out
    assert 'SystemTap refuses them too without -g' in out
    prog = semantic.check(parse(EMBEDDED), guru=True)
    f = prog.functions['j'].function
    assert f is not None and f.embedded is not None
    assert f.embedded.pragmas == ['pure', 'unprivileged']
    assert prog.script.embedded[0].code.strip() == '#include <linux/jiffies.h>'


def test_tapsets_are_trusted_with_embedded_c() -> None:
    unit = parser.parse_unit(Source('lib.stp', 'function f:long () %{ STAP_RETVALUE = 1; %}'))
    lib = parser.Library([unit], trusted=True)
    script = parser.parse(Source('t.stp', 'probe begin { print(f()) }'), library=lib)
    semantic.check(script)          # no -g needed


def test_guru_marked_tapset_functions_need_guru_mode() -> None:
    unit = parser.parse_unit(Source('lib.stp', '''
function poke:long (v:long) %{ /* guru */ STAP_RETVALUE = STAP_ARG_v; %}
function safe:long () { return poke(1) }
'''))
    def check(text: str, guru: bool = False) -> str:
        lib = parser.Library([unit], trusted=True)
        script = parser.parse(Source('t.stp', text), library=lib)
        try:
            semantic.check(script, guru=guru)
        except StapError as exc:
            return str(exc)
        return ''
    out = check('probe begin { print(poke(2)) }')
    assert "t.stp:1:21: error: 'poke', marked /* guru */, needs guru mode (-g)" in out
    assert check('probe begin { print(poke(2)) }', guru=True) == ''
    assert check('probe begin { print(safe()) }') == ''   # the tapset's own call


def test_unterminated_embedded_c() -> None:
    out = diag('probe begin { }\n%{ static int x;\n')
    assert 't.stp:2:1: error: unterminated %{ embedded C' in out


@pytest.mark.parametrize('write', ['$x = 1', '$p->m = 2', '$return = 3', '$x += 1'])
def test_target_writes_need_guru_mode(write: str) -> None:
    out = diag(f'probe kernel.function("f") {{ {write} }}')
    assert "t.stp:1:30: error: writing to the target variable '$" in out
    assert 'needs guru mode (-g)' in out
    semantic.check(parse(f'probe kernel.function("f") {{ {write} }}'), guru=True)


def test_target_writes_take_numbers() -> None:
    assert "'$x' takes a number" in diag('probe kernel.function("f") { $x = "s" }', guru=True)
    assert "cannot assign to '$$parms'" in \
        diag('probe kernel.function("f") { $$parms = 1 }', guru=True)


# -- probe points ----------------------------------------------------------------------------

def test_brace_expansion() -> None:
    s = parse('probe kernel.{function("a"),function("b")}.return, '
              '{kernel,module("ext4")}.function("f") { }')
    assert points(s) == [['kernel.function("a").return', 'kernel.function("b").return',
                          'kernel.function("f")', 'module("ext4").function("f")']]
    s = parse('probe syscall.{open,close}? { }')
    assert points(s) == [['syscall.open?', 'syscall.close?']]


def test_wildcard_names_and_aliases() -> None:
    s = parse('probe t.a = timer.ms(1) { x = 1 }\nprobe t.b = timer.ms(2) { x = 2 }\n'
              'probe t.*, begin { print(x) }')
    assert points(s) == [['begin'], ['timer.ms(1)'], ['timer.ms(2)']]
    # the alias's prologue goes with its own points only
    assert len(s.probes[0].body.body) == 1 and len(s.probes[1].body.body) == 2
    out = diag('probe t.* x { }')
    assert "t.stp:1:11: error: syntax error: unexpected 'x'" in out
    assert 'written without spaces' in out


def test_alias_errors() -> None:
    out = diag('probe a.{b,c} = begin { }')
    assert 'a probe alias defines one name: braces belong on the right of =' in out
    out = diag('probe a = b { }\nprobe b = a { }\nprobe a { }')
    assert 'probe aliases name each other in a loop' in out


def test_conditional_probe() -> None:
    prog = semantic.check(parse('global on\nprobe timer.ms(1) if (on > 0) { on-- }'))
    assert isinstance(prog.script.probes[0].condition, n.Binary)
    assert 'on' in prog.probes[0].globals_used
    out = diag('probe begin if (x) { }')
    assert "t.stp:1:17: error: a probe condition reads globals only, and 'x' is not one" in out
    assert 'hint: declare it: global x' in out


def test_begin_end_priorities_parse() -> None:
    s = parse('probe begin(-1), end(5), never { }')
    assert points(s) == [['begin(-1)', 'end(5)', 'never']]


# -- arrays --------------------------------------------------------------------------------

def test_wrapping_arrays() -> None:
    s = parse('global a%, b%[10], c[5]%, d[3]\nprobe begin { a[1]=1; b[1]=1; c[1]=1; d[1]=1 }')
    got = [(g.name, g.wrap, g.size) for g in s.globals]
    assert got == [('a', True, 0), ('b', True, 10), ('c', True, 5), ('d', False, 3)]
    assert "global 'x': an array holds at least one entry" in diag('global x%[0]')


def test_wildcard_keys() -> None:
    prog = semantic.check(parse('global a\nprobe begin { a[1, "x"] = 1; delete a[*, "x"]; '
                                'print([1, *] in a) }'))
    assert prog.globals['a'].keys[0].type == n.LONG
    out = diag('global a\nprobe begin { a[1] = 1; print(a[*]) }')
    assert "t.stp:2:33: error: '*' stands for any key only in delete and in" in out


def test_foreach_by_an_aggregate() -> None:
    s = parse('global s\nprobe begin { s[1] <<< 1; foreach (k in s @sum- limit 2) print(k) }')
    fe = s.probes[0].body.body[1]
    assert isinstance(fe, n.Foreach) and fe.sort_agg == 'sum' and fe.sort_desc
    assert "'@variance': foreach sorts an aggregate by @count" in \
        diag('global s\nprobe begin { s[1] <<< 1; foreach (k in s @variance-) print(k) }')
    assert "'@sum' sorts an array of aggregates; 'v' holds longs" in \
        diag('global v\nprobe begin { v[1] = 1; foreach (k in v @sum-) print(k) }')


def test_variance_takes_a_shift() -> None:
    semantic.check(parse('global s\nprobe begin { s <<< 1; print(@variance(s, 2)) }'))


# -- macros ------------------------------------------------------------------------------

def test_macros_with_parameters() -> None:
    s = parse('@define add(a, b) %( ((@a) + (@b)) %)\n@define one %( 1 %)\n'
              'probe begin { x = @add(@one, (2, 3)[0]) }'.replace('(2, 3)[0]', '2'))
    assert unparse.expr(s.probes[0].body.body[0].expr, True) == 'x = (1 + 2)'


@pytest.mark.parametrize('text, where, message', [
    ('@define f(a %( @a %)', '1:13', "@define f(...): ',' or ')' expected"),
    ('@define f(1) %( %)', '1:11', '@define f(...): a parameter name expected'),
    ('@define f(a, a) %( %)', '1:14', "@define f: parameter 'a' is given twice"),
    ('@define f(a) %( @a %)\nprobe begin { x = @f }', '2:19', "macro '@f' takes 1 argument(s)"),
    ('@define f(a) %( @a %)\nprobe begin { x = @f(1, 2) }', '2:19',
     "macro '@f' takes 1 argument(s), 2 given"),
    ('@define f(a) %( @a %)\nprobe begin { x = @f(1 }', '2:21',
     "the arguments of '@f' are not closed with ')'"),
    ('probe begin { x = %( $# == "a" %? 1 %: 2 %) }', '1:22',
     'a number is compared with a string'),
])
def test_macro_errors(text: str, where: str, message: str) -> None:
    out = diag(text)
    assert f't.stp:{where}: error: {message}' in out


def test_stpm_files_hold_only_macros() -> None:
    macros = parser.parse_macros(Source('m.stpm', '@define two %( 2 %)'))
    s = parser.parse(Source('t.stp', 'probe begin { x = @two }'), macros=macros)
    assert isinstance(s.probes[0].body.body[0].expr.value, n.Number)
    with pytest.raises(StapError) as e:
        parser.parse_macros(Source('m.stpm', '@define two %( 2 %)\nprobe begin { }'))
    assert 'm.stpm:2:1: error: an .stpm file holds only @define macros' in str(e.value)


# -- smaller things --------------------------------------------------------------------

def test_locals_named_like_functions() -> None:
    prog = semantic.check(parse('probe begin { pid = pid(); execname = "x"; '
                                'printf("%d %s\\n", pid, execname) }'))
    assert prog.probes[0].locals['pid'].type == n.LONG
    assert prog.probes[0].locals['execname'].type == n.STRING
    assert "'pid' is a function; call it as pid()" in diag('probe begin { print(pid) }')


def test_star_width_and_precision() -> None:
    semantic.check(parse('probe begin { printf("%*d %-*.*s\\n", 5, 1, 6, 2, "abc") }'))
    out = diag('probe begin { printf("%*d\\n", 1) }')
    assert 'printf format has 1 directive(s) but 1 argument(s) follow (it takes 2 ' \
           'with its * widths)' in out
    assert "'%b' takes no '*' width" in diag('probe begin { printf("%*b", 1, 2) }')


def test_foreach_over_a_slice() -> None:
    s = parse('global a\nprobe begin { a[1, "x"] = 1; foreach ([k, v] in a[1, *] limit 3) '
              'print(v) }')
    fe = s.probes[0].body.body[1]
    assert isinstance(fe, n.Foreach) and isinstance(fe.slice[1], n.Wildcard)
    assert unparse.script(s).count('foreach ([k, v] in a[1, *] limit 3)') == 1
    out = diag('global a\nprobe begin { a[1, 2] = 1; foreach ([k, v] in a[*]) print(v) }')
    assert "t.stp:2:47: error: the slice of 'a' has 1 key(s), the array 2" in out


def test_string_literals_join_and_regroup() -> None:
    s = parse('probe begin { x = "a" "b" %( $# == 0 %? "c" %) }')
    assert s.probes[0].body.body[0].expr.value.value == 'abc'
    s = parse('global a\nprobe begin { a[1] = 1; (a[1])--; exit() && 1 }')
    assert isinstance(s.probes[0].body.body[1].expr, n.IncDec)
    assert '++ needs a variable or an array element' in diag('probe begin { x = ++f() }')


def test_marks_inside_brace_groups() -> None:
    s = parse('probe kernel.{trace("a")!, trace("b")?, trace("c")} { }')
    assert points(s) == [['kernel.trace("a")!', 'kernel.trace("b")?', 'kernel.trace("c")']]


def test_untaken_branches_may_name_missing_arguments() -> None:
    s = parse('probe timer.s(%( $# > 0 %? $1 %: 5 %)) { }')
    assert points(s) == [['timer.s(5)']]
