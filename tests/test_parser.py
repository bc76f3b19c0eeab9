# SPDX-License-Identifier: GPL-2.0
"""Front-end diagnostics: line, column and message for each error class."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from conftest import TOP
from stapgen.frontend import parser
from stapgen.frontend import semantic
from stapgen.diag import Source, StapError


def diag(text: str) -> str:
    with pytest.raises(StapError) as e:
        semantic.check(parser.parse(Source('t.stp', text)))
    return str(e.value)


@pytest.mark.parametrize('text, where, message', [
    ('probe begin { x = (1 + ; }', '1:24', "syntax error: unexpected ';'"),
    ('probe begin {\n printf("a"\n', '2:12', 'unexpected end of input'),
    ('probe begin { x = "abc }', '1:19', 'unterminated string literal'),
    ('probe begin { x = 1 } /* never closed', '1:23', 'unterminated /* comment'),
    ('probe begin { x = 0x }', '1:19', "invalid number '0x'"),
    ('probe begin { x = 12ab }', '1:19', "invalid number '12ab'"),
    ('probe begin { x = 09 }', '1:19', "invalid number '09'"),
    ('probe begin { x = 99999999999999999999 }', '1:19', 'does not fit in 64 bits'),
    ('probe begin { x = "\\q" }', '1:20', 'unknown escape sequence \\q'),
    ('probe begin { x = 1 ` }', '1:21', "unexpected character '`'"),
    ('global a\nprobe begin { a = 1; a[1] = 2 }', '2:22', "'a' is used as an array here"),
    ('probe begin { x = 1; x = "s" }', '1:24', "type mismatch: 'x' is used as a string"),
    ('probe begin { printf("%d\\n", "s") }', '1:30', "format '%d' expects a long"),
    ('probe begin { printf("%d %d\\n", 1) }', '1:22', '2 directive(s) but 1 argument(s)'),
    ('probe begin { printf("%3b", 1) }', '1:22', "'%3b' writes 1, 2, 4 or 8 bytes"),
    ('probe begin { x = sprintf("%b", 1) }', '1:27', "'%b' writes binary output"),
    ('probe begin { printf("%q", 1) }', '1:22', "unknown format directive '%q'"),
    ('probe begin { exitt() }', '1:15', "unknown function 'exitt'"),
    ('probe begin { x = printf("a") }', '1:19', "'printf()' returns no value"),
    ('global g\nglobal g\nprobe begin { g = 1 }', '2:8', "global 'g' is declared twice"),
])
def test_error(text: str, where: str, message: str) -> None:
    out = diag(text)
    assert f't.stp:{where}: error: ' in out
    assert message in out


def test_caret_under_token() -> None:
    out = diag('probe begin {\n\tx = (1 + ;\n}')
    lines = out.splitlines()
    assert lines[0] == "t.stp:2:11: error: syntax error: unexpected ';'"
    assert lines[1] == '   x = (1 + ;'
    assert lines[2] == '            ^'


def test_hint_for_typo() -> None:
    assert 'did you mean execname' in diag('probe begin { x = execnme() }')


def test_type_conflict_names_both_places() -> None:
    out = diag('global v\nprobe begin { v = 1 }\nprobe end { v = "x" }')
    assert "t.stp:3:15: error: type mismatch: 'v' is used as a string here" in out
    assert 'it is a long because of t.stp:2:17' in out


def test_several_errors_in_one_run() -> None:
    out = diag('probe begin { printf("%d\\n", "a") }\nprobe end { foo() }')
    assert out.count('error:') == 2


def test_valid_script_types() -> None:
    prog = semantic.check(parser.parse(Source('t.stp', '''
global counts, total
probe begin { counts[execname(), pid()] += 2; total++ }
probe end { foreach ([n, p] in counts-) printf("%s %d %d\\n", n, p, counts[n, p]) }
''')))
    g = prog.globals['counts']
    assert [k.type for k in g.keys] == ['string', 'long']
    assert g.value.type == 'long'
    assert prog.globals['total'].value.type == 'long'
    assert prog.probes[1].locals['n'].type == 'string'


FACTS = {'kernel_v': '6.12.117', 'kernel_vr': '6.12.117', 'arch': 'x86_64',
         'CONFIG_KPROBES': 'y', 'CONFIG_NR_CPUS': '4'}


def pp_parse(text: str):  # type: ignore[no-untyped-def]
    return parser.parse(Source('t.stp', text), lambda name: FACTS.get(name))


@pytest.mark.parametrize('cond, taken', [
    ('kernel_v >= "6.5"', True), ('kernel_v < "6.5"', False),
    ('kernel_v > "6.12.9"', True), ('kernel_vr == "6.12.*"', True),
    ('arch == "x86_64" && CONFIG_KPROBES == "y"', True),
    ('arch != "x86_64" || CONFIG_NR_CPUS >= 8', False),
    ('CONFIG_NOT_THERE == ""', True), ('!(CONFIG_NR_CPUS < 2)', True),
    ('systemtap_v >= "4.0"', True),
])
def test_preprocessor_conditions(cond: str, taken: bool) -> None:
    script = pp_parse(f'probe %( {cond} %? begin %: end %) {{}}')
    assert script.probes[0].points[0].components[0].name == ('begin' if taken else 'end')


@pytest.mark.parametrize('text, where, message', [
    ('probe begin { %( kernel_v > "6" %? x = 1 }', '1:15', '%( is never closed with %)'),
    ('probe begin { %( kern_v > "6" %? x = 1 %) }', '1:18', "unknown name 'kern_v'"),
    ('probe begin { x = @NOPE }', '1:19', "unknown macro '@NOPE'"),
    ('probe begin { %( kernel_v > %? x = 1 %) }', '1:27', 'incomplete %( condition: a value'),
    ('probe begin { x = 1 %) }', '1:21', "'%)' outside a %( ... %) conditional"),
])
def test_preprocessor_errors(text: str, where: str, message: str) -> None:
    with pytest.raises(StapError) as e:
        pp_parse(text)
    assert f't.stp:{where}: error: ' in str(e.value) and message in str(e.value)


def test_macro_tokens_keep_their_position() -> None:
    with pytest.raises(StapError) as e:
        semantic.check(pp_parse('@define BAD %( "s" + 1 %)\nprobe begin { x = @BAD }'))
    assert 't.stp:1:16: error: expected a long' in str(e.value)


SELFTESTS = Path(__file__).parent.parent / 'tools' / 'stap-gen' / 'selftests'
TAPSET_FUNCTIONS = {m for t in (SELFTESTS.parent.parent.parent / 'kernel-templates').glob(
    '*/tapset/*.stp*') for m in re.findall(r'^function\s+(\w+)', t.read_text(), re.M)}
TAPSET_ALIASES = {m for t in (SELFTESTS.parent.parent.parent / 'kernel-templates').glob(
    '*/tapset/*.stp*') for m in re.findall(r'^probe\s+([\w.]+)\s*\+?=', t.read_text(), re.M)}
TAPSET_GLOBALS = {m for t in (SELFTESTS.parent.parent.parent / 'kernel-templates').glob(
    '*/tapset/*.stp*') for m in re.findall(r'^global\s+(\w+)', t.read_text(), re.M)}
CORPUS = sorted((SELFTESTS).glob('*.stp'))


@pytest.mark.parametrize('path', CORPUS, ids=lambda p: p.name)
def test_print_back_parses_to_the_same_script(path: Path) -> None:
    """-p1's output parses again, checks, and prints back identically."""
    from stapgen.frontend import unparse
    facts = {'kernel_v': '6.12.117', 'kernel_vr': '6.12.117', 'arch': 'x86_64',
             'CONFIG_KPROBES': 'y', 'CONFIG_SMP': 'y', 'CONFIG_NR_CPUS': '4'}
    args_file = path.with_suffix('.args')
    words = shlex.split(args_file.read_text()) if args_file.exists() else []
    guru = words[:1] == ['-g']
    macros = {}                 # the kit's own .stpm macros (prometheus_dump_array1, ...)
    for stpm in sorted((TOP / 'kernel-templates' / 'common' / 'tapset').glob('*.stpm')):
        macros.update(parser.parse_macros(Source(stpm.name, stpm.read_text())))
    first = unparse.script(parser.parse(Source(path.name, path.read_text()),
                                        lambda k: facts.get(k), words[guru:], macros))
    again = parser.parse(Source('printed', first), lambda k: facts.get(k))
    assert unparse.script(again) == first
    # a script calling tapset functions, probing tapset aliases or using
    # tapset globals (the trees' library, some made from a tree's headers
    # and syscall table) is type-checked on the trees
    if any(re.search(rf'\b{f}\(', first) for f in TAPSET_FUNCTIONS) or \
            any(re.search(rf'^probe .*\b{re.escape(a)}\b', first, re.M) for a in TAPSET_ALIASES) or \
            any(re.search(rf'\b{g}\b', first) for g in TAPSET_GLOBALS):
        return
    from stapgen.probes.resolve import family_variables
    semantic.check(again, guru, family_variables)


