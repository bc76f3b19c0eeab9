# SPDX-License-Identifier: GPL-2.0
"""Tokens of the script language (ply.lex)."""

from __future__ import annotations

from typing import List, Tuple

import ply.lex as lex

from ..diag import Pos, Source, error

KEYWORDS = {
    'probe': 'PROBE', 'global': 'GLOBAL', 'function': 'FUNCTION',
    'if': 'IF', 'else': 'ELSE', 'while': 'WHILE', 'for': 'FOR',
    'foreach': 'FOREACH', 'in': 'IN', 'delete': 'DELETE',
    'break': 'BREAK', 'continue': 'CONTINUE', 'next': 'NEXT',
    'return': 'RETURN', 'try': 'TRY', 'catch': 'CATCH', 'private': 'PRIVATE',
}

tokens = (
    'IDENT', 'NUMBER', 'STRING',
    'PP_IF', 'PP_THEN', 'PP_ELSE', 'PP_END', 'AT_IDENT', 'AGG_ADD',
    'TARGET', 'DOLLARS', 'ARG', 'EMBEDDED',
    'INC', 'DEC', 'ARROW',
    'EQ', 'NE', 'MATCH', 'NOMATCH', 'LE', 'GE', 'ANDAND', 'OROR', 'SHL', 'SHR',
    'ASSIGNOP',
) + tuple(sorted(set(KEYWORDS.values())))
KEYWORD_TYPES = frozenset(KEYWORDS.values())

literals = '{}()[],;:?.+-*/%<>=!~&|^'

_ESCAPES = {'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"',
            "'": "'", 'a': '\a', 'b': '\b', 'f': '\f', 'v': '\v', '0': '\0'}


def decode_string(body: str, source: Source, offset: int) -> Tuple[str, List[int]]:
    """A string literal's value from the text between its quotes (which
    starts at offset in source), with where each character of the value
    was written: its index in body."""
    out: List[str] = []
    where: List[int] = []
    i = 0
    while i < len(body):
        ch = body[i]
        where.append(i)
        if ch != '\\':
            out.append(ch)
            i += 1
            continue
        esc = body[i + 1]
        if esc in _ESCAPES and not (esc == '0' and body[i + 2:i + 3].isdigit()):
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in '01234567':
            j = i + 1
            while j < len(body) and j < i + 4 and body[j] in '01234567':
                j += 1
            out.append(chr(int(body[i + 1:j], 8) & 0xff))
            i = j
        elif esc == 'x':
            j = i + 2
            while j < len(body) and body[j] in '0123456789abcdefABCDEF':
                j += 1
            if j == i + 2:
                raise error('\\x used with no following hex digits',
                            source.position(offset + i))
            out.append(chr(int(body[i + 2:j], 16) & 0xff))
            i = j
        else:
            raise error(f'unknown escape sequence \\{esc}',
                        source.position(offset + i), width=2)
    return ''.join(out), where


