# SPDX-License-Identifier: GPL-2.0
"""The script grammar (ply.yacc) producing stapgen.nodes.

The grammar follows SystemTap's: probes, globals and functions at the top
level; C-like statements and expressions with C's precedence, plus the
string concatenation operator `.` and the `in` membership test.
"""

from __future__ import annotations

import copy
import fnmatch
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Set, Tuple

import ply.yacc as yacc

from . import elide
from . import nodes as n
from . import overload
from .. import paths
from ..diag import Pos, Source, StapError, error
from .lexer import Lexer, tokens  # noqa: F401  (ply reads `tokens`)
from .preprocess import Macro, Preprocessor

precedence = (
    ('right', 'ASSIGNOP', '=', 'AGG_ADD'),
    ('right', '?', ':'),
    ('left', 'OROR'),
    ('left', 'ANDAND'),
    ('left', '|'),
    ('left', '^'),
    ('left', '&'),
    ('left', 'EQ', 'NE', 'MATCH', 'NOMATCH'),
    ('left', '<', '>', 'LE', 'GE'),
    ('left', 'IN'),
    ('left', 'SHL', 'SHR'),
    ('left', '.'),
    ('left', '+', '-'),
    ('left', '*', '/', '%'),
    ('right', 'UNARY', '!', '~'),
    ('left', 'INC', 'DEC'),
    # a target's [i] and ->m bind tighter than & before it: &@cast(p, "t")[1]
    ('left', '[', 'ARROW'),
)

_source: Source


def _pos(p: Any, i: int) -> Pos:
    # a token from a script argument or a tapset macro carries its own text
    src = getattr(p.slice[i], 'source', None) or _source
    return src.position(p.lexpos(i))


# -- top level --------------------------------------------------------------

def p_script(p: Any) -> None:
    '''script : script toplevel
              | empty'''
    if len(p) == 2:
        p[0] = n.Script([], [], [])
        return
    script, item = p[1], p[2]
    if isinstance(item, n.Probe):
        script.probes.append(item)
    elif isinstance(item, n.Alias):
        script.aliases.append(item)
    elif isinstance(item, n.Function):
        script.functions.append(item)
    elif isinstance(item, n.Embedded):
        script.embedded.append(item)
    else:
        script.globals.extend(item)
    p[0] = script


def p_empty(p: Any) -> None:
    'empty :'


def p_toplevel(p: Any) -> None:
    '''toplevel : probe
                | function
                | global
                | PRIVATE function
                | PRIVATE global
                | embedded'''
    # private limits a name to its file; a script is one file, so it
    # changes nothing here
    p[0] = p[len(p) - 1]


def p_embedded(p: Any) -> None:
    'embedded : EMBEDDED'
    p[0] = n.Embedded(_pos(p, 1), p[1])


def p_probe(p: Any) -> None:
    '''probe : PROBE probepoints block
             | PROBE probepoints IF '(' expr ')' block'''
    if len(p) == 4:
        p[0] = n.Probe(_pos(p, 1), p[2], p[3])
    else:
        p[0] = n.Probe(_pos(p, 1), p[2], p[7], condition=p[5])


def p_alias(p: Any) -> None:
    '''probe : PROBE components '=' probepoints block
             | PROBE components ASSIGNOP probepoints block'''
    if p[3] not in ('=', '+='):
        raise error(f"a probe alias is defined with = or +=, not {p[3]}", _pos(p, 3))
    if len(p[2]) != 1:
        raise error('a probe alias defines one name: braces belong on the right of =',
                    p[2][0][0][0].pos)
    comps = p[2][0][0]
    if any(c.arg is not None for c in comps):
        raise error('a probe alias name has no arguments', comps[0].pos)
    name = '.'.join(c.name for c in comps)
    p[0] = n.Alias(comps[0].pos, name, p[4], p[5], epilogue=p[3] == '+=')


def p_probepoints(p: Any) -> None:
    '''probepoints : probepoint
                   | probepoints ',' probepoint'''
    p[0] = p[1] if len(p) == 2 else p[1] + p[3]


def p_probepoint(p: Any) -> None:
    '''probepoint : components
                  | components '?'
                  | components '!' '''
    # one point per alternative of its brace groups; a mark inside a group
    # (kernel.{trace("a")!, trace("b")}) is that alternative's
    mark = p[2] if len(p) == 3 else ''
    p[0] = [n.ProbePoint(alt[0].pos, alt, optional=bool(m or mark),
                         sufficient=(m or mark) == '!')
            for alt, m in p[1]]


def p_components(p: Any) -> None:
    '''components : compgroup
                  | components '.' compgroup'''
    # a list of alternatives, each (components, mark):
    # a.{b,c?}.d is [([a, b, d], ''), ([a, c, d], '?')]
    if len(p) == 2:
        p[0] = p[1]
    else:
        p[0] = [(head + tail, hm or tm) for head, hm in p[1] for tail, tm in p[3]]
    if len(p[0]) > 10000:
        raise error('brace expansion makes more than 10000 probe points',
                    p[0][0][0][0].pos)


def p_compgroup(p: Any) -> None:
    '''compgroup : component
                 | '{' compalts '}' '''
    p[0] = [([p[1]], '')] if len(p) == 2 else p[2]


