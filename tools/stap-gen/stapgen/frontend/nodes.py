# SPDX-License-Identifier: GPL-2.0
"""The script's abstract syntax tree.

Plain dataclasses; every node knows where it came from so later passes can
report errors at the right column.  Expression nodes get a `type` filled in
by the semantic pass ('long' or 'string').
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Union

from ..diag import Pos

LONG = 'long'
STRING = 'string'
STATS = 'stats'         # an aggregate: only <<< and @count(...) etc. touch it
HIST = 'histogram'      # @hist_log(s)/@hist_linear(...): only print() takes it


@dataclass
class Node:
    pos: Pos


# -- expressions -----------------------------------------------------------

@dataclass
class Expr(Node):
    type: Optional[str] = field(default=None, init=False)


@dataclass
class Number(Expr):
    value: int


@dataclass
class String(Expr):
    value: str


@dataclass
class Var(Expr):
    """A script variable: a global, a local, or a foreach iterator."""
    name: str


@dataclass
class Index(Expr):
    """arr[k1, k2, ...]"""
    array: str
    keys: List[Expr]


@dataclass
class Call(Expr):
    name: str
    args: List[Expr]
    trusted: bool = False       # made by a tapset: may call /* guru */ functions


@dataclass
class Unary(Expr):
    op: str         # '-', '!', '~', '+'
    operand: Expr


@dataclass
class Binary(Expr):
    op: str         # arithmetic, comparison, '&&', '||', '.'
    left: Expr
    right: Expr


@dataclass
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr
    chosen: bool = False        # @choose_defined(then, other): cond is @defined(then)


@dataclass
class Assign(Expr):
    op: str         # '=', '+=', ...
    target: Expr    # Var or Index
    value: Expr


@dataclass
class IncDec(Expr):
    op: str         # '++' or '--'
    prefix: bool
    target: Expr


@dataclass
class StatOp(Expr):
    """@count(s), @sum(s), ..., @hist_log(s), @hist_linear(s, lo, hi, step)"""
    op: str                 # 'count', 'sum', ...
    target: Expr            # Var or Index holding the aggregate
    args: List[Expr]        # hist_linear's lo, hi, step


@dataclass
class AggAdd(Expr):
    """s <<< v"""
    target: Expr
    value: Expr


@dataclass
class InArray(Expr):
    """[k1, k2] in arr"""
    keys: List[Expr]
    array: str


@dataclass
class Step(Node):
    """One step of a target expression: ->member (member) or [index] (index)."""
    member: Optional[str] = None
    index: Optional[Expr] = None


@dataclass
class Target(Expr):
    """A value of the probed code, read through the tree's DWARF.

    base is '$name' (a variable, '$return'), '$$parms', '$$locals',
    '$$vars', '$$return', '@cast' (operand is the pointer, type_name the
    type) or '@var' (type_name is "name" or "name@file").  steps walk
    members and array elements; pretty is '', '$' or '$$' (print the value
    with its members); address_of is the & form.
    """
    base: str
    operand: Optional[Expr] = None
    type_name: str = ''
    module: str = ''
    steps: List[Step] = field(default_factory=list)
    pretty: str = ''
    address_of: bool = False

    @property
    def is_string(self) -> bool:
        return bool(self.pretty) or self.base.startswith('$$')

    def text(self) -> str:
        if self.base == '@cast':
            head = f'@cast(..., "{self.type_name}")'
        elif self.base == '@var':
            head = f'@var("{self.type_name}")'
        else:
            head = self.base
        for st in self.steps:
            head += f'->{st.member}' if st.member is not None else '[...]'
        return ('&' if self.address_of else '') + head + self.pretty


@dataclass
class EmbeddedExpr(Expr):
    """%{ C expression %} (guru mode): a long, or a string with /* string */."""
    code: str
    trusted: bool = False       # from a tapset: allowed without -g


@dataclass
class Wildcard(Expr):
    """'*' as an array key: any key (delete a[*, k], [*, k] in a)."""


@dataclass
class Entry(Expr):
    """@entry(expr) in a return probe: expr's value when the function was entered."""
    expr: Expr


@dataclass
class Defined(Expr):
    """@defined(target): 1 if the target expression resolves at this probe point."""
    expr: Expr


# -- statements ------------------------------------------------------------

@dataclass
class Stmt(Node):
    pass


@dataclass
class Block(Stmt):
    body: List[Stmt]
    alias: bool = False     # an alias's prologue or epilogue: its unread locals are elided


