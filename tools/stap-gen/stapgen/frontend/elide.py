# SPDX-License-Identifier: GPL-2.0
"""Alias variables the handler never reads cost nothing.

A tapset alias's prologue sets many locals (`syscall.read` sets fd,
buf_uaddr, count and argstr); a probe that reads none of them should not
pay for formatting argstr.  As SystemTap does, an assignment in an alias
prologue or epilogue to a local that nothing in the expanded probe reads
is dropped when its value has no side effects, and again until nothing
changes (dropping argstr leaves fd unread too).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Set

from . import nodes as n

# Built-ins whose call does something besides giving a value.
IMPURE_BUILTINS = {'printf', 'print', 'println', 'printd', 'printdln', 'exit', 'error',
                   'warn', 'log', 'print_backtrace'}


class Purity:
    """Which functions can be called for their value alone."""

    def __init__(self, functions: List[n.Function]) -> None:
        self.functions = {f.name: f for f in functions}
        self.known: Dict[str, bool] = {}

    def call(self, name: str) -> bool:
        if name in self.known:
            return self.known[name]
        f = self.functions.get(name)
        if f is None:
            return name not in IMPURE_BUILTINS
        self.known[name] = False            # recursion: impure until shown pure
        if f.embedded is not None:
            pure = 'pure' in f.embedded.pragmas
        else:
            pure = self.stmt(f.body, set(p.name for p in f.params) | _assigned(f.body))
        self.known[name] = pure
        return pure

    def expr(self, e: Any, local: Optional[Set[str]] = None) -> bool:
        """e computes a value and changes nothing (but locals in `local`)."""
        if isinstance(e, (n.IncDec, n.AggAdd)):
            return False
        if isinstance(e, n.Assign):
            return local is not None and isinstance(e.target, n.Var) and \
                e.target.name in local and self.expr(e.value, local)
        if isinstance(e, n.Call) and not self.call(e.name):
            return False
        if isinstance(e, n.EmbeddedExpr):
            return False
        return all(self.expr(c, local) for c in _children(e))

    def stmt(self, s: Any, local: Set[str]) -> bool:
        """A function body that only computes (its locals may change)."""
        if isinstance(s, (n.Delete, n.Foreach)):
            return False
        if isinstance(s, n.Expr):
            return self.expr(s, local)
        return all(self.stmt(c, local) for c in _children(s))


def _children(node: Any) -> List[Any]:
    out: List[Any] = []
    for f in dataclasses.fields(node) if dataclasses.is_dataclass(node) else []:
        v = getattr(node, f.name)
        if isinstance(v, n.Node):
            out.append(v)
        elif isinstance(v, list):
            out += [x for x in v if isinstance(x, n.Node)]
    return out


def _assigned(node: Any) -> Set[str]:
    out: Set[str] = set()
    if isinstance(node, n.Assign) and isinstance(node.target, n.Var):
        out.add(node.target.name)
    for c in _children(node):
        out |= _assigned(c)
    return out


def _reads(node: Any, out: Set[str]) -> None:
    if isinstance(node, n.Assign) and node.op == '=' and isinstance(node.target, n.Var):
        _reads(node.value, out)
        return
    if isinstance(node, n.Var):
        out.add(node.name)
    for c in _children(node):
        _reads(c, out)


def elide(script: n.Script) -> n.Script:
    purity = Purity(script.functions)
    globals_ = {g.name for g in script.globals}
    script.probes = [_elide_probe(p, purity, globals_) for p in script.probes]
    return script


def _elide_probe(probe: n.Probe, purity: Purity, globals_: Set[str]) -> n.Probe:
    if not any(isinstance(st, n.Block) and st.alias for st in probe.body.body):
        return probe
    try:
        return _elided(probe, purity, globals_)
    except RecursionError:      # the semantic pass says the script nests too deeply
        return probe


def _elided(probe: n.Probe, purity: Purity, globals_: Set[str]) -> n.Probe:
    body = probe.body
    while True:
        reads: Set[str] = set()
        _reads(body, reads)
        dead = _prune(body, False, reads | globals_, purity)
        if dead is body:
            break
        assert isinstance(dead, n.Block)
        body = dead
    if body is probe.body:
        return probe
    return dataclasses.replace(probe, body=body)


def _prune(s: n.Stmt, in_alias: bool, keep: Set[str], purity: Purity) -> n.Stmt:
    """s without the dead assignments of alias blocks (s itself if none)."""
    if isinstance(s, n.Block):
        inner = in_alias or s.alias
        body: List[n.Stmt] = []
        changed = False
        for st in s.body:
            if inner and _dead(st, keep, purity):
                changed = True
                continue
            new = _prune(st, inner, keep, purity)
            changed |= new is not st
            if inner and _empty(new, purity):
                changed = True
                continue
            body.append(new)
        return dataclasses.replace(s, body=body) if changed else s
    if isinstance(s, n.If) and in_alias:
        then, other = _branch(s.then, keep, purity), _branch(s.other, keep, purity)
        if then is s.then and other is s.other:
            return s
        assert then is not None
        return dataclasses.replace(s, then=then, other=other)
    return s


def _branch(s: Optional[n.Stmt], keep: Set[str], purity: Purity) -> Optional[n.Stmt]:
    if s is None:
        return None
    if not isinstance(s, n.Block) and _dead(s, keep, purity):
        return n.Block(s.pos, [])
    return _prune(s, True, keep, purity)


def _empty(st: Optional[n.Stmt], purity: Purity) -> bool:
    """A statement left with nothing to do (an if whose branches were elided)."""
    if st is None:
        return True
    if isinstance(st, n.Block):
        return all(_empty(x, purity) for x in st.body)
    if isinstance(st, n.If):
        return purity.expr(st.cond) and _empty(st.then, purity) and _empty(st.other, purity)
    return False


def _dead(st: n.Stmt, keep: Set[str], purity: Purity) -> bool:
    if not isinstance(st, n.ExprStmt) or not isinstance(st.expr, n.Assign):
        return False
    a = st.expr
    return (isinstance(a.target, n.Var) and a.target.name not in keep and
            purity.expr(a.value))