def p_compalts(p: Any) -> None:
    '''compalts : compalt
                | compalts ',' compalt'''
    p[0] = p[1] if len(p) == 2 else p[1] + p[3]


def p_compalt(p: Any) -> None:
    '''compalt : components
               | components '?'
               | components '!' '''
    mark = p[2] if len(p) == 3 else ''
    p[0] = [(comps, m or mark) for comps, m in p[1]]


def p_component(p: Any) -> None:
    '''component : compname
                 | compname '(' STRING ')'
                 | compname '(' NUMBER ')'
                 | compname '(' '-' NUMBER ')' '''
    arg = p[3] if len(p) == 5 else -p[4] if len(p) == 6 else None
    name, pos, _ = p[1]
    p[0] = n.Component(pos, name, arg)


def p_compname(p: Any) -> None:
    '''compname : namepiece
                | compname namepiece'''
    # a name may hold * (syscall.*, netfilter.*.*, *execve), written as one word
    if len(p) == 2:
        p[0] = p[1]
        return
    (text, pos, end), (more, mpos, mend) = p[1], p[2]
    if mpos.source is not pos.source or mend - len(more) != end:
        raise error(f"syntax error: unexpected '{more}'", mpos, width=len(more),
                    hint='a probe point name with * is written without spaces')
    p[0] = (text + more, pos, mend)


def p_namepiece(p: Any) -> None:
    '''namepiece : IDENT
                 | FUNCTION
                 | RETURN
                 | '*' '''
    p[0] = (p[1], _pos(p, 1), p.lexpos(1) + len(p[1]))


def p_global(p: Any) -> None:
    'global : GLOBAL globaldecls optsemi'
    p[0] = p[2]


def p_optsemi(p: Any) -> None:
    '''optsemi : ';'
               | empty'''


def p_globaldecls(p: Any) -> None:
    '''globaldecls : globaldecl
                   | globaldecls ',' globaldecl'''
    p[0] = [p[1]] if len(p) == 2 else p[1] + [p[3]]


def p_globaldecl(p: Any) -> None:
    '''globaldecl : IDENT
                  | IDENT '[' NUMBER ']'
                  | IDENT '%'
                  | IDENT '%' '[' NUMBER ']'
                  | IDENT '[' NUMBER ']' '%'
                  | IDENT '=' literal'''
    g = n.Global(_pos(p, 1), p[1])
    toks = [p[i] for i in range(2, len(p))]
    if '=' in toks:
        g.init = p[3]
    else:
        g.wrap = '%' in toks
        sizes = [t for t in toks if isinstance(t, int)]
        if sizes:
            g.size = sizes[0]
            if g.size <= 0:
                raise error(f"global '{g.name}': an array holds at least one entry",
                            _pos(p, 1))
        elif g.wrap:
            g.size = 0              # the default MAXMAPENTRIES, wrapping
    p[0] = g


def p_literal(p: Any) -> None:
    '''literal : NUMBER
               | '-' NUMBER
               | STRING'''
    if len(p) == 3:
        p[0] = n.Number(_pos(p, 1), -p[2])
    elif isinstance(p[1], int):
        p[0] = n.Number(_pos(p, 1), p[1])
    else:
        p[0] = n.String(_pos(p, 1), p[1])


def p_function(p: Any) -> None:
    '''function : FUNCTION IDENT '(' params ')' rettype funcbody
                | FUNCTION IDENT ':' IDENT '(' params ')' funcbody'''
    if len(p) == 8:
        f = n.Function(_pos(p, 2), p[2], p[4], p[6], p[7])
    else:
        f = n.Function(_pos(p, 2), p[2], p[6], _type_name(p, 4), p[8])
    if isinstance(f.body, n.Embedded):
        f.embedded, f.body = f.body, n.Block(f.body.pos, [])
    p[0] = f


def p_funcbody(p: Any) -> None:
    '''funcbody : block
                | embedded'''
    p[0] = p[1]


def p_rettype(p: Any) -> None:
    '''rettype : ':' IDENT
               | empty'''
    p[0] = _type_name(p, 2) if len(p) == 3 else None


def _type_name(p: Any, i: int) -> str:
    if p[i] not in (n.LONG, n.STRING):
        raise error(f'unknown type {p[i]!r}', _pos(p, i),
                    hint="types are 'long' and 'string'")
    return str(p[i])


def p_params(p: Any) -> None:
    '''params : empty
              | paramlist'''
    p[0] = p[1] or []


def p_paramlist(p: Any) -> None:
    '''paramlist : param
                 | paramlist ',' param'''
    p[0] = [p[1]] if len(p) == 2 else p[1] + [p[3]]


def p_param(p: Any) -> None:
    '''param : IDENT
             | IDENT ':' IDENT'''
    p[0] = n.Param(_pos(p, 1), p[1], _type_name(p, 3) if len(p) == 4 else None)


# -- statements -------------------------------------------------------------

def p_block(p: Any) -> None:
    "block : '{' stmts '}'"
    p[0] = n.Block(_pos(p, 1), p[2])


def p_stmts(p: Any) -> None:
    '''stmts : empty
             | stmts stmt'''
    p[0] = [] if len(p) == 2 else p[1] + ([p[2]] if p[2] else [])


