# SPDX-License-Identifier: GPL-2.0
"""The script preprocessor: conditionals on the target tree, and macros.

    %( kernel_v >= "6.5" && CONFIG_DEBUG_FS == "y" %? ... %: ... %)
    %( $# > 1 %? ... %)
    @define NAME %( tokens %)   ...   @NAME
    @define NAME(a, b) %( ... @a ... @b ... %)   ...   @NAME(x, y)

and the script's arguments: $1 is the first argument's text (read as
tokens: a number, or a whole probe point), @1 the same as a string, $#
and @# how many there are.

It works on tokens, between the lexer and the parser, so every token keeps
the position it has in the script (a macro's tokens report where the macro
was defined).  The facts come from the tree: kernel_v and kernel_vr from
its release, arch from its configuration, CONFIG_* from its .config read
with kconfiglib.  A comparison with == or != takes glob patterns.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from ..diag import Source, error
from .lexer import KEYWORD_TYPES, position, tokens_of

Facts = Callable[[str], Optional[str]]     # name -> value, None if unknown
SYSTEMTAP_V = '5.0'                         # the language level stap-gen follows
# @-names of the language itself, never macros
RESERVED = {'@count', '@sum', '@min', '@max', '@avg', '@variance', '@hist_log',
            '@hist_linear', '@entry', '@cast', '@defined', '@choose_defined', '@var'}

_COND_OPS = {'EQ': '==', 'NE': '!=', '<': '<', '>': '>', 'LE': '<=', 'GE': '>='}


def _version_key(v: str) -> List[Any]:
    return [int(x) if x.isdigit() else x for x in re.split(r'[.\-+]', v) if x]


# Facts of the kit itself, not of a tree.
KIT_FACTS = {'runtime': 'kernel', 'systemtap_privilege': 'stapdev'}


@dataclass
class Macro:
    params: Optional[List[str]]     # None: used as @NAME, no parentheses
    body: List[Any]


class Preprocessor:
    """A token stream with conditionals resolved, macros expanded and the
    script's arguments put in."""

    def __init__(self, lexer: Any, source: Source, facts: Facts,
                 args: Optional[List[str]] = None,
                 macros: Optional[Dict[str, Macro]] = None) -> None:
        self.lexer = lexer
        self.source = source
        self.facts = facts
        self.args = args
        self.pending: List[Any] = []
        self.macros: Dict[str, Macro] = dict(macros or {})
        self.depth = 0

    def _raw(self) -> Any:
        """The next token, script arguments not yet put in: a branch of
        %( %) that is not taken may name an argument that was not given."""
        return self.pending.pop(0) if self.pending else self.lexer.token()

    def _argument(self, tok: Any) -> List[Any]:
        """$N, @N, $#, @#: the tokens standing for them."""
        args = self.args
        if args is None:
            raise error(f"'{tok.value}': script arguments are given on the command line",
                        self._pos(tok), width=len(tok.value),
                        hint='stap-gen SCRIPT ARG...  (here there are none)')
        if tok.value[1] == '#':
            return [_retyped(tok, 'NUMBER', len(args))]
        n = int(tok.value[1:])
        if not 1 <= n <= len(args):
            given = f'{len(args)} given' if args else 'none given'
            raise error(f"missing script argument {tok.value} ({given})", self._pos(tok),
                        width=len(tok.value),
                        hint=f'pass it after the script: stap-gen SCRIPT ' +
                        ' '.join(f'ARG{i}' for i in range(1, n + 1)))
        if tok.value[0] == '@':
            return [_retyped(tok, 'STRING', args[n - 1])]
        toks = tokens_of(Source(f'<argument {tok.value}>', args[n - 1]))
        if not toks:
            raise error(f"script argument {tok.value} is empty", self._pos(tok),
                        hint=f'use @{n} for its text as a string')
        return toks

    def _pos(self, tok: Any) -> Any:
        return position(tok, self.source)

    def token(self) -> Any:
        tok = self._token()
        if tok is not None and tok.type == 'STRING':
            # "a" "b" is "ab", as in C
            while True:
                nxt = self._token()
                if nxt is None or nxt.type != 'STRING':
                    if nxt is not None:
                        self.pending.insert(0, nxt)
                    break
                tok = _retyped(tok, 'STRING', tok.value + nxt.value)
        return tok

    def _token(self) -> Any:
        while True:
            tok = self._raw()
            if tok is None:
                return None
            if tok.type == 'ARG':
                self.pending[0:0] = self._argument(tok)
            elif tok.type == 'PP_IF':
                self.pending[0:0] = self._conditional(tok)
            elif tok.type == 'AT_IDENT' and tok.value == '@define':
                self._define(tok)
            elif tok.type == 'AT_IDENT' and tok.value in RESERVED:
                return tok
            elif tok.type == 'AT_IDENT':
                macro = self.macros.get(tok.value[1:])
                if macro is None:
                    raise error(f"unknown macro '{tok.value}'", self._pos(tok),
                                width=len(tok.value),
                                hint='define it first: @define NAME %( ... %)')
                self.depth += 1
                if self.depth > 1000:
                    raise error('macro expansion does not end', self._pos(tok))
                self.pending[0:0] = self._expand(tok, macro)
            elif tok.type in ('PP_THEN', 'PP_ELSE', 'PP_END'):
                raise error(f"'{tok.value}' outside a %( ... %) conditional", self._pos(tok))
            else:
                return tok

    def _until_end(self, start: Any, stops: tuple) -> tuple:
        """Tokens up to the first of stops at nesting 0, and that stop token."""
        out: List[Any] = []
        depth = 0
        while True:
            tok = self._raw()
            if tok is None:
                raise error('%( is never closed with %)', self._pos(start))
            if tok.type == 'PP_IF':
                depth += 1
            elif tok.type == 'PP_END' and depth:
                depth -= 1
            elif depth == 0 and tok.type in stops:
                return out, tok
            out.append(tok)

    def _define(self, tok: Any) -> None:
        name = self._raw()
        if name is None or name.type != 'IDENT':
            raise error('@define needs a name', self._pos(tok))
        opener = self._raw()
        params: Optional[List[str]] = None
        if opener is not None and opener.type == '(':
            params = []
            while True:
                p = self._raw()
                if p is not None and p.type == ')' and not params:
                    break
                if p is None or p.type != 'IDENT':
                    raise error(f'@define {name.value}(...): a parameter name expected',
                                self._pos(p or opener))
                if p.value in params:
                    raise error(f"@define {name.value}: parameter '{p.value}' is given twice",
                                self._pos(p))
                params.append(p.value)
                sep = self._raw()
                if sep is not None and sep.type == ')':
                    break
                if sep is None or sep.type != ',':
                    raise error(f"@define {name.value}(...): ',' or ')' expected",
                                self._pos(sep or p))
            opener = self._raw()
        if opener is None or opener.type != 'PP_IF':
            raise error(f'@define {name.value} needs a body in %( ... %)', self._pos(name),
                        hint=f'@define {name.value} %( tokens %)')
        body, _ = self._until_end(opener, ('PP_END',))
        for t in body:      # used in another file, it still says where it was written
            if not hasattr(t, 'source'):
                t.source = self.source
        self.macros[name.value] = Macro(params, body)

    def _expand(self, use: Any, macro: Macro) -> List[Any]:
        """The tokens of one use of a macro, its arguments put in."""
        if macro.params is None:
            return list(macro.body)
        opener = self._raw()
        if opener is None or opener.type != '(':
            raise error(f"macro '{use.value}' takes {len(macro.params)} argument(s)",
                        self._pos(use), width=len(use.value),
                        hint=f"{use.value}({', '.join(macro.params)})")
        args: List[List[Any]] = [[]]
        depth = 0
        while True:
            tok = self._raw()
            if tok is None:
                raise error(f"the arguments of '{use.value}' are not closed with ')'",
                            self._pos(opener))
            if tok.type in ('(', '[', '{'):
                depth += 1
            elif tok.type in (')', ']', '}'):
                if depth == 0 and tok.type == ')':
                    break
                if depth == 0:
                    raise error(f"the arguments of '{use.value}' are not closed with ')'",
                                self._pos(opener))
                depth -= 1
            elif tok.type == ',' and depth == 0:
                args.append([])
                continue
            args[-1].append(tok)
        if args == [[]]:
            args = []
        if len(args) != len(macro.params):
            raise error(f"macro '{use.value}' takes {len(macro.params)} argument(s), "
                        f"{len(args)} given", self._pos(use), width=len(use.value))
        bound = dict(zip(macro.params, args))
        out: List[Any] = []
        for tok in macro.body:
            if tok.type == 'AT_IDENT' and tok.value[1:] in bound:
                arg = list(bound[tok.value[1:]])
                if out and out[-1].type == 'ARROW' and arg and arg[0].type in KEYWORD_TYPES:
                    # ->@member with member 'next': a member name, as after '->'
                    arg[0] = _retyped(arg[0], 'IDENT', arg[0].value)
                out.extend(arg)
            else:
                out.append(tok)
        return out

    def _conditional(self, start: Any) -> List[Any]:
        cond, stop = self._until_end(start, ('PP_THEN',))
        value = self._evaluate(cond, start)
        then, stop = self._until_end(start, ('PP_ELSE', 'PP_END'))
        other: List[Any] = []
        if stop.type == 'PP_ELSE':
            other, _ = self._until_end(start, ('PP_END',))
        return then if value else other

    # -- conditions -------------------------------------------------------------
    def _evaluate(self, toks: List[Any], start: Any) -> bool:
        expanded: List[Any] = []
        for tok in toks:
            expanded += self._argument(tok) if tok.type == 'ARG' else [tok]
        toks = expanded
        self._toks = toks
        self._i = 0
        if not toks:
            raise error('empty %( condition', self._pos(start))
        value = self._or()
        if self._i != len(toks):
            raise error(f"unexpected '{toks[self._i].value}' in a %( condition",
                        self._pos(toks[self._i]))
        return value

    def _peek(self) -> Optional[Any]:
        return self._toks[self._i] if self._i < len(self._toks) else None

    def _peek_type(self) -> Optional[str]:
        tok = self._peek()
        return tok.type if tok is not None else None

    def _next(self, what: str) -> Any:
        tok = self._peek()
        if tok is None:
            last = self._toks[-1]
            raise error(f'incomplete %( condition: {what} expected', self._pos(last))
        self._i += 1
        return tok

    def _or(self) -> bool:
        v = self._and()
        while self._peek_type() == 'OROR':
            self._i += 1
            v = self._and() or v
        return v

    def _and(self) -> bool:
        v = self._term()
        while self._peek_type() == 'ANDAND':
            self._i += 1
            v = self._term() and v
        return v

    def _term(self) -> bool:
        tok = self._next('a comparison')
        if tok.type == '!':
            return not self._term()
        if tok.type == '(':
            v = self._or()
            close = self._next("')'")
            if close.type != ')':
                raise error("')' expected", self._pos(close))
            return v
        if tok.type not in ('IDENT', 'NUMBER', 'STRING'):
            raise error(f"a name (kernel_v, kernel_vr, arch, CONFIG_...) or a value "
                        f"expected, not '{tok.value}'", self._pos(tok))
        op = self._next('a comparison operator')
        if op.type not in _COND_OPS:
            raise error(f"a comparison operator expected, not '{op.value}'", self._pos(op))
        rhs = self._next('a value')
        if rhs.type not in ('STRING', 'NUMBER'):
            raise error('a string or number expected', self._pos(rhs))
        return self._compare(tok, _COND_OPS[op.type], rhs)

    def _compare(self, name_tok: Any, op: str, rhs_tok: Any) -> bool:
        rhs = str(rhs_tok.value)
        if name_tok.type != 'IDENT':
            # a literal ($#, @1 put in): numbers compare as numbers
            if name_tok.type == 'NUMBER' and rhs_tok.type == 'NUMBER':
                a, b = name_tok.value, rhs_tok.value
                return {'==': a == b, '!=': a != b, '<': a < b, '>': a > b,
                        '<=': a <= b, '>=': a >= b}[op]
            if name_tok.type != rhs_tok.type:
                raise error('a number is compared with a string', self._pos(name_tok))
            a, b = str(name_tok.value), rhs
            return {'==': a == b, '!=': a != b, '<': a < b, '>': a > b,
                    '<=': a <= b, '>=': a >= b}[op]
        name = name_tok.value
        if name == 'systemtap_v':
            lhs: Optional[str] = SYSTEMTAP_V
        elif name in KIT_FACTS:
            lhs = KIT_FACTS[name]
        else:
            lhs = self.facts(name)
        if lhs is None:
            if not name.startswith('CONFIG_'):
                raise error(f"unknown name '{name}' in a %( condition", self._pos(name_tok),
                            hint='kernel_v, kernel_vr, arch, systemtap_v or CONFIG_*')
            lhs = ''                    # an option this kernel does not have
        if op in ('==', '!='):
            same = fnmatch.fnmatchcase(lhs, rhs)
            return same if op == '==' else not same
        if name in ('kernel_v', 'kernel_vr', 'systemtap_v'):
            a, b = _version_key(lhs), _version_key(rhs)
        elif lhs.lstrip('-').isdigit() and rhs.lstrip('-').isdigit():
            a, b = int(lhs), int(rhs)   # type: ignore[assignment]
        else:
            a, b = lhs, rhs             # type: ignore[assignment]
        try:
            return {'<': a < b, '>': a > b, '<=': a <= b, '>=': a >= b}[op]
        except TypeError:
            return {'<': str(a) < str(b), '>': str(a) > str(b),
                    '<=': str(a) <= str(b), '>=': str(a) >= str(b)}[op]


def _retyped(tok: Any, typ: str, value: Any) -> Any:
    out = copy.copy(tok)
    out.type, out.value = typ, value
    return out