class Lexer:
    tokens = tokens
    literals = literals
    t_ignore = ' \t\r'

    def __init__(self, source: Source) -> None:
        self.source = source
        self.lexer = lex.lex(module=self, optimize=False, debug=False)
        self.lexer.input(source.text)
        self._after_arrow = False

    # embedded C (guru mode): %{ ... %} ------------------------------------
    def t_EMBEDDED(self, t: lex.LexToken) -> lex.LexToken:
        r'%\{(.|\n)*?%\}'
        t.lexer.lineno += t.value.count('\n')
        t.value = t.value[2:-2]
        return t

    def t_UNTERMINATED_EMBEDDED(self, t: lex.LexToken) -> None:
        r'%\{'
        raise error('unterminated %{ embedded C', self.source.position(t.lexpos),
                    hint='close it with %}')

    # script arguments: $1 (the argument's text), @1 (as a string), $# / @#
    def t_ARG(self, t: lex.LexToken) -> lex.LexToken:
        r'[$@]([0-9]+|\#)'
        return t

    # comments and newlines ----------------------------------------------
    def t_COMMENT(self, t: lex.LexToken) -> None:
        r'(/\*(.|\n)*?\*/)|(//[^\n]*)|(\#[^\n]*)'
        t.lexer.lineno += t.value.count('\n')

    def t_UNTERMINATED_COMMENT(self, t: lex.LexToken) -> None:
        r'/\*'
        raise error('unterminated /* comment', self.source.position(t.lexpos),
                    hint='close it with */')

    def t_newline(self, t: lex.LexToken) -> None:
        r'\n+'
        t.lexer.lineno += len(t.value)

    # preprocessor: %( cond %? then %: else %) and @define / @NAME --------
    t_PP_IF = r'%\('
    t_PP_THEN = r'%\?'
    t_PP_ELSE = r'%:'
    t_PP_END = r'%\)'
    t_AT_IDENT = r'@[A-Za-z_][A-Za-z0-9_]*'

    # multi-character operators (longest first) ---------------------------
    def t_AGG_ADD(self, t: lex.LexToken) -> lex.LexToken:
        r'<<<'
        return t

    def t_ASSIGNOP(self, t: lex.LexToken) -> lex.LexToken:
        r'<<=|>>=|\+=|-=|\*=|/=|%=|&=|\|=|\^=|\.='
        return t

    t_INC = r'\+\+'
    t_DEC = r'--'
    t_ARROW = r'->'
    t_EQ = r'=='
    t_NE = r'!='
    # =~ and !~ match a regular expression (`x=~1` is not x = ~1, as in
    # SystemTap; `!~x` still parses as !(~x), see the parser)
    t_MATCH = r'=~'
    t_NOMATCH = r'!~'
    t_LE = r'<='
    t_GE = r'>='
    t_ANDAND = r'&&'
    t_OROR = r'\|\|'
    t_SHL = r'<<'
    t_SHR = r'>>'

    # target variables: $name, $$parms, with a pretty-printing $ or $$ after
    def t_TARGET(self, t: lex.LexToken) -> lex.LexToken:
        r'\$\$?[A-Za-z_][A-Za-z0-9_]*\$*'
        return t

    t_DOLLARS = r'\$+'

    def t_IDENT(self, t: lex.LexToken) -> lex.LexToken:
        r'[A-Za-z_][A-Za-z0-9_]*'
        t.type = KEYWORDS.get(t.value, 'IDENT')
        return t

    def t_NUMBER(self, t: lex.LexToken) -> lex.LexToken:
        r'[0-9][0-9A-Za-z_]*'
        text = t.value
        try:
            if text[:2] in ('0x', '0X'):
                value = int(text[2:], 16)
            elif len(text) > 1 and text[0] == '0':
                value = int(text, 8)
            else:
                value = int(text)
        except ValueError:
            raise error(f'invalid number {text!r}', self.source.position(t.lexpos),
                        width=len(text)) from None
        if value >= 1 << 64:
            raise error(f'number {text} does not fit in 64 bits',
                        self.source.position(t.lexpos), width=len(text))
        if value >= 1 << 63:
            value -= 1 << 64
        t.value = value
        return t

    def t_STRING(self, t: lex.LexToken) -> lex.LexToken:
        r'"([^"\\\n]|\\.)*"'
        t.value = decode_string(t.value[1:-1], self.source, t.lexpos + 1)[0]
        return t

    def t_UNTERMINATED_STRING(self, t: lex.LexToken) -> None:
        r'"'
        raise error('unterminated string literal', self.source.position(t.lexpos),
                    hint='strings end with " on the same line')

    def t_error(self, t: lex.LexToken) -> None:
        raise error(f'unexpected character {t.value[0]!r}',
                    self.source.position(t.lexpos))

    # ply's token-stream interface ----------------------------------------
    def token(self) -> lex.LexToken:
        tok = self.lexer.token()
        # after '->' a name is a member, even one spelled like a keyword
        # ($p->next of a list_head)
        if tok is not None and self._after_arrow and tok.type in KEYWORD_TYPES:
            tok.type = 'IDENT'
        self._after_arrow = tok is not None and tok.type == 'ARROW'
        return tok

    def input(self, text: str) -> None:
        self.lexer.input(text)


def position(tok: lex.LexToken, source: Source) -> 'Pos':
    """Where tok was written: in source, or in the text it came from (a
    script argument, a tapset's macro), which it then carries."""
    return getattr(tok, 'source', source).position(tok.lexpos)


def tokens_of(source: Source) -> list:
    """All tokens of a text (a script argument's), each carrying source."""
    lexer = Lexer(source)
    out: list = []
    while True:
        tok = lexer.token()
        if tok is None:
            return out
        tok.source = source
        out.append(tok)