def p_stmt_block(p: Any) -> None:
    'stmt : block'
    p[0] = p[1]


def p_stmt_empty(p: Any) -> None:
    "stmt : ';'"
    p[0] = None


def p_stmt_expr(p: Any) -> None:
    '''stmt : expr ';'
            | expr'''
    e = p[1]
    if isinstance(e, n.Ternary):
        # c ? printf(a) : printf(b) as a statement: one branch runs, its
        # value unused, so the branches need have none
        p[0] = n.If(e.pos, e.cond, n.ExprStmt(e.then.pos, e.then),
                    n.ExprStmt(e.other.pos, e.other))
        return
    p[0] = n.ExprStmt(e.pos, e)


def p_stmt_if(p: Any) -> None:
    '''stmt : IF '(' expr ')' stmt
            | IF '(' expr ')' stmt ELSE stmt'''
    p[0] = n.If(_pos(p, 1), p[3], p[5] or n.Block(_pos(p, 1), []),
                (p[7] or n.Block(_pos(p, 6), [])) if len(p) == 8 else None)


def p_stmt_while(p: Any) -> None:
    "stmt : WHILE '(' expr ')' stmt"
    p[0] = n.While(_pos(p, 1), p[3], p[5] or n.Block(_pos(p, 1), []))


def p_stmt_for(p: Any) -> None:
    "stmt : FOR '(' optexpr ';' optexpr ';' optexpr ')' stmt"
    p[0] = n.For(_pos(p, 1), p[3], p[5], p[7], p[9] or n.Block(_pos(p, 1), []))


def p_optexpr(p: Any) -> None:
    '''optexpr : expr
               | empty'''
    p[0] = p[1]


def p_stmt_foreach(p: Any) -> None:
    '''stmt : FOREACH '(' foreachvars IN foreacharray sortop optlimit ')' stmt
            | FOREACH '(' foreachvars IN foreacharray AT_IDENT sortop optlimit ')' stmt
            | FOREACH '(' foreachvars IN foreacharray AT_IDENT optlimit ')' stmt
            | FOREACH '(' foreachvars IN foreacharray optlimit ')' stmt'''
    value, keys, key_sort, key_desc = p[3]
    array, array_pos, keyslice = p[5]
    agg = ''
    rest = [p[i] for i in range(6, len(p))]
    if isinstance(rest[0], str) and rest[0].startswith('@'):
        agg = rest.pop(0)[1:]
        if agg not in ('count', 'sum', 'min', 'max', 'avg'):
            raise error(f"'@{agg}': foreach sorts an aggregate by @count, @sum, @min, "
                        '@max or @avg', _pos(p, 6))
    if isinstance(rest[0], bool):
        if key_sort:
            raise error('cannot sort by both a key and the value', _pos(p, 6))
        sort_key, sort_desc, limit, body = -1, rest[0], rest[1], rest[3]
    else:
        sort_key, sort_desc, limit, body = key_sort, key_desc, rest[0], rest[2]
    p[0] = n.Foreach(_pos(p, 1), keys, value, array, sort_key, sort_desc, limit,
                     body or n.Block(_pos(p, 1), []), array_pos=array_pos, sort_agg=agg,
                     slice=keyslice)


def p_foreacharray(p: Any) -> None:
    '''foreacharray : IDENT
                    | IDENT '[' keylist ']' '''
    # foreach ([a, b] in arr[x, *]): only the entries whose keys match
    p[0] = (p[1], _pos(p, 1), p[3] if len(p) == 5 else None)


def p_foreachvars(p: Any) -> None:
    '''foreachvars : keyvars
                   | IDENT '=' keyvars'''
    if len(p) == 2:
        p[0] = (None,) + p[1]
    else:
        p[0] = (p[1],) + p[3]


def p_keyvars(p: Any) -> None:
    '''keyvars : keyvar
               | '[' keyvarlist ']' '''
    items = [p[1]] if len(p) == 2 else p[2]
    names = [name for name, _ in items]
    sorted_keys = [(i + 1, desc) for i, (_, desc) in enumerate(items) if desc is not None]
    if len(sorted_keys) > 1:
        raise error('only one key can be sorted on', _pos(p, 1))
    key, desc = sorted_keys[0] if sorted_keys else (0, False)
    p[0] = (names, key, desc)


def p_keyvarlist(p: Any) -> None:
    '''keyvarlist : keyvar
                  | keyvarlist ',' keyvar'''
    p[0] = [p[1]] if len(p) == 2 else p[1] + [p[3]]


def p_keyvar(p: Any) -> None:
    '''keyvar : IDENT
              | IDENT sortop'''
    p[0] = (p[1], p[2] if len(p) == 3 else None)


def p_sortop(p: Any) -> None:
    '''sortop : '+'
              | '-' '''
    p[0] = p[1] == '-'


def p_optlimit(p: Any) -> None:
    '''optlimit : IDENT expr
                | empty'''
    # `limit` is a keyword only here, so scripts may use it as a name
    if len(p) == 3 and p[1] != 'limit':
        raise error(f"syntax error: unexpected identifier '{p[1]}'", _pos(p, 1),
                    hint="a foreach header ends with ')' or 'limit N'")
    p[0] = p[2] if len(p) == 3 else None


