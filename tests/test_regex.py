# SPDX-License-Identifier: GPL-2.0
"""s =~ "RE" and s !~ "RE": the regular expression compiler
(stapgen/codegen/regex.py) and the operators in the language.

A compiled program is run by Program.matches(), the run time's matcher
(runtime/regex.h) restated in Python; what it answers is compared with
expectations written from POSIX's and SystemTap's rules, and, for
generated expressions and strings, with Python's re on the same
expression spelled in its syntax; runtime/regex.h itself, built for the
host, answers as Program.matches() does.  The self-test
selftests/regex.stp runs the operators for real in QEMU."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import TOP
from stapgen.codegen import generate as codegen
from stapgen.codegen import regex
from stapgen.codegen.translate import regex_decls, translate
from stapgen.diag import Source, StapError
from stapgen.frontend import nodes as n
from stapgen.frontend import lexer, parser, semantic, unparse


def matches(pattern: str, s: str, maxlen: int = 256) -> bool:
    return regex.compile(pattern).matches(s.encode(), maxlen)


# -- what a regular expression matches ----------------------------------------------------

@pytest.mark.parametrize('pattern, s, want', [
    # unanchored: anywhere in the string
    ('b', 'abc', True), ('bd', 'abc', False), ('', '', True), ('', 'x', True),
    ('^a', 'abc', True), ('^b', 'abc', False), ('c$', 'abc', True), ('b$', 'abc', False),
    ('^$', '', True), ('^$', 'a', False), ('^abc$', 'abc', True), ('^abc$', 'abcd', False),
    ('a^b', 'a^b', False), ('a$b', 'a$b', False),       # anchors hold at the ends only
    ('(^|x)a', 'xa', True), ('(^|x)a', 'ya', False), ('a($|x)', 'ya', True),
    # . is any byte, a newline too
    ('a.c', 'abc', True), ('a.c', 'a\nc', True), ('a.c', 'ac', False),
    # repetition
    ('^ab*c$', 'ac', True), ('^ab*c$', 'abbbc', True), ('^ab+c$', 'ac', False),
    ('^ab?c$', 'abbc', False), ('^a{3}$', 'aaa', True), ('^a{3}$', 'aaaa', False),
    ('^a{2,}$', 'a', False), ('^a{2,}$', 'aaaaa', True), ('^a{1,2}$', 'aaa', False),
    ('^a{0}b$', 'b', True), ('^(ab){2}$', 'abab', True), ('^(ab){2}$', 'aba', False),
    ('^a**$', 'aaa', True), ('^(a*)*$', 'aaa', True), ('^(a|b*)+c$', 'ababbc', True),
    ('^()*x$', 'x', True), ('^(){3,}x$', 'x', True),
    # alternation and groups
    ('^(cat|dog)s?$', 'dogs', True), ('^(cat|dog)s?$', 'cow', False),
    ('a|', 'zzz', True), ('^(|a)b$', 'b', True), ('^ab|cd$', 'xcd', True),
    ('^ab|cd$', 'xab', False),
    # bracket expressions
    ('^[abc]+$', 'cab', True), ('^[a-c]+$', 'abd', False), ('[^a-c]', 'abc', False),
    ('[^a-c]', 'abcd', True), ('^[]a]+$', ']a]', True), ('^[^]a]$', 'b', True),
    ('^[^]a]$', ']', False), ('^[a-]$', '-', True), ('^[-a]$', '-', True),
    ('^[a-c-e]+$', 'b-e', True), ('^[a-c-e]+$', 'd', False), ('^[.*+?]+$', '*.?+', True),
    ('^[[:digit:]]+$', '0123456789', True), ('[[:digit:]]', 'abc', False),
    ('^[[:alpha:]_][[:alnum:]_]*$', '_x1', True), ('^[[:alpha:]_][[:alnum:]_]*$', '1x', False),
    ('^[[:upper:][:digit:]]+$', 'A1B2', True), ('^[[:upper:][:digit:]]+$', 'a1', False),
    ('^[[:space:]]+$', ' \t\n\r\f\v', True), ('^[[:blank:]]+$', ' \t', True),
    ('^[[:blank:]]$', '\n', False), ('^[[:xdigit:]]+$', 'c0ffeE', True),
    ('^[[:punct:]]+$', '!-/:@[`{~', True), ('^[[:punct:]]$', 'a', False),
    ('^[[:lower:]]$', 'Q', False), ('^[[:print:]]+$', 'a b~', True),
    ('^[[:graph:]]$', ' ', False), ('^[[:cntrl:]]$', '\x1b', True), ('^[[]$', '[', True),
    ('^[\\]]$', ']', True), ('^[a\\-z]+$', '-az', True), ('^[a\\-z]+$', 'b', False),
    # a backslash makes any character literal
    ('^a\\.c$', 'a.c', True), ('^a\\.c$', 'abc', False), ('^\\*\\+\\?\\{\\}$', '*+?{}', True),
    ('^\\(\\)\\|\\[\\^\\$\\\\$', '()|[^$\\', True), ('^\\n$', 'n', True),
    # characters that are not special where they stand
    ('^a}$', 'a}', True), ('^]$', ']', True), ('^-$', '-', True),
    # beyond ASCII: a character is its UTF-8 bytes
    ('^é+$', 'éé', True), ('^.$', 'é', False), ('^..$', 'é', True),
])
def test_matches(pattern: str, s: str, want: bool) -> None:
    assert matches(pattern, s) == want


def test_a_string_ends_at_nul_or_after_maxstringlen_minus_one_bytes() -> None:
    assert matches('^a$', 'a\0b')
    assert not matches('b', 'a\0b')
    s = 'x' * 254 + 'y' + 'z' * 50
    assert matches('y$', s) and not matches('z', s)     # MAXSTRINGLEN 256 holds 255
    assert not matches('^x{10}$', s)
    assert matches('^x{10}$', s, maxlen=11) and not matches('^x{9}$', s, maxlen=11)


def test_program_shapes() -> None:
    """Bytes that make one range are one BYTE; other sets are a CLASS, each
    set once; alternation and repetition are SPLIT and JMP."""
    p = regex.compile('[a-z]')
    assert [(i.op, i.lo, i.hi) for i in p.insns] == [('BYTE', 97, 122), ('MATCH', 0, 0)]
    p = regex.compile('[a-z_]x[_a-z]')
    assert [i.op for i in p.insns] == ['CLASS', 'BYTE', 'CLASS', 'MATCH']
    assert len(p.classes) == 1 and p.insns[0].x == p.insns[2].x == 0
    words = p.class_words(0)
    assert words[1] == sum(1 << (b - 64) for b in [ord('_')] + list(range(97, 123)))
    assert words[0] == words[2] == words[3] == 0
    p = regex.compile('a|b')
    assert [(i.op, i.x, i.y) for i in p.insns] == [
        ('SPLIT', 1, 3), ('BYTE', 0, 0), ('JMP', 4, 0), ('BYTE', 0, 0), ('MATCH', 0, 0)]
    p = regex.compile('a*')
    assert [(i.op, i.x, i.y) for i in p.insns] == [
        ('SPLIT', 1, 3), ('BYTE', 0, 0), ('JMP', 0, 0), ('MATCH', 0, 0)]
    assert [i.text() for i in regex.compile('^a.$').insns] == ['^', "'a'", '0x01-0xff', '$',
                                                              'match']


def test_size_limit() -> None:
    assert len(regex.compile('a{255}').insns) == 256
    assert len(regex.compile('(){255}x{254}').insns) == 255
    for big in ('a{255}b', '(a{100}){3}', '((a{255}){255}){255}', 'a' * 256):
        with pytest.raises(StapError, match='more than 256 instructions'):
            regex.compile(big)


# -- generated expressions, checked against Python's re ----------------------------------------

ALPHABET = 'ab-.]1 \n'
LEAVES: List[Tuple[str, str]] = [
    ('a', 'a'), ('b', 'b'), ('-', r'\-'), ('\\.', r'\.'), ('\\]', r'\]'), ('1', '1'),
    ('.', '.'), ('[ab]', '[ab]'), ('[^a]', '[^a]'), ('[a-c]', '[a-c]'), ('[]a]', r'[\]a]'),
    ('[[:digit:]]', '[0-9]'), ('[^[:alpha:] ]', '[^a-zA-Z ]'), ('[.-]', r'[.\-]'),
    ('[[:space:]]', r'[ \t\n\r\f\v]'),
]
ANCHORS = [('^', r'\A'), ('$', r'\Z')]


def _atom(x: Tuple[str, str, bool]) -> Tuple[str, str]:
    """x as something a repetition can follow."""
    ere, py, atomic = x
    return (ere, py) if atomic else (f'({ere})', f'(?:{py})')


def _expressions() -> st.SearchStrategy:
    leaf = st.one_of(st.sampled_from(LEAVES).map(lambda t: (t[0], t[1], True)),
                     st.sampled_from(ANCHORS).map(lambda t: (t[0], t[1], False)),
                     st.just(('()', '(?:)', True)))

    def grow(inner: st.SearchStrategy) -> st.SearchStrategy:
        def cat(xs: list) -> Tuple[str, str, bool]:
            parts = [(f'({e})', f'(?:{p})') if '|' in e and not a else (e, p)
                     for e, p, a in xs]
            return ''.join(e for e, _ in parts), ''.join(p for _, p in parts), False

        def alt(xs: list) -> Tuple[str, str, bool]:
            return '|'.join(e for e, _, _ in xs), '|'.join(p for _, p, _ in xs), False

        def rep(x: Tuple[str, str, bool], op: str) -> Tuple[str, str, bool]:
            ere, py = _atom(x) if x[0] not in ('^', '$') else (f'({x[0]})', f'(?:{x[1]})')
            return f'{ere}{op}', f'(?:{py}{op})', True

        ops = st.sampled_from(['*', '+', '?', '{2}', '{0,1}', '{1,}', '{0,2}', '{2,3}'])
        return st.one_of(
            st.lists(inner, min_size=2, max_size=4).map(cat),
            st.lists(inner, min_size=2, max_size=3).map(alt),
            st.tuples(inner, ops).map(lambda t: rep(*t)),
            inner.map(lambda x: (f'({x[0]})', f'(?:{x[1]})', True)),
        )

    return st.recursive(leaf, grow, max_leaves=12)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(_expressions(), st.lists(st.text(ALPHABET, max_size=12), min_size=1, max_size=8))
def test_agrees_with_python_re(expr: Tuple[str, str, bool], strings: List[str]) -> None:
    ere, py, _ = expr
    try:
        prog = regex.compile(ere)
    except StapError as e:
        assert 'more than 256 instructions' in str(e), (ere, str(e))
        return
    want = re.compile(py, re.DOTALL)
    for s in strings:
        assert prog.matches(s.encode()) == bool(want.search(s)), (ere, py, s)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text('ab()[]{}|*+?^$.\\-:,0123456789', max_size=24), st.text('ab', max_size=8))
def test_any_text_compiles_or_is_a_diagnostic(pattern: str, s: str) -> None:
    """Whatever the text: a StapError, or a program the run time can run
    (every jump inside it, at most 256 instructions, MATCH last)."""
    try:
        prog = regex.compile(pattern)
    except StapError as e:
        assert str(e).startswith('stap-gen: error: regular expression: ')
        return
    assert 0 < len(prog.insns) <= regex.MAX_INSNS
    assert prog.insns[-1].op == 'MATCH'
    for i in prog.insns:
        assert 0 <= i.lo <= 255 and 0 <= i.hi <= 255
        if i.op in ('SPLIT', 'JMP'):
            assert 0 <= i.x < len(prog.insns) and (i.op == 'JMP' or 0 <= i.y < len(prog.insns))
        if i.op == 'CLASS':
            assert i.x < len(prog.classes)
    prog.matches(s.encode())


# -- in the language: lexing, parsing, checking, translating ----------------------------------

def parse(text: str) -> n.Script:
    return parser.parse(Source('t.stp', text))


def diag(text: str) -> str:
    """The diagnostics of checking and translating text."""
    with pytest.raises(StapError) as e:
        translate(semantic.check(parse(text)), 't.stp')
    return str(e.value)


def first_expr(text: str) -> n.Expr:
    stmt = parse(text).probes[0].body.body[0]
    assert isinstance(stmt, n.ExprStmt)
    return stmt.expr


def test_tokens() -> None:
    toks = lexer.tokens_of(Source('t', 's =~ "a" !~ "b" ! ~x !~x x = ~1 != =='))
    assert [t.type for t in toks] == ['IDENT', 'MATCH', 'STRING', 'NOMATCH', 'STRING', '!',
                                      '~', 'IDENT', 'NOMATCH', 'IDENT', 'IDENT', '=', '~',
                                      'NUMBER', 'NE', 'EQ']


def test_parses_with_the_precedence_of_equality() -> None:
    e = first_expr('probe begin { x = s =~ "a" == t !~ "b" . "c" && 1 }')
    assert unparse.expr(e, True) == 'x = ((((s =~ "a") == t) !~ ("b" . "c")) && 1)'
    e = first_expr('probe begin { x = a < s =~ "b" }')
    assert unparse.expr(e, True) == 'x = ((a < s) =~ "b")'


def test_bang_tilde_without_a_space_is_still_not_of_complement() -> None:
    e = first_expr('probe begin { y = !~x }')
    assert isinstance(e, n.Assign) and isinstance(e.value, n.Unary)
    assert e.value.op == '!' and isinstance(e.value.operand, n.Unary)
    assert e.value.operand.op == '~' and e.value.operand.pos.col == 20
    assert unparse.expr(e, True) == 'y = !(~(x))'


def test_unparse_reparses() -> None:
    text = 'probe begin { s = "x"; if (s =~ "^a\\\\.b*$" || s !~ "[\\"]") exit() }'
    once = unparse.script(parse(text))
    assert 's =~ "^a\\\\.b*$"' in once and 's !~ "[\\"]"' in once
    assert unparse.script(parse(once)) == once


def test_translates_to_a_call_of_the_runtime() -> None:
    program = semantic.check(parse('''
function f(a) { return a =~ "^x" }
probe begin { s = "x"; printf("%d %d %d\\n", s =~ "a|b", s !~ "a|b", f(s . "!")) }
'''))
    handlers = translate(program, 't.stp')
    body = '\n'.join(h.body for h in handlers)
    assert 'stp_regex_match(&stp_re_0, l->v_s)' in body
    assert '(s64)!stp_regex_match(&stp_re_0, l->v_s)' in body     # one program for both
    assert 'stp_regex_match(&stp_re_1, l->v_a)' in body
    decls = regex_decls(handlers)
    assert [d['index'] for d in decls] == [0, 1]
    assert [i['op'] for i in decls[0]['insns']] == ['SPLIT', 'BYTE', 'JMP', 'BYTE', 'MATCH']


def test_module_holds_the_programs_as_data() -> None:
    program = semantic.check(parse(
        'probe begin { s = "a"; if (s =~ "[[:digit:]_]*/\\\\*" && s =~ "[a-z]x") exit() }'))
    facts = codegen.TreeFacts([TOP / 'kernel-templates' / '6.12',
                               TOP / 'kernel-templates' / 'common'], '6.12.0')
    text = codegen.generate(program, [], 't.stp', 't', facts, line_directives=False).text
    assert '#include "runtime/regex.h"' in text
    assert '/* "[[:digit:]_]*\\/\\\\*" */' in text      # a comment cannot end inside
    assert 'static const struct stp_re_class stp_re_0_classes[] = {' in text
    assert '\t{ { 0x03ff000000000000, 0x0000000080000000, 0x0000000000000000, ' \
           '0x0000000000000000 } },\t/* 0 */' in text
    assert '\t{ STP_RE_SPLIT, 0, 0, 1, 3 },\t/* 0: split 1, 3 */' in text
    assert '\t.classes = stp_re_0_classes,' in text
    assert 'static const struct stp_regex stp_re_1 = {' in text
    assert '\t{ STP_RE_BYTE, 97, 122, 0, 0 },\t/* 0: \'a\'-\'z\' */' in text
    plain = codegen.generate(semantic.check(parse('probe begin { exit() }')), [], 't.stp',
                             't', facts, line_directives=False).text
    assert 'stp_re_' not in plain.replace('#include "runtime/regex.h"', '')


# -- diagnostics ------------------------------------------------------------------------------

def test_the_right_side_must_be_a_literal() -> None:
    out = diag('probe begin { s = "a"; r = "b"; x = s =~ r }')
    assert 't.stp:1:42: error: the right side of =~ must be a string literal' in out
    assert 'hint: a regular expression is compiled with the script: it cannot be ' \
           'computed at run time' in out
    out = diag('probe begin { s = "a"; x = s !~ "a" . "b" }')
    assert 't.stp:1:37: error: the right side of !~ must be a string literal' in out
    out = diag('probe begin { x = 1 =~ "a" }')
    assert 't.stp:1:19: error: expected a string, but this is a long' in out


def test_literal_forms_the_preprocessor_makes_are_literals() -> None:
    program = semantic.check(parse(
        '@define RE %( "^a" %)\nprobe begin { s = "ab"; x = s =~ @RE; y = s =~ "a" "b" }'))
    assert len(regex_decls(translate(program, 't.stp'))) == 2


@pytest.mark.parametrize('pattern, col, message, hint', [
    ('a)', 2, "regular expression: unbalanced ')'", "to match a ')', write [)]"),
    ('x(ab', 2, "regular expression: unbalanced '('",
     "close the group with ')'; to match a '(', write [(]"),
    ('*a', 1, "regular expression: '*' repeats nothing", "to match a '*', write [*]"),
    ('a|+', 3, "regular expression: '+' repeats nothing", "to match a '+', write [+]"),
    ('(?:a)', 2, "regular expression: '?' repeats nothing", None),
    ('a{', 2, 'regular expression: a repetition is written {m}, {m,} or {m,n}',
     "to match a '{', write [{]"),
    ('a{1,x}', 2, 'regular expression: a repetition is written {m}, {m,} or {m,n}', None),
    ('a{,2}', 2, 'regular expression: a repetition is written {m}, {m,} or {m,n}', None),
    ('a{3,2}', 2, 'regular expression: repetition {3,2} has its minimum above its maximum',
     None),
    ('a{256}', 2, 'regular expression: repetition count 256 is more than 255', None),
    ('^*', 2, "regular expression: '*' cannot repeat an anchor (^ or $)", None),
    ('a$?', 3, "regular expression: '?' cannot repeat an anchor (^ or $)", None),
    ('x[ab', 2, 'regular expression: unterminated bracket expression',
     "a ']' right after '[' or '[^' is a member of the set; another ']' ends it"),
    ('[]', 1, 'regular expression: unterminated bracket expression', None),
    ('[[:word:]]', 2, "regular expression: unknown character class '[:word:]'",
     'the classes are [:alnum:], [:alpha:], [:blank:], [:cntrl:], [:digit:], [:graph:], '
     '[:lower:], [:print:], [:punct:], [:space:], [:upper:], [:xdigit:]'),
    ('x[[:digt:]]', 3, "regular expression: unknown character class '[:digt:]'",
     'did you mean [:digit:]? the classes are [:alnum:], '),
    ('[[:alpha]', 2, "regular expression: unknown character class '[:'", None),
    ('[z-a]', 2, "regular expression: range 'z-a' is out of order", None),
    ('[a-[:digit:]]', 2, 'regular expression: a character class cannot be part of a range',
     None),
    ('[[:digit:]-z]', 2, 'regular expression: a character class cannot be part of a range',
     None),
    ('[é]', 2, 'regular expression: non-ASCII character in a bracket expression',
     'a bracket expression matches one byte; write the character outside brackets '
     '(as its UTF-8 bytes)'),
    ('ab\\\\', 3, 'regular expression: trailing backslash', None),
    ('a{200}b{100}', 1, 'regular expression: more than 256 instructions',
     'a repetition {m,n} copies what it repeats: use smaller counts, or test with '
     'several =~'),
    ('(' * 65 + ')' * 65, 65, 'regular expression: nests more than 64 deep',
     'groups and repetitions count'),
    ('a' + '*' * 65, 66, 'regular expression: nests more than 64 deep', None),
])
def test_bad_regular_expressions(pattern: str, col: int, message: str,
                                 hint: Optional[str]) -> None:
    """The caret is under the character at fault, inside the literal (col
    counts in the literal as written, from 1 just after its quote)."""
    prefix = 'probe begin { s = "a"; x = s =~ "'
    out = diag(f'{prefix}{pattern}" }}')
    assert f't.stp:1:{len(prefix) + col}: error: {message}' in out, out
    if hint is not None:
        assert f'hint: {hint}' in out, out


def test_positions_count_escapes_as_written() -> None:
    out = diag('probe begin { s = "a"; x = s =~ "\\t\\x41)" }')
    assert "t.stp:1:40: error: regular expression: unbalanced ')'" in out
    # a literal joined to the next: the first one's characters are placed
    out = diag('probe begin { s = "a"; x = s =~ "ab" ")" }')
    assert "t.stp:1:33: error: regular expression: unbalanced ')'" in out


def test_selftest_exercises_both_operators() -> None:
    text = (TOP / 'tools' / 'stap-gen' / 'selftests' / 'regex.stp').read_text()
    assert text.startswith('# SPDX-License-Identifier: GPL-2.0\n')
    assert '=~' in text and '!~' in text and (Path(TOP / 'tools' / 'stap-gen' / 'selftests' /
                                                   'regex.out')).exists()


# -- the run time's matcher itself, built for the host ---------------------------------------

HOST_PRELUDE = '''
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint64_t u64;
typedef int64_t s64;
#define noinline __attribute__((noinline))
#define __maybe_unused __attribute__((unused))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define swap(a, b) do { __typeof__(a) t_ = (a); (a) = (b); (b) = t_; } while (0)
#define MAXSTRINGLEN 256
'''

HOST_CASES = [
    ('^(ab|cd)*$', ['', 'abcd', 'abc', 'cdcdab', 'x']),
    ('[[:alpha:]_][[:alnum:]_]*=', ['a=1', '=1', ' _x9=', '9=']),
    ('a{2,3}b|^$', ['', 'aab', 'ab', 'xaaaab']),
    ('[^a-c]x.$', ['dxy', 'axy', 'dx', 'q\nxz']),
    ('(^|,)k(,|$)', ['k', 'a,k', 'a,kk', 'k,b', 'ak']),
    ('y$', ['x' * 254 + 'y' + 'z' * 20, 'x' * 255 + 'y']),
]


def test_runtime_matcher_answers_as_the_python_one(tmp_path: Path) -> None:
    """runtime/regex.h, compiled for the host with the few kernel names it
    uses, gives Program.matches()'s answers."""
    gcc = shutil.which('gcc')
    assert gcc, 'the tests need gcc (as test_middle does)'
    header = (TOP / 'kernel-templates' / 'common' / 'runtime' / 'regex.h').read_text()
    out = [HOST_PRELUDE, header, 'int main(void)\n{']
    want = []
    for k, (pattern, strings) in enumerate(HOST_CASES):
        prog = regex.compile(pattern)
        insns = ', '.join(f'{{ STP_RE_{i.op}, {i.lo}, {i.hi}, {i.x}, {i.y} }}'
                          for i in prog.insns)
        classes = ', '.join('{ { ' + ', '.join(f'{w:#x}ull' for w in prog.class_words(c)) +
                            ' } }' for c in range(len(prog.classes))) or '{ { 0 } }'
        out.append(f'\tstatic const struct stp_re_insn p{k}[] = {{ {insns} }};')
        out.append(f'\tstatic const struct stp_re_class c{k}[] = {{ {classes} }};')
        out.append(f'\tstatic const struct stp_regex r{k} = {{ p{k}, ARRAY_SIZE(p{k}), c{k}, '
                   f'{len(prog.classes)} }};')
        for s in strings:
            literal = ''.join(f'\\x{b:02x}' for b in s.encode())
            out.append(f'\tprintf("%d\\n", (int)stp_regex_match(&r{k}, "{literal}"));')
            want.append(str(int(prog.matches(s.encode()))))
    out.append('\treturn 0;\n}\n')
    src = tmp_path / 'regex_host.c'
    src.write_text('\n'.join(out))
    exe = tmp_path / 'regex_host'
    subprocess.run([gcc, '-O2', '-Wall', '-Werror', '-Wno-unused-function', '-o', str(exe),
                    str(src)], check=True)
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    assert got.split() == want
    assert want.count('1') and want.count('0')
