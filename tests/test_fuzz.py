# SPDX-License-Identifier: GPL-2.0
"""Fuzzing the front end: whatever the input, the lexer, preprocessor,
parser and type checker end in a diagnostic (StapError) or a program,
never in another exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from stapgen.frontend import parser
from stapgen.frontend import semantic
from stapgen.diag import Source, StapError

SELFTESTS = Path(__file__).parent.parent / 'tools' / 'stap-gen' / 'selftests'
CORPUS = [p.read_text() for p in sorted((SELFTESTS).glob('*.stp'))]
TOKENS = ['probe', 'begin', 'end', 'global', 'function', 'if', 'else', 'while', 'for',
          'foreach', 'in', 'limit', 'delete', 'next', 'break', 'continue', 'return',
          'try', 'catch', 'kernel', '.', 'function', '(', ')', '{', '}', '[', ']', ',',
          ';', '=', '+=', '.=', '++', '--', '<<<', '@count', '@hist_log', '%(', '%?',
          '%:', '%)', '@define', '@X', 'kernel_v', '"6.1"', '"s"', '0', '42', '0x10',
          'x', 'a', 'printf', '"%d\\n"', 'exit', '?', ':', '!', '-', '*', '/', '%',
          '<', '>=', '==', '&&', '||', '"unterminated', '/*', '*/', '#', '\n', '$x',
          # the language of SystemTap's own scripts: arguments, embedded C,
          # brace groups, wildcards, conditions, wrapping arrays, macros
          '$1', '@1', '$#', '@#', '$9', '%{', '%}', '%{ x %}', 'never', 'begin(-1)',
          '{a,b}', 'syscall.*', '*', 'if (x)', 'global a%', '%[', '@sum-', '@a(',
          '@define f(a) %(', '@f(1)', '$x = 1', 'a[*, 1]', '[*] in a', '%*d',
          # regular expressions
          '=~', '!~', '"^a(b|[[:digit:]])*$"', '"a{2,"']
FACTS = {'kernel_v': '6.12.0', 'kernel_vr': '6.12.0', 'arch': 'x86_64'}


def front_end(text: str, guru: bool = False) -> None:
    try:
        semantic.check(parser.parse(Source('fuzz.stp', text), lambda k: FACTS.get(k),
                                    ['kernel.function("f")', '7']), guru)
    except StapError as e:
        assert str(e)           # a diagnostic that renders


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_token_soup(tokens: list) -> None:
    front_end(' '.join(tokens))
    front_end(' '.join(tokens), guru=True)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(CORPUS), st.data())
def test_mutated_corpus(text: str, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + data.draw(st.sampled_from(['', *TOKENS, ' ', '"', '}'])) + text[j:]
    front_end(text)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    front_end(text)


def test_deep_nesting_is_a_diagnostic() -> None:
    for depth in (100, 5000):
        front_end('probe begin { x = ' + '(' * depth + '1' + ')' * depth + ' }')
        front_end('probe begin { ' + '{' * depth + '}' * depth + ' }')
        front_end('probe begin { x = ' + '-' * depth + '1 }')