def p_stmt_delete(p: Any) -> None:
    '''stmt : DELETE lvalue ';'
            | DELETE lvalue'''
    p[0] = n.Delete(_pos(p, 1), p[2])


def p_stmt_jump(p: Any) -> None:
    '''stmt : BREAK optsemi
            | CONTINUE optsemi
            | NEXT optsemi'''
    p[0] = n.Jump(_pos(p, 1), p[1])


def p_stmt_try(p: Any) -> None:
    '''stmt : TRY block CATCH block
            | TRY block CATCH '(' IDENT ')' block'''
    if len(p) == 5:
        p[0] = n.Try(_pos(p, 1), p[2], None, p[4])
    else:
        p[0] = n.Try(_pos(p, 1), p[2], p[5], p[7])


def p_stmt_return(p: Any) -> None:
    '''stmt : RETURN ';'
            | RETURN expr ';'
            | RETURN expr'''
    value = p[2] if len(p) >= 3 and not isinstance(p[2], str) else None
    p[0] = n.Return(_pos(p, 1), value)


# -- expressions ------------------------------------------------------------

def p_expr_assign(p: Any) -> None:
    '''expr : lvalue '=' expr
            | lvalue ASSIGNOP expr
            | target '=' expr
            | target ASSIGNOP expr'''
    p[0] = n.Assign(_pos(p, 2), p[2], p[1], p[3])


def p_expr_embedded(p: Any) -> None:
    '''expr : EMBEDDED'''
    e = n.EmbeddedExpr(_pos(p, 1), p[1])
    p[0] = e


def p_expr_aggadd(p: Any) -> None:
    '''expr : lvalue AGG_ADD expr'''
    p[0] = n.AggAdd(_pos(p, 2), p[1], p[3])


def p_target_at(p: Any) -> None:
    '''target : AT_IDENT '(' exprlist ')' '''
    name = p[1][1:]
    args = p[3]
    pos = _pos(p, 1)
    if name in ('entry', 'defined'):
        if len(args) != 1:
            raise error(f'{p[1]} takes one expression', pos)
        if name == 'defined' and _chosen(args[0]):
            p[0] = _defined_of(args[0], pos)
            return
        if name == 'defined' and not isinstance(args[0], (n.Target, n.Entry)):
            raise error('@defined takes a target expression ($var, @cast, @var)', pos)
        p[0] = (n.Entry if name == 'entry' else n.Defined)(pos, args[0])
        return
    if name == 'choose_defined':
        # @choose_defined(A, B): A where the target expression A resolves, else B
        if len(args) != 2:
            raise error('@choose_defined takes two expressions', pos)
        a = args[0]
        if not isinstance(a, (n.Target, n.Entry)) and not _chosen(a):
            raise error('@choose_defined takes a target expression ($var, @cast, @var) first',
                        pos)
        p[0] = n.Ternary(pos, _defined_of(a, pos), a, args[1], chosen=True)
        return
    if name == 'cast':
        if len(args) not in (2, 3) or not all(isinstance(a, n.String) for a in args[1:]):
            raise error('@cast takes a pointer and a type in quotes, '
                        'and optionally a module', pos,
                        hint='@cast(ptr, "struct task_struct")->comm')
        p[0] = n.Target(pos, '@cast', operand=args[0], type_name=args[1].value,
                        module=args[2].value if len(args) == 3 else '')
        return
    if name == 'var':
        if len(args) not in (1, 2) or not all(isinstance(a, n.String) for a in args):
            raise error('@var takes a variable name in quotes: @var("name") or '
                        '@var("name@file.c")', pos)
        p[0] = n.Target(pos, '@var', type_name=args[0].value)
        return
    if name not in ('count', 'sum', 'min', 'max', 'avg', 'variance', 'hist_log',
                    'hist_linear'):
        raise error(f"'{p[1]}' is not supported yet", pos, width=len(p[1]))
    want = (4,) if name == 'hist_linear' else (1, 2) if name == 'variance' else (1,)
    if len(args) not in want or not isinstance(args[0], (n.Var, n.Index)):
        raise error(f"{p[1]} takes an aggregate variable" +
                    (' and lo, hi, step' if name == 'hist_linear' else
                     ' and optionally a bit shift' if name == 'variance' else ''), pos)
    p[0] = n.StatOp(pos, name, args[0], args[1:])


def p_target_var(p: Any) -> None:
    '''target : TARGET'''
    text = p[1]
    base = text.rstrip('$')
    if text.startswith('$$'):
        base = '$$' + text[2:].rstrip('$')
    pretty = text[len(base):]
    if base.startswith('$$') and base not in ('$$parms', '$$locals', '$$vars', '$$return',
                                              '$$name'):
        raise error(f"unknown target '{base}'", _pos(p, 1), width=len(text),
                    hint='$$parms, $$locals, $$vars and $$return list variables; '
                         '$$name is a tracepoint\'s name')
    if len(pretty) > 2:
        raise error(f"'{text}': at most $$ after a target", _pos(p, 1), width=len(text))
    p[0] = n.Target(_pos(p, 1), base, pretty=pretty)


