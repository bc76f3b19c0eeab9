# SPDX-License-Identifier: GPL-2.0
"""Print a parsed script back as script text (-p1).

The output is canonical rather than a copy of the input: one statement a
line, tab indentation, every binary operation parenthesised, so that what
the parser understood (precedence, which `else` goes with which `if`) can
be read off and the output parses to the same tree again.
"""

from __future__ import annotations

from typing import List

from . import nodes as n


def _str(s: str) -> str:
    out = s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') \
           .replace('\t', '\\t')
    return '"' + ''.join(c if 32 <= ord(c) < 127 else f'\\{ord(c) & 0xff:03o}'
                         for c in out) + '"'


def expr(e: n.Expr, top: bool = False) -> str:
    """e as text; an assignment inside an expression is parenthesised."""
    if isinstance(e, (n.Assign, n.AggAdd)) and not top:
        return f'({expr(e, True)})'
    if isinstance(e, n.Number):
        if e.value == -(1 << 63):
            return '0x8000000000000000'
        return str(e.value) if e.value >= 0 else f'-({-e.value})'
    if isinstance(e, n.String):
        return _str(e.value)
    if isinstance(e, n.Var):
        return e.name
    if isinstance(e, n.Index):
        return f'{e.array}[{", ".join(expr(k) for k in e.keys)}]'
    if isinstance(e, n.Call):
        return f'{e.name}({", ".join(expr(a) for a in e.args)})'
    if isinstance(e, n.Unary):
        return f'{e.op}({expr(e.operand)})'
    if isinstance(e, n.Binary):
        return f'({expr(e.left)} {e.op} {expr(e.right)})'
    if isinstance(e, n.Ternary):
        return f'({expr(e.cond)} ? {expr(e.then)} : {expr(e.other)})'
    if isinstance(e, n.Assign):
        return f'{expr(e.target)} {e.op} {expr(e.value)}'
    if isinstance(e, n.IncDec):
        return f'{e.op}{expr(e.target)}' if e.prefix else f'{expr(e.target)}{e.op}'
    if isinstance(e, n.InArray):
        return f'([{", ".join(expr(k) for k in e.keys)}] in {e.array})'
    if isinstance(e, n.AggAdd):
        return f'{expr(e.target)} <<< {expr(e.value)}'
    if isinstance(e, n.StatOp):
        return f'@{e.op}({", ".join(expr(a) for a in [e.target, *e.args])})'
    if isinstance(e, n.Target):
        return _target(e)
    if isinstance(e, n.Entry):
        return f'@entry({expr(e.expr)})'
    if isinstance(e, n.Defined):
        return f'@defined({expr(e.expr)})'
    if isinstance(e, n.Wildcard):
        return '*'
    if isinstance(e, n.EmbeddedExpr):
        return '%{' + e.code + '%}'
    raise AssertionError(e)


def _target(e: n.Target) -> str:
    if e.base == '@cast':
        assert e.operand is not None
        extra = f', {_str(e.module)}' if e.module else ''
        text = f'@cast({expr(e.operand)}, {_str(e.type_name)}{extra})'
    elif e.base == '@var':
        text = f'@var({_str(e.type_name)})'
    else:
        text = e.base
    for st in e.steps:
        if st.member is not None:
            text += f'->{st.member}'
        elif st.index is not None:
            text += f'[{expr(st.index)}]'
    text += e.pretty
    return f'(&{text})' if e.address_of else text


def _block(b: n.Stmt, ind: int, out: List[str]) -> None:
    out[-1] += ' {'
    body = b.body if isinstance(b, n.Block) else [b]
    for s in body:
        stmt(s, ind + 1, out)
    out.append('\t' * ind + '}')


def stmt(s: n.Stmt, ind: int, out: List[str]) -> None:
    pad = '\t' * ind
    if isinstance(s, n.Block):
        out.append(pad)
        _block(s, ind, out)
    elif isinstance(s, n.ExprStmt):
        out.append(pad + expr(s.expr, True))
    elif isinstance(s, n.If):
        out.append(f'{pad}if ({expr(s.cond)})')
        _block(s.then, ind, out)
        if s.other is not None:
            out[-1] += ' else'
            _block(s.other, ind, out)
    elif isinstance(s, n.While):
        out.append(f'{pad}while ({expr(s.cond)})')
        _block(s.body, ind, out)
    elif isinstance(s, n.For):
        parts = [expr(x) if x is not None else '' for x in (s.init, s.cond, s.step)]
        out.append(f'{pad}for ({parts[0]}; {parts[1]}; {parts[2]})')
        _block(s.body, ind, out)
    elif isinstance(s, n.Foreach):
        sign = '-' if s.sort_desc else '+'
        keys = [k + (sign if s.sort_key == i + 1 else '') for i, k in enumerate(s.keys)]
        head = f'[{", ".join(keys)}]' if len(keys) > 1 else keys[0]
        if s.value:
            head = f'{s.value} = {head}'
        arr = s.array + (f'[{", ".join(expr(k) for k in s.slice)}]' if s.slice else '') + \
            (f' @{s.sort_agg}' if s.sort_agg else '') + \
            (sign if s.sort_key == -1 else '')
        limit = f' limit {expr(s.limit)}' if s.limit is not None else ''
        out.append(f'{pad}foreach ({head} in {arr}{limit})')
        _block(s.body, ind, out)
    elif isinstance(s, n.Delete):
        out.append(f'{pad}delete {expr(s.target)}')
    elif isinstance(s, n.Jump):
        out.append(pad + s.kind)
    elif isinstance(s, n.Return):
        out.append(pad + 'return' + (f' {expr(s.value)}' if s.value is not None else ''))
    elif isinstance(s, n.Try):
        out.append(pad + 'try')
        _block(s.body, ind, out)
        out[-1] += ' catch' + (f' ({s.var})' if s.var else '')
        _block(s.handler, ind, out)
    else:
        raise AssertionError(s)


def script(sc: n.Script) -> str:
    out: List[str] = []
    for b in sc.embedded:
        out.append('%{' + b.code + '%}')
    for g in sc.globals:
        decl = f'global {g.name}' + ('%' if g.wrap else '')
        if g.size:
            decl += f'[{g.size}]'
        if isinstance(g.init, n.Number):
            decl += f' = {g.init.value}'
        elif g.init is not None:
            decl += f' = {expr(g.init)}'
        out.append(decl)
    for f in sc.functions:
        params = ', '.join(p.name + (f':{p.type}' if p.type else '') for p in f.params)
        out.append(f'function {f.name}({params})' + (f':{f.ret}' if f.ret else ''))
        if f.embedded is not None:
            out[-1] += ' %{' + f.embedded.code + '%}'
        else:
            _block(f.body, 0, out)
    for a in sc.aliases:
        out.append(f'probe {a.name} {"+=" if a.epilogue else "="} ' +
                   ', '.join(str(pt) for pt in a.points))
        _block(a.body, 0, out)
    for p in sc.probes:
        out.append('probe ' + ', '.join(str(pt) for pt in p.points) +
                   (f' if ({expr(p.condition)})' if p.condition is not None else ''))
        _block(p.body, 0, out)
    return '\n'.join(out) + '\n'