@dataclass
class ExprStmt(Stmt):
    expr: Expr


@dataclass
class If(Stmt):
    cond: Expr
    then: Stmt
    other: Optional[Stmt]


@dataclass
class While(Stmt):
    cond: Expr
    body: Stmt


@dataclass
class For(Stmt):
    init: Optional[Expr]
    cond: Optional[Expr]
    step: Optional[Expr]
    body: Stmt


@dataclass
class Foreach(Stmt):
    keys: List[str]         # iterator variables, one per key
    value: Optional[str]    # `v = [k] in arr`
    array: str
    sort_key: int           # 0: unsorted, -1: by value, 1..n: by that key
    sort_desc: bool
    limit: Optional[Expr]
    body: Stmt
    array_pos: Optional[Pos] = None
    sort_agg: str = ''      # sorting an aggregate's values: by 'count', 'sum', ...
    slice: Optional[List[Expr]] = None  # foreach (k in a[x, *]): the keys to match


@dataclass
class Delete(Stmt):
    target: Expr            # Var (whole array or scalar) or Index


@dataclass
class Jump(Stmt):
    kind: str               # 'break', 'continue', 'next'


@dataclass
class Try(Stmt):
    body: Block
    var: Optional[str]      # catch (var): the error message
    handler: Block


@dataclass
class Return(Stmt):
    value: Optional[Expr]


# -- top level -------------------------------------------------------------

@dataclass
class ProbePoint(Node):
    """kernel.function("x").return as components [(name, arg), ...]."""
    components: List['Component']
    optional: bool = False
    sufficient: bool = False    # '!': when it resolves, the probe's later points are skipped

    def __str__(self) -> str:
        return '.'.join(str(c) for c in self.components) + \
            ('!' if self.sufficient else '?' if self.optional else '')


@dataclass
class Component(Node):
    name: str
    arg: Union[None, int, str] = None

    def __str__(self) -> str:
        if self.arg is None:
            return self.name
        if isinstance(self.arg, str):
            return f'{self.name}("{self.arg}")'
        return f'{self.name}({self.arg})'


@dataclass
class Probe(Node):
    points: List[ProbePoint]
    body: Block
    condition: Optional[Expr] = None    # probe P if (cond): armed while cond holds
    named: Optional[str] = None         # the alias the script's point matched (pn())
    syscall_args: bool = False          # through a syscall alias: *_arg(n) are the syscall's


@dataclass
class Alias(Node):
    """probe NAME = POINTS { prologue }   (or += ... { epilogue })"""
    name: str
    points: List[ProbePoint]
    body: Block
    epilogue: bool = False
    syscall_args: bool = False  # syscall.NAME: *_arg(n) in it read the syscall's arguments


@dataclass
class Global(Node):
    name: str
    size: Optional[int] = None
    init: Optional[Expr] = None
    wrap: bool = False          # global a%: when full, the oldest entry goes
    library: bool = False       # declared by a tapset, not the script


@dataclass
class Param(Node):
    name: str
    type: Optional[str] = None


@dataclass
class Function(Node):
    name: str
    params: List[Param]
    ret: Optional[str]
    body: Block
    embedded: Optional['Embedded'] = None   # function f() %{ C %} (guru mode)
    library: bool = False       # from a tapset, not the script


@dataclass
class Embedded(Node):
    """A block of C: %{ ... %} at the top level, or a function's body."""
    code: str
    trusted: bool = False       # from a tapset: allowed without -g

    @property
    def pragmas(self) -> List[str]:
        import re
        return re.findall(r'/\*\s*(pure|unprivileged|myproc-unprivileged|stable|guru|'
                          r'unmodified-fnargs|string)\s*\*/', self.code)


@dataclass
class Script:
    probes: List[Probe]
    globals: List[Global]
    functions: List[Function]
    aliases: List[Alias] = field(default_factory=list)
    embedded: List[Embedded] = field(default_factory=list)
    # a library unit made for one script (argv from its arguments): linked
    # into that script, not kept for the next
    one_script: bool = False


def walk(node: object) -> Iterator[Node]:
    """node and every node under it (iteratively: scripts nest deep)."""
    todo = [node]
    while todo:
        x = todo.pop()
        if isinstance(x, list):
            todo.extend(reversed(x))
        elif isinstance(x, Node):
            yield x
            todo.extend(reversed([v for v in vars(x).values()
                                  if isinstance(v, (Node, list))]))