def _walkable(p: Any, what: str) -> n.Target:
    t = p[1]
    if not isinstance(t, n.Target) or t.base.startswith('$$') or t.pretty:
        raise error(f'{what} applies to a target variable ($var, @cast, @var)',
                    _pos(p, 2))
    return t


def _chosen(t: Any) -> bool:
    """Whether t is what @choose_defined(A, B) made: A if @defined(A) else B."""
    return isinstance(t, n.Ternary) and t.chosen


def _defined_of(t: Any, pos: Pos) -> n.Expr:
    """@defined(t); of @choose_defined(A, B), whether either resolves.  It
    refers to t's targets themselves, so a ->member added to them later
    is asked about too."""
    if _chosen(t):
        return n.Binary(pos, '||', _defined_of(t.then, pos), _defined_of(t.other, pos))
    return n.Defined(pos, t)


def _step(p: Any, what: str, step: n.Step) -> None:
    """p[1] followed by step; @choose_defined(A, B)->m is A->m where A
    resolves, else B->m."""
    def add(t: Any, s: n.Step) -> None:
        if _chosen(t):
            add(t.then, s)
            add(t.other, copy.deepcopy(s))
        elif isinstance(t, n.Target) and not t.base.startswith('$$') and not t.pretty:
            t.steps.append(s)
        else:
            raise error(f'{what} applies to a target variable ($var, @cast, @var)',
                        _pos(p, 2))
    add(p[1], step)
    p[0] = p[1]


def p_target_member(p: Any) -> None:
    '''target : target ARROW IDENT'''
    _step(p, '->', n.Step(_pos(p, 3), member=p[3]))


def p_target_index(p: Any) -> None:
    '''target : target '[' expr ']' '''
    _step(p, '[...]', n.Step(_pos(p, 2), index=p[3]))


def p_target_pretty(p: Any) -> None:
    '''target : target DOLLARS'''
    t = _walkable(p, 'a trailing $')
    if len(p[2]) > 2:
        raise error('at most $$ after a target', _pos(p, 2))
    t.pretty = p[2]
    p[0] = t


def p_expr_target(p: Any) -> None:
    '''expr : target'''
    p[0] = p[1]


def p_expr_address_of(p: Any) -> None:
    '''expr : '&' target %prec UNARY'''
    t = p[2]
    if not isinstance(t, n.Target) or t.base.startswith('$$') or t.pretty or \
            t.base == '$return':
        raise error('& takes a target variable or member', _pos(p, 1))
    t.address_of = True
    p[0] = t


def p_expr_ternary(p: Any) -> None:
    "expr : expr '?' expr ':' expr"
    p[0] = n.Ternary(_pos(p, 2), p[1], p[3], p[5])


def p_expr_binary(p: Any) -> None:
    '''expr : expr OROR expr
            | expr ANDAND expr
            | expr '|' expr
            | expr '^' expr
            | expr '&' expr
            | expr EQ expr
            | expr NE expr
            | expr MATCH expr
            | expr NOMATCH expr
            | expr '<' expr
            | expr '>' expr
            | expr LE expr
            | expr GE expr
            | expr SHL expr
            | expr SHR expr
            | expr '.' expr
            | expr '+' expr
            | expr '-' expr
            | expr '*' expr
            | expr '/' expr
            | expr '%' expr'''
    p[0] = n.Binary(_pos(p, 2), p[2], p[1], p[3])


def p_expr_in(p: Any) -> None:
    '''expr : expr IN IDENT
            | '[' keylist ']' IN IDENT'''
    if len(p) == 4:
        p[0] = n.InArray(p[1].pos, [p[1]], p[3])
    else:
        p[0] = n.InArray(_pos(p, 1), p[2], p[5])


def p_expr_unary(p: Any) -> None:
    '''expr : '-' expr %prec UNARY
            | '+' expr %prec UNARY
            | '!' expr
            | '~' expr
            | NOMATCH expr %prec UNARY'''
    if p[1] == '!~':            # !~x, written without a space: !(~x)
        pos = _pos(p, 1)
        p[0] = n.Unary(pos, '!', n.Unary(Pos(pos.source, pos.line, pos.col + 1), '~', p[2]))
        return
    p[0] = n.Unary(_pos(p, 1), p[1], p[2])


def p_expr_incdec(p: Any) -> None:
    '''expr : INC expr %prec UNARY
            | DEC expr %prec UNARY
            | lvalue INC
            | lvalue DEC
            | '(' expr ')' INC
            | '(' expr ')' DEC'''
    # the operand is an lvalue, maybe parenthesised: (a[k])--
    if isinstance(p[1], str) and p[1] != '(':
        target, pos = p[2], _pos(p, 1)
        p[0] = n.IncDec(pos, p[1], True, target)
    elif p[1] == '(':
        target, pos = p[2], _pos(p, 1)
        p[0] = n.IncDec(pos, p[4], False, target)
    else:
        target, pos = p[1], p[1].pos
        p[0] = n.IncDec(pos, p[2], False, target)
    if not isinstance(target, (n.Var, n.Index)):
        raise error(f"{'++' if p[0].op == '++' else '--'} needs a variable or an array "
                    'element', target.pos)


def p_expr_paren(p: Any) -> None:
    "expr : '(' expr ')'"
    p[0] = p[2]