@pytest.mark.parametrize('text', [
    '$how->flags', '$$parms', '$$parms$', '$file$$', '$p->a[2]->b', '(&$how->mode)',
    '@cast($p, "struct task_struct")->comm', '@cast($p, "struct x", "kernel")->y$',
    '$a->b$', 'kernel_string($filename)', 'kernel_string($f, "dflt")',
])
def test_target_expressions_print_back(text: str) -> None:
    """Target expressions parse, type-check and print back unchanged."""
    from stapgen.frontend import unparse
    script = parser.parse(Source('t.stp', f'probe kernel.function("f") {{ print({text}) }}'))
    semantic.check(script)
    assert f'print({text})' in unparse.script(script)


@pytest.mark.parametrize('text, message', [
    ('print($$nosuch)', "unknown target '$$nosuch'"),
    ('print(x->y)', "syntax error: unexpected '->'"),
    ('print(@entry(1, 2))', '@entry takes one expression'),
    ('print(@defined(1))', '@defined takes a target expression'),
    ('print(@choose_defined($x))', '@choose_defined takes two expressions'),
    ('print(@choose_defined(1, 2))', '@choose_defined takes a target expression'),
    ('print(@cast($p))', '@cast takes a pointer and a type'),
    ('print(&$$parms)', '& takes a target variable'),
])
def test_target_syntax_errors(text: str, message: str) -> None:
    assert message in diag(f'probe begin {{ {text} }}')


def test_target_types() -> None:
    """Plain targets are numbers (an array is its address); pretty forms are strings."""
    assert '1:38: error: expected a string, but this is a long' in \
        diag('probe begin { x = "a" . $$parms; y = $p . "s" }')
    prog = semantic.check(parser.parse(Source(
        't.stp', 'probe begin { s = $p$ . $$vars; n = $p + &$q->r }')))
    assert prog.probes[0].locals['s'].type == 'string'
    assert prog.probes[0].locals['n'].type == 'long'


def test_functions_overload_by_arity() -> None:
    """Two functions of one name and different arities are both callable;
    a call neither fits is an error at the call, naming the arities."""
    text = ('function f(a) { return a }\nfunction f(a, b) { return a + b }\n'
            'probe begin { printf("%d %d\\n", f(1), f(1, 2)) }\n')
    prog = semantic.check(parser.parse(Source('t.stp', text)))
    assert sorted(prog.functions) == ['f__1', 'f__2']
    msg = diag(text.replace('f(1, 2))', 'f(1, 2, 3))'))
    assert 't.stp:3:' in msg and 'no function f takes 3 argument(s)' in msg
    assert 'f takes 1 or 2' in msg