def p_expr_number(p: Any) -> None:
    'expr : NUMBER'
    p[0] = n.Number(_pos(p, 1), p[1])


def p_expr_string(p: Any) -> None:
    'expr : STRING'
    p[0] = n.String(_pos(p, 1), p[1])


def p_expr_lvalue(p: Any) -> None:
    'expr : lvalue'
    p[0] = p[1]


def p_expr_call(p: Any) -> None:
    '''expr : IDENT '(' ')'
            | IDENT '(' exprlist ')' '''
    p[0] = n.Call(_pos(p, 1), p[1], p[3] if len(p) == 5 else [])


def p_lvalue(p: Any) -> None:
    '''lvalue : IDENT
              | IDENT '[' keylist ']' '''
    if len(p) == 2:
        p[0] = n.Var(_pos(p, 1), p[1])
    else:
        p[0] = n.Index(_pos(p, 1), p[1], p[3])


def p_keylist(p: Any) -> None:
    '''keylist : key
               | keylist ',' key'''
    p[0] = [p[1]] if len(p) == 2 else p[1] + [p[3]]


def p_key(p: Any) -> None:
    '''key : expr
           | '*' '''
    p[0] = n.Wildcard(_pos(p, 1)) if p[1] == '*' else p[1]


def p_exprlist(p: Any) -> None:
    '''exprlist : expr
                | exprlist ',' expr'''
    p[0] = [p[1]] if len(p) == 2 else p[1] + [p[3]]


def p_error(tok: Optional[Any]) -> None:
    if tok is None:
        end = len(_source.text.rstrip())
        raise error('unexpected end of input', _source.position(end),
                    hint='a block or parenthesis is not closed')
    what = {'IDENT': 'identifier', 'NUMBER': 'number', 'STRING': 'string'}.get(
        tok.type, None)
    shown = f"{what} '{tok.value}'" if what else f"'{tok.value}'"
    width = len(str(tok.value)) if tok.type != 'STRING' else len(tok.value) + 2
    raise error(f'syntax error: unexpected {shown}',
                (getattr(tok, 'source', None) or _source).position(tok.lexpos), width=width)


_parser = None


def _get_parser() -> Any:
    global _parser
    if _parser is None:
        # ply checks the grammar's signature in the pickle and rebuilds the
        # tables (half a second) only when the grammar changed.
        cache = paths.cache_dir() / 'ply'
        try:
            cache.mkdir(parents=True, exist_ok=True)
            pickle: Optional[str] = str(cache / 'stapgen-parsetab.pickle')
        except OSError:
            pickle = None
        module = __import__(__name__, fromlist=['*'])
        try:
            _parser = yacc.yacc(module=module, start='script', debug=False,
                                write_tables=pickle is not None, picklefile=pickle,
                                errorlog=yacc.NullLogger())
        except Exception:   # noqa: BLE001 - a real grammar error raises again below
            # the cached tables are being written by another stap-gen right now
            # (or are damaged): build them here and write nothing
            _parser = yacc.yacc(module=module, start='script', debug=False,
                                write_tables=False, errorlog=yacc.NullLogger())
    return _parser


def _no_tree(name: str) -> Optional[str]:
    raise error(f"'{name}' in a %( condition needs the target tree",
                hint='give -r KDIR (or --vmlinux with a tree beside it)')


def parse(source: Source, facts: Optional[Callable[[str], Optional[str]]] = None,
          args: Optional[List[str]] = None,
          macros: Optional[Dict[str, Macro]] = None,
          library: Optional['Library'] = None) -> n.Script:
    """Parse a whole script; raises StapError on the first syntax error.

    facts answers the preprocessor's questions about the target tree; args
    are the script's arguments ($1, @1, $#); macros come from tapsets'
    .stpm files; library is where functions, aliases and globals the script
    uses but does not define are looked for (tapsets).
    """
    script = parse_unit(source, facts, [] if args is None else args, macros)
    if library is not None:
        library.link(script)
    _shadowing_params(script)
    return _drop_unused_library(elide.elide(expand_aliases(overload.resolve(script))))


def _drop_unused_library(script: n.Script) -> n.Script:
    """A tapset file is taken in whole; its functions the script does not
    call (after the alias variables nothing reads are gone) are left out of
    the module."""
    funcs = {f.name: f for f in script.functions}
    roots: List[Any] = [script.probes, script.globals]
    roots += [f for f in script.functions if not f.library]
    used: Set[str] = set()
    todo = roots
    while todo:
        called = {c.name for c in n.walk(todo) if isinstance(c, n.Call)} - used
        used |= called
        todo = [funcs[name] for name in called if name in funcs]
    script.functions = [f for f in script.functions if not f.library or f.name in used]
    return script


def parse_unit(source: Source, facts: Optional[Callable[[str], Optional[str]]] = None,
               args: Optional[List[str]] = None,
               macros: Optional[Dict[str, Macro]] = None) -> n.Script:
    """One file's script, aliases not yet expanded."""
    global _source
    _source = source
    lexer = Preprocessor(Lexer(source), source, facts or _no_tree, args, macros)
    try:
        script: n.Script = _get_parser().parse(lexer=lexer, tracking=False)
    except StapError:
        raise
    except RecursionError:
        raise error('script nests too deeply', source.position(0)) from None
    return script


def parse_macros(source: Source, facts: Optional[Callable[[str], Optional[str]]] = None
                 ) -> Dict[str, Macro]:
    """The macros an .stpm file defines (it holds nothing else)."""
    pre = Preprocessor(Lexer(source), source, facts or _no_tree)
    tok = pre.token()
    if tok is not None:
        raise error('an .stpm file holds only @define macros',
                    source.position(tok.lexpos))
    return pre.macros


class Library:
    """Script files whose definitions a script may use (tapsets): a file is
    taken in when the script uses something it defines, with what it
    defines and probes, and so on for what that file uses."""

    def __init__(self, units: List[n.Script], trusted: bool = False,
                 generators: Optional[List['Generator']] = None) -> None:
        self.units = units
        self.trusted = trusted
        self.generators = generators or []
        if trusted:                 # tapsets may hold embedded C without -g
            for u in units:
                trust(u)

    def link(self, script: n.Script) -> None:
        taken: Set[int] = set()
        linked: List[n.Function] = []
        own: List[n.Script] = []        # units made for this script alone
        while True:
            wanted = _uses(script)
            defined = ({f.name for f in script.functions} | {a.name for a in script.aliases} |
                       {g.name for g in script.globals})
            for gen in self.generators:
                for u in gen.units(wanted - defined):
                    if self.trusted:
                        trust(u)
                    (own if u.one_script else self.units).append(u)
            more = [u for u in self.units + own if id(u) not in taken and
                    _provides(u, wanted - defined)]
            if not more:
                _keep_locals(script, linked)
                return
            for u in more:
                taken.add(id(u))
                # a function the script defines itself (name and arity) is its own;
                # one of another arity is an overload (overload.resolve)
                have = {(x.name, len(x.params)) for x in script.functions}
                new = [f for f in u.functions if (f.name, len(f.params)) not in have]
                for f in new:
                    f.library = True
                linked += new
                script.functions += new
                script.aliases += u.aliases
                for g in u.globals:
                    g.library = True
                script.globals += u.globals
                script.probes += u.probes
                script.embedded += u.embedded


def _keep_locals(script: n.Script, functions: List[n.Function]) -> None:
    """A tapset function's locals stay its own: a script's `global n` does
    not turn the `n` of a library function into that global (it sees the
    tapsets' globals only).  Such a local (or argument) is renamed out of
    the way."""
    mine = {g.name for g in script.globals if not g.library}
    for f in functions:
        _rename_locals(f, mine, '__tapset_')


def _shadowing_params(script: n.Script) -> None:
    """A function's argument named like a global is the argument there, as
    in SystemTap (tcp_trace.stp's state_num2str(state) beside its global
    array state; a tapset's __get_argv(argv) beside argv.stp's argv); it is
    renamed out of the way of the global."""
    names = {g.name for g in script.globals}
    for f in script.functions:
        _rename_locals(f, {p.name for p in f.params} & names, '__arg_', params_only=True)


def _rename_locals(f: n.Function, names: Set[str], prefix: str,
                   params_only: bool = False) -> None:
    """Rename, in f (not one in C: STAP_ARG_x names its argument), its
    locals in names, arguments included (with params_only, only those)."""
    if f.embedded is not None or not names:
        return
    if params_only:
        names = names & {p.name for p in f.params}

    def rename(name: str) -> str:
        return f'{prefix}{name}' if name in names else name

    def walk(node: Any) -> None:
        if isinstance(node, n.Var):
            node.name = rename(node.name)
        elif isinstance(node, n.Foreach):
            node.keys = [rename(k) for k in node.keys]
            node.value = node.value and rename(node.value)
        elif isinstance(node, n.Try) and node.var:
            node.var = rename(node.var)
        if isinstance(node, n.Node):
            for value in vars(node).values():
                if isinstance(value, (n.Node, list)):
                    walk(value)
        elif isinstance(node, list):
            for x in node:
                walk(x)

    for p in f.params:
        p.name = rename(p.name)
    walk(f.body)


class Generator(Protocol):
    """Tapsets made on demand (syscall.NAME from the tree's syscall table):
    units defining what of `wanted` it can make and has not made yet."""

    def units(self, wanted: Set[str]) -> List[n.Script]:
        ...

    def explain(self, point: str) -> Optional[Tuple[str, str]]:
        """Why a probe point it would make is not there (message, hint)."""
        ...

    def names(self) -> List[str]:
        """The probe aliases it can make for this tree (-l, --dump-probe-aliases)."""
        ...


def trust(unit: n.Script) -> None:
    """A tapset's embedded C needs no -g."""
    for b in unit.embedded:
        b.trusted = True
    for f in unit.functions:
        if f.embedded is not None:
            f.embedded.trusted = True
    _trust(unit)


def _trust(node: Any) -> None:
    if isinstance(node, (n.EmbeddedExpr, n.Call)):
        node.trusted = True
    if isinstance(node, (n.Node, n.Script)):
        for value in vars(node).values():
            if isinstance(value, (n.Node, list)):
                _trust(value)
    elif isinstance(node, list):
        for x in node:
            _trust(x)


def _provides(unit: n.Script, wanted: Set[str]) -> bool:
    # a call in a tapset function another script linked may already name an
    # overload (NAME__N)
    names = ({f.name for f in unit.functions} | {a.name for a in unit.aliases} |
             {g.name for g in unit.globals} |
             {overload.mangled(f.name, len(f.params)) for f in unit.functions})
    if names & wanted:
        return True
    patterns = [w for w in wanted if '*' in w]
    return any(fnmatch.fnmatchcase(a.name, pat) for a in unit.aliases for pat in patterns)


def _uses(script: n.Script) -> Set[str]:
    """The names a script refers to: functions it calls, probe points
    (as alias names) and variables (as globals)."""
    out: Set[str] = set()

    def walk(node: Any, out: Set[str] = out) -> None:
        if isinstance(node, n.Call):
            out.add(node.name)
        elif isinstance(node, n.Var):
            out.add(node.name)
        elif isinstance(node, (n.Index, n.InArray)):
            out.add(node.array)
        elif isinstance(node, n.Foreach):
            out.add(node.array)
        elif isinstance(node, n.StatOp):
            pass
        if isinstance(node, n.Node) or isinstance(node, n.Script):
            for value in vars(node).values():
                walk(value, out)
        elif isinstance(node, list):
            for x in node:
                walk(x, out)

    for pr in script.probes:
        for pt in pr.points:
            out.add('.'.join(c.name for c in pt.components))
        walk(pr.body)
        walk(pr.condition)
    for a in script.aliases:
        for pt in a.points:
            out.add('.'.join(c.name for c in pt.components))
        walk(a.body)
    for f in script.functions:
        inside: Set[str] = set()
        walk(f.body, inside)
        out |= inside - {p.name for p in f.params}     # an argument is no global
    return out


def expand_aliases(script: n.Script) -> n.Script:
    """Replace uses of probe aliases by their probe points and bodies.

    A probe naming an alias among other points becomes one probe per alias
    (its points, with the alias's prologue and epilogue around the body)
    and one for the other points; `syscall.*` names every alias it
    matches; an alias may name other aliases.
    """
    aliases: Dict[str, n.Alias] = {}
    for a in script.aliases:
        if a.name in aliases:
            raise error(f"probe alias '{a.name}' is defined twice", a.pos,
                        hint=f'first defined at {aliases[a.name].pos}')
        aliases[a.name] = a
    if not aliases:
        return script
    probes: List[n.Probe] = []
    for probe in script.probes:
        probes += _expand_probe(probe, aliases, 0)
    script.probes = probes
    return script


def _matching_aliases(pt: n.ProbePoint, aliases: Dict[str, n.Alias]) -> List[n.Alias]:
    if any(c.arg is not None for c in pt.components):
        return []
    name = '.'.join(c.name for c in pt.components)
    if name in aliases:
        return [aliases[name]]
    if '*' not in name:
        return []
    return [a for key, a in sorted(aliases.items()) if fnmatch.fnmatchcase(key, name)
            and key.count('.') == name.count('.')]


def _alias_with_suffix(pt: n.ProbePoint, aliases: Dict[str, n.Alias]
                       ) -> Tuple[List[n.Alias], List[n.Component]]:
    """ALIAS.SUFFIX: the alias the longest leading part of pt names, and
    the rest, which goes after each of its points (an alias of
    syscall.{open,close} probed as ALIAS.return probes their returns)."""
    comps = pt.components
    for k in range(len(comps) - 1, 0, -1):
        found = _matching_aliases(n.ProbePoint(pt.pos, comps[:k], pt.optional,
                                               pt.sufficient), aliases)
        if found:
            return found, comps[k:]
    return [], []


def _expand_probe(probe: n.Probe, aliases: Dict[str, n.Alias], depth: int) -> List[n.Probe]:
    if depth > 32:
        raise error('probe aliases name each other in a loop', probe.pos)
    plain: List[n.ProbePoint] = []
    out: List[n.Probe] = []
    for pt in probe.points:
        found = _matching_aliases(pt, aliases)
        suffix: List[n.Component] = []
        if not found:
            found, suffix = _alias_with_suffix(pt, aliases)
        if not found:
            plain.append(pt)
            continue
        for al in found:
            points = [n.ProbePoint(ap.pos, ap.components + suffix, ap.optional or pt.optional,
                                   ap.sufficient) for ap in al.points]
            body: List[n.Stmt] = [n.Block(al.body.pos, al.body.body, alias=True)] \
                if al.body.body else []
            stmts = body + probe.body.body if not al.epilogue else probe.body.body + body
            inner = n.Probe(probe.pos, points, n.Block(probe.body.pos, stmts),
                            probe.condition, probe.named or al.name,
                            probe.syscall_args or al.syscall_args)
            out += _expand_probe(inner, aliases, depth + 1)
    if plain:
        out.insert(0, n.Probe(probe.pos, plain, probe.body, probe.condition, probe.named,
                              probe.syscall_args))
    return out


def parse_file(path: Path, facts: Optional[Callable[[str], Optional[str]]] = None
               ) -> n.Script:
    try:
        text = path.read_text()
    except OSError as e:
        raise error(f'cannot read script {path}: {e.strerror}') from None
    except UnicodeDecodeError:
        raise error(f'script {path} is not UTF-8 text') from None
    return parse(Source(str(path), text), facts)
