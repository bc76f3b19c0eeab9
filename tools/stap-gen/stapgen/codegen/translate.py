# SPDX-License-Identifier: GPL-2.0
"""Translate checked script statements into C for the runtime templates.

Only the script-derived code is produced here: each probe's handler body
and its locals.  Everything else in the module (the runtime, probe
registration, module init and exit) is in kernel-templates/.  The C is
kernel style; every statement is preceded by a #line directive naming the
script line it came from, so a compiler message points at the script.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..frontend import nodes as n
from ..diag import error
from ..frontend.semantic import FormatSpec, GlobalSym, ProbeSym, Program, parse_format
from ..elf.scopes import Site
from . import regex
from .targets import Binder


def c_string(s: str) -> str:
    """A C string literal body (without quotes) for s."""
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '\\':
            out.append('\\\\')
        elif ch == '"':
            out.append('\\"')
        elif ch == '\n':
            out.append('\\n')
        elif ch == '\t':
            out.append('\\t')
        elif o < 32 or o == 127 or o > 255:
            out.append(f'\\{o & 0xff:03o}')
        elif ch == '?':
            out.append('\\?')      # no trigraphs
        else:
            out.append(ch)
    return ''.join(out)


def tidy_c(code: str, indent: str = '') -> Tuple[int, str]:
    """A script's embedded C as kernel style lays C out: no trailing blanks,
    leading spaces as tabs (8 each; fewer are dropped, except the one before
    a block comment's '*'), blank lines at either end removed.  Returns how many lines were dropped at the start (for
    #line) and the text, each line after indent."""
    lines = code.split('\n')
    skipped = 0
    while lines and not lines[0].strip():
        lines.pop(0)
        skipped += 1
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for ln in lines:
        ln = ln.rstrip().expandtabs(8)
        body = ln.lstrip(' ')
        depth, rest = divmod(len(ln) - len(body), 8)
        align = ' ' if rest and body.startswith('*') else ''
        out.append((indent + '\t' * depth + align + body) if body else '')
    return skipped, '\n'.join(out)


def c_number(v: int) -> str:
    if v == -(1 << 63):
        return '(-9223372036854775807LL - 1)'
    return f'{v}LL' if v >= 0 else f'({v}LL)'


def has_effects(e: n.Node) -> bool:
    """Could evaluating e change state (so evaluation order matters)?"""
    if isinstance(e, (n.Assign, n.IncDec)):
        return True
    if isinstance(e, n.Call) and e.name not in PURE:
        return True
    for v in vars(e).values():
        items = v if isinstance(v, list) else [v]
        if any(isinstance(x, n.Expr) and has_effects(x) for x in items):
            return True
    return False


# Built-ins whose call changes nothing the script can see.
PURE = {'pid', 'tid', 'ppid', 'uid', 'euid', 'gid', 'egid', 'cpu', 'execname',
        'probefunc', 'pp', 'pn', 'strlen', 'isinstr', 'substr', 'text_str', 'toupper',
        'tolower', 'jiffies', 'sprint', 'sprintf', 'strtol', 'task_current', 'target',
        'str_replace', 'ppfunc', 'pexecname', 'HZ'}


def global_c_name(name: str) -> str:
    return f'stp_g_{name}'


@dataclass
class Handler:
    """One probe's translated handler, or one script function."""
    index: int
    body: str
    locals: List[str]
    locks: List[str]
    name: str = ''                  # script functions: the function's name
    entry: List[str] = field(default_factory=list)      # .return: saving at entry (C)
    entry_slots: str = '0'          # ... the s64 slots they take (a C expression)
    exported: List[str] = field(default_factory=list)   # kernel globals @var reads
    signature: str = ''             # ... its C prototype (without ';')
    params: List[str] = field(default_factory=list)     # ... C copy-ins
    returns_string: bool = False
    regexes: Dict[int, regex.Program] = field(default_factory=dict)    # =~, !~: by number


@dataclass
class _Scope:
    ps: ProbeSym
    temps: int = 0
    conds: int = 0          # s64 slots for conditions computed before their if/while
    depth: int = 0
    seq: int = 0
    err_label: List[str] = field(default_factory=lambda: ['out'])
    lines: List[str] = field(default_factory=list)


class Translator:
    def __init__(self, program: Program, script_name: str) -> None:
        self.program = program
        self.script_name = script_name      # as the user named it: #line and messages
        self.binder: Optional[Binder] = None
        self.symbols: Any = None        # the tree's SymbolTable, for @var
        self.dwarf_file: Optional[Callable[[], Any]] = None    # for @cast anywhere
        self.site_problem = ''
        self.ret = False
        self.at_entry = False
        self.regexes: Dict[str, int] = {}      # pattern: its number in the module
        self.programs: Dict[int, regex.Program] = {}

    # -- per probe ----------------------------------------------------------
    def handler(self, ps: ProbeSym, site: Optional[Site] = None, index: object = None,
                site_problem: str = '', ret: bool = False) -> Handler:
        """ps's body as C; with a site, bound to that probe point's variables;
        ret: the point is a function's return (with or without DWARF)."""
        self.s = _Scope(ps)
        self.ret = ret
        self.binder = Binder(site, self._temp, self._expr, self.symbols,
                             self.dwarf_file() if self.dwarf_file else None)
        self.site_problem = site_problem
        self.entry: List[str] = []
        self.entry_nums = self.entry_strs = 0
        self.used: Dict[int, regex.Program] = {}
        if ps.probe.condition is not None:
            # probe P if (cond): a hit while cond is false does nothing, and
            # disarms the probe
            self._line(ps.probe.condition)
            self._emit(1, f'if (!({self._cond(ps.probe.condition)})) {{')
            self._emit(2, f'stp_cond_set({ps.index}, false);')
            self._emit(2, 'goto out;')
            self._emit(1, '}')
        if ps.function is not None and ps.function.embedded is not None:
            self._embedded_function(ps)
        self._stmt(ps.body, 1)
        decls = []
        for name, slot in sorted(ps.locals.items()):
            decls.append(f'char v_{name}[MAXSTRINGLEN]' if slot.type == n.STRING
                         else f's64 v_{name}')
        if self.s.lines or ps.rearms:
            self.s.lines.append('out:')     # where statements go on a script error
        for j in ps.rearms:
            # it may have changed what probe j's condition reads: arm or disarm it
            cond = self.program.probes[j].probe.condition
            assert cond is not None
            self._emit(1, f'stp_cond_set({j}, {self._cond(cond)});')
        decls += [f'char t{i}[MAXSTRINGLEN]' for i in range(self.s.temps)]
        decls += [f's64 c{i}' for i in range(self.s.conds)]
        locks = [f'&{global_c_name(g)}_lock' for g in sorted(ps.globals_used)]
        h = Handler(ps.index if index is None else index,  # type: ignore[arg-type]
                    '\n'.join(self.s.lines), decls, locks, entry=self.entry,
                    entry_slots=self._entry_slot(),
                    exported=sorted(self.binder.var_refs), regexes=self.used)
        if ps.function is not None:
            string_ret = ps.ret.type == n.STRING
            decls.append('char ret[MAXSTRINGLEN]' if string_ret else 's64 retval')
            args = []
            for pname in ps.params:
                if ps.locals[pname].type == n.STRING:
                    args.append(f'const char *a_{pname}')
                    h.params.append(f'stp_strcpy(l->v_{pname}, a_{pname}, MAXSTRINGLEN);')
                else:
                    args.append(f's64 a_{pname}')
                    h.params.append(f'l->v_{pname} = a_{pname};')
            h.name = ps.function.name
            h.returns_string = string_ret
            h.signature = (f'static {"const char *" if string_ret else "s64 "}'
                           f'stp_fn_{h.name}(' + ', '.join(['struct stp_context *c'] + args)
                           + ')')
        return h

    def _embedded_function(self, ps: ProbeSym) -> None:
        """function f(a) %{ C %}: the C, with SystemTap's names for the
        arguments and the return value (runtime/embedded.h has the rest)."""
        f = ps.function
        assert f is not None and f.embedded is not None
        names = [f'STAP_ARG_{p}' for p in ps.params]
        for pname, name in zip(ps.params, names):
            self._emit(0, f'#define {name} (l->v_{pname})')
        ret = 'l->ret' if ps.ret.type == n.STRING else 'l->retval'
        self._emit(0, f'#define STAP_RETVALUE ({ret})')
        # the code starts just after %{, on the line of the %{
        skipped, code = tidy_c(f.embedded.code, '\t')
        self.s.lines.append(f'#line {f.embedded.pos.line + skipped} '
                            f'"{c_string(self._file(f.embedded))}"')
        self.s.lines.append(code)
        self._emit(0, 'goto out;')
        for name in names + ['STAP_RETVALUE']:
            self._emit(0, f'#undef {name}')

    def _file(self, node: n.Node) -> str:
        """The file a node was written in, as #line names it."""
        name = node.pos.source.name
        return self.script_name if name == self.script_name or \
            name.startswith('<') else name

    def _embedded_expr(self, e: n.EmbeddedExpr) -> str:
        cast = 'const char *' if e.type == n.STRING else 's64'
        skipped, code = tidy_c(e.code)
        # in a function, STAP_ARG_name is its argument, as in an embedded body
        params = set(self.s.ps.params) if self.s.ps.function is not None else set()
        code = re.sub(r'\bSTAP_ARG_(\w+)\b',
                      lambda m: f'(l->v_{m.group(1)})' if m.group(1) in params else m.group(0),
                      code)
        if '\n' not in code:
            return f'(({cast})({code.strip()}))'
        return (f'(({cast})(\n#line {e.pos.line + skipped} "{c_string(self._file(e))}"\n'
                f'{code}\n))')

    def _emit(self, indent: int, text: str) -> None:
        self.s.lines.append('\t' * indent + text)

    def _line(self, node: n.Node) -> None:
        self.s.lines.append(f'#line {node.pos.line} "{c_string(self._file(node))}"')

    def _temp(self) -> str:
        self.s.temps += 1
        return f'l->t{self.s.temps - 1}'

    def _where(self, node: n.Node) -> str:
        return f'"{c_string(self._file(node))}:{node.pos.line}:{node.pos.col}"'

    # -- statements ---------------------------------------------------------
    def _stmt(self, st: n.Stmt, ind: int) -> None:
        if isinstance(st, n.Block):
            for x in st.body:
                self._stmt(x, ind)
            return
        self._line(st)
        self._emit(ind, f'if (!stp_action(c, {self._where(st)}))')
        self._emit(ind + 1, f'goto {self.s.err_label[-1]};')
        if isinstance(st, (n.ExprStmt, n.Delete, n.Return)):
            self._scoped(st, ind)
        else:
            self._compound(st, ind)

    def _scoped(self, st: n.Stmt, ind: int) -> None:
        """A simple statement whose map keys are compound literals gets a
        block of its own: a literal lives until its block ends, and a
        function of many map statements would otherwise hold all their keys
        on the kernel stack at once."""
        start = len(self.s.lines)
        self._compound(st, ind)
        body = self.s.lines[start:]
        if any('(struct stp_key){' in ln for ln in body):
            self.s.lines[start:] = ['\t' * ind + '{'] + \
                [ln if ln.startswith('#') else '\t' + ln for ln in body] + ['\t' * ind + '}']

    def _compound(self, st: n.Stmt, ind: int) -> None:
        if isinstance(st, n.ExprStmt):
            self._emit(ind, f'(void)({self._expr(st.expr)});')
        elif isinstance(st, n.If) and self._known(st.cond) is not None:
            live = st.then if self._known(st.cond) else st.other
            if live is not None:        # @defined decided it: the other branch is not built
                self._emit(ind, '{')
                self._stmt(live, ind + 1)
                self._emit(ind, '}')
        elif isinstance(st, n.If):
            self._emit(ind, f'if ({self._plain_cond(st.cond, ind)}) {{')
            self._stmt(st.then, ind + 1)
            if st.other is not None:
                self._emit(ind, '} else {')
                self._stmt(st.other, ind + 1)
            self._emit(ind, '}')
        elif isinstance(st, n.While) and '({' in self._peek_cond(st.cond):
            # a condition with its own statements: computed at the top of each turn
            self._emit(ind, 'for (;;) {')
            self._emit(ind + 1, f'if (!{self._plain_cond(st.cond, ind + 1)})')
            self._emit(ind + 2, 'break;')
            self._loop_guard(st, ind + 1)
            self._stmt(st.body, ind + 1)
            self._emit(ind, '}')
        elif isinstance(st, n.While):
            self._emit(ind, f'while ({self._cond(st.cond)}) {{')
            self._loop_guard(st, ind + 1)
            self._stmt(st.body, ind + 1)
            self._emit(ind, '}')
        elif isinstance(st, n.For):
            init = self._expr(st.init) if st.init else ''
            cond = self._expr(st.cond) if st.cond else '1'
            step = f'(void)({self._expr(st.step)})' if st.step else ''
            self._emit(ind, f'for ({init}; {cond}; {step}) {{')
            self._loop_guard(st, ind + 1)
            self._stmt(st.body, ind + 1)
            self._emit(ind, '}')
        elif isinstance(st, n.Foreach):
            self._foreach(st, ind)
        elif isinstance(st, n.Try):
            self._try(st, ind)
        elif isinstance(st, n.Delete):
            self._delete(st, ind)
        elif isinstance(st, n.Jump):
            self._emit(ind, 'goto out;' if st.kind == 'next' else f'{st.kind};')
        elif isinstance(st, n.Return):
            if st.value is not None:
                v = self._expr(st.value)
                if self.s.ps.ret.type == n.STRING:
                    self._emit(ind, f'stp_strcpy(l->ret, {v}, MAXSTRINGLEN);')
                else:
                    self._emit(ind, f'l->retval = {v};')
            self._emit(ind, 'goto out;')
        else:
            raise error(f'{type(st).__name__} statements are not supported yet', st.pos)

    def _peek_cond(self, e: n.Expr) -> str:
        """The condition's C, translated without keeping what it emitted."""
        saved = (self.s.temps, len(self.s.lines), list(self.entry), self.entry_nums,
                 self.entry_strs)
        c = self._cond(e)
        self.s.temps, n_lines, self.entry, self.entry_nums, self.entry_strs = \
            saved[0], saved[1], saved[2], saved[3], saved[4]
        del self.s.lines[n_lines:]
        return c

    def _plain_cond(self, e: n.Expr, ind: int) -> str:
        """A condition as kernel style wants it in an if: one whose C holds
        statements (a sequenced call) is computed into a slot first."""
        c = self._cond(e)
        if '({' not in c:
            return c
        slot = f'l->c{self.s.conds}'
        self.s.conds += 1
        self._emit(ind, f'{slot} = {c};')
        return slot

    def _cond(self, e: n.Expr) -> str:
        """A condition without a redundant outer pair of parentheses."""
        c = self._expr(e)
        if not (c.startswith('(') and c.endswith(')')):
            return c
        depth, quoted, escaped = 0, False, False
        for i, ch in enumerate(c):
            if quoted:              # parentheses in string literals do not count
                escaped, quoted = (not escaped and ch == '\\'), quoted and (escaped or ch != '"')
                continue
            quoted = ch == '"'
            depth += ch == '('
            depth -= ch == ')'
            if depth == 0 and i < len(c) - 1:
                return c            # the first '(' closes early: not one pair
        return c[1:-1]

    def _loop_guard(self, st: n.Stmt, ind: int) -> None:
        """Each iteration counts as an action, so a runaway loop ends."""
        self._emit(ind, f'if (!stp_action(c, {self._where(st)}))')
        self._emit(ind + 1, f'goto {self.s.err_label[-1]};')

    def _try(self, st: n.Try, ind: int) -> None:
        """try { } catch (msg) { }: a script error in the body lands here."""
        self.s.seq += 1
        label = f'caught{self.s.seq}'
        self.s.err_label.append(label)
        self._emit(ind, '{')
        self._stmt(st.body, ind + 1)
        self._emit(ind, '}')
        self.s.err_label.pop()
        self._emit(0, f'{label}: __maybe_unused;')
        self._emit(ind, 'if (c->last_error) {')
        if st.var:
            self._emit(ind + 1, f'stp_strcpy(l->v_{st.var}, c->last_error, MAXSTRINGLEN);')
        self._emit(ind + 1, 'c->last_error = NULL;')
        self._stmt(st.handler, ind + 1)
        self._emit(ind, '}')

    def _is_pmap(self, name: str) -> bool:
        """An array of aggregates: per CPU (struct stp_pmap)."""
        g = self.program.globals.get(name)
        return g is not None and bool(g.is_array) and g.value.type == n.STATS

    def _foreach(self, st: n.Foreach, ind: int) -> None:
        g = self.program.globals[st.array]
        m = f'&{global_c_name(st.array)}'
        d = self.s.depth
        self.s.depth += 1
        limit = self._expr(st.limit) if st.limit is not None else None
        if self._is_pmap(st.array):
            self._emit(ind, f'stp_pmap_aggregate(c, {m});')
            m += '.agg'
        self._emit(ind, '{')
        stat = f'STP_STAT_{(st.sort_agg or "count").upper()}'
        if st.slice is not None and self._wild(st.slice) != (1 << len(st.slice)) - 1:
            # foreach (... in a[x, *]): only the entries whose given keys match
            self._emit(ind + 1, f'u32 n{d} = stp_map_sort_slice({m}, {st.sort_key}, '
                                f'{int(st.sort_desc)}, {stat}, '
                                f'{self._key(st.array, st.slice)}, '
                                f'{self._wild(st.slice):#x}), i{d};')
        else:
            self._emit(ind + 1, f'u32 n{d} = stp_map_sort({m}, {st.sort_key}, '
                                f'{int(st.sort_desc)}, {stat}), i{d};')
        if limit:
            self._emit(ind + 1, f's64 limit{d} = {limit};')
        cond = f'i{d} < n{d}' + (f' && i{d} < limit{d}' if limit else '')
        self.s.lines.append('')
        self._emit(ind + 1, f'for (i{d} = 0; {cond}; i{d}++) {{')
        self._emit(ind + 2, f'struct stp_map_entry *e{d} = {m[1:]}.sorted[i{d}];')
        self.s.lines.append('')
        for col, name in enumerate(st.keys):
            if g.keys[col].type == n.STRING:
                self._emit(ind + 2, f'stp_strcpy(l->v_{name}, stp_entry_key_str({m}, e{d}, {col}), '
                                    'MAXSTRINGLEN);')
            else:
                self._emit(ind + 2, f'l->v_{name} = stp_entry_key_long({m}, e{d}, {col});')
        if st.value:
            if g.value.type == n.STRING:
                self._emit(ind + 2, f'stp_strcpy(l->v_{st.value}, stp_entry_str({m}, e{d}), '
                                    'MAXSTRINGLEN);')
            else:
                self._emit(ind + 2, f'l->v_{st.value} = *stp_entry_long({m}, e{d});')
        self._loop_guard(st, ind + 2)
        self._stmt(st.body, ind + 2)
        self._emit(ind + 1, '}')
        self._emit(ind, '}')
        self.s.depth -= 1

    def _delete(self, st: n.Delete, ind: int) -> None:
        t = st.target
        if isinstance(t, n.Index) and self._wild(t.keys):
            mask = self._wild(t.keys)
            if self._is_pmap(t.array):
                self._emit(ind, f'stp_pmap_delete_matching(c, &{global_c_name(t.array)}, '
                                f'{self._key(t.array, t.keys)}, {mask:#x});')
            else:
                self._emit(ind, f'stp_map_delete_matching(&{global_c_name(t.array)}, '
                                f'{self._key(t.array, t.keys)}, {mask:#x});')
            return
        if isinstance(t, n.Index):
            if self._is_pmap(t.array):
                self._emit(ind, f'stp_pmap_delete(c, &{global_c_name(t.array)}, '
                                f'{self._key(t.array, t.keys)});')
                return
            self._emit(ind, f'stp_map_delete(&{global_c_name(t.array)}, '
                            f'{self._key(t.array, t.keys)});')
            return
        assert isinstance(t, n.Var)
        g = self.program.globals.get(t.name)
        if self._is_pmap(t.name):
            self._emit(ind, f'stp_pmap_delete(c, &{global_c_name(t.name)}, NULL);')
        elif g is not None and g.is_array:
            self._emit(ind, f'stp_map_clear(&{global_c_name(t.name)});')
        else:
            lv = self._scalar_lvalue(t.name)
            slot = g.value if g else self.s.ps.locals[t.name]
            if slot.type == n.STATS:
                self._emit(ind, f'stp_agg_clear(&{lv});')
            else:
                self._emit(ind, f'{lv}[0] = 0;' if slot.type == n.STRING else f'{lv} = 0;')

    # -- expressions --------------------------------------------------------
    def _scalar_lvalue(self, name: str) -> str:
        if name in self.program.globals:
            return global_c_name(name)
        return f'l->v_{name}'

    @staticmethod
    def _wild(keys: List[n.Expr]) -> int:
        """The keys given as *, as a bit mask (bit i: key i)."""
        return sum(1 << i for i, k in enumerate(keys) if isinstance(k, n.Wildcard))

    def _key(self, array: str, keys: List[n.Expr]) -> str:
        """A struct stp_key compound literal: positional { numbers }, { strings }."""
        g: GlobalSym = self.program.globals[array]
        nums, strs = [], []
        for k, slot in zip(keys, g.keys):
            v = ('""' if slot.type == n.STRING else '0') if isinstance(k, n.Wildcard) \
                else self._expr(k)
            nums.append('0' if slot.type == n.STRING else v)
            strs.append(v if slot.type == n.STRING else 'NULL')
        return f'&(struct stp_key){{ {{ {", ".join(nums)} }}, {{ {", ".join(strs)} }} }}'

    def _expr(self, e: n.Expr) -> str:
        if isinstance(e, n.Number):
            return c_number(e.value)
        if isinstance(e, n.String):
            return f'"{c_string(e.value)}"'
        if isinstance(e, n.Var):
            if self.at_entry:
                raise error(f"'{e.name}' has no value yet when the function is entered",
                            e.pos, hint='@entry(...) saves target variables and numbers')
            return self._scalar_lvalue(e.name)
        if isinstance(e, n.Index):
            get = 'stp_map_get_str' if e.type == n.STRING else 'stp_map_get_long'
            return f'{get}(&{global_c_name(e.array)}, {self._key(e.array, e.keys)})'
        if isinstance(e, n.InArray) and self._wild(e.keys):
            if self._is_pmap(e.array):
                raise error('[*, k] in an array of aggregates is not supported', e.pos,
                            hint='test each key, or keep a second array of values')
            return (f'(s64)stp_map_exists_matching(&{global_c_name(e.array)}, '
                    f'{self._key(e.array, e.keys)}, {self._wild(e.keys):#x})')
        if isinstance(e, n.EmbeddedExpr):
            return self._embedded_expr(e)
        if isinstance(e, n.InArray) and self._is_pmap(e.array):
            return (f'(stp_pmap_get(c, &{global_c_name(e.array)}, '
                    f'{self._key(e.array, e.keys)}) != NULL)')
        if isinstance(e, n.InArray):
            return (f'(stp_map_lookup(&{global_c_name(e.array)}, '
                    f'{self._key(e.array, e.keys)}) != NULL)')
        if isinstance(e, n.Unary):
            op = e.op
            return f'({op}{self._expr(e.operand)})' if op != '!' else \
                f'(s64)(!{self._expr(e.operand)})'
        if isinstance(e, n.Binary):
            return self._binary(e)
        if isinstance(e, n.Ternary):
            known = self._known(e.cond)
            if known is not None:
                return self._expr(e.then if known else e.other)
            return f'({self._expr(e.cond)} ? {self._expr(e.then)} : {self._expr(e.other)})'
        if isinstance(e, n.Defined):
            return '1' if self._known(e) else '0'
        if isinstance(e, n.Target):
            return self._target(e)
        if isinstance(e, n.Entry):
            return self._entry(e)
        if isinstance(e, n.Assign):
            return self._assign(e)
        if isinstance(e, n.IncDec):
            return self._incdec(e)
        if isinstance(e, n.Call):
            return self._call(e)
        if isinstance(e, n.AggAdd) and isinstance(e.target, n.Var):
            return f'stp_agg_add(&{global_c_name(e.target.name)}, {self._expr(e.value)}, ' \
                   f'{self._hist_spec(e.target)})'
        if isinstance(e, n.AggAdd):
            assert isinstance(e.target, n.Index)
            return (f'stp_pmap_add(c, &{global_c_name(e.target.array)}, '
                    f'{self._key(e.target.array, e.target.keys)}, {self._expr(e.value)}, '
                    f'{self._hist_spec(e.target)})')
        if isinstance(e, n.StatOp):
            if e.op in ('hist_log', 'hist_linear'):
                raise error('a histogram can only be printed with print()', e.pos)
            return f'stp_stat_read(c, {self._stat_ref(e.target)}, STP_STAT_{e.op.upper()})'
        raise error(f'{type(e).__name__} expressions are not supported yet', e.pos)

    # -- target variables -----------------------------------------------------
    def _known(self, e: n.Expr) -> Optional[bool]:
        """The value of a condition @defined decides at translation time."""
        if isinstance(e, n.Defined):
            inner = e.expr.expr if isinstance(e.expr, n.Entry) else e.expr   # @defined(@entry($x))
            assert self.binder is not None
            return isinstance(inner, n.Target) and self.binder.defined(inner)
        if isinstance(e, n.Unary) and e.op == '!':
            k = self._known(e.operand)
            return None if k is None else not k
        if isinstance(e, n.Binary) and e.op in ('&&', '||'):
            a, b = self._known(e.left), self._known(e.right)
            if e.op == '&&' and (a is False or b is False):
                return False
            if e.op == '||' and (a is True or b is True):
                return True
            if a is not None and b is not None:
                return a and b if e.op == '&&' else a or b
        return None

    def _binder(self, e: n.Expr) -> Binder:
        assert self.binder is not None
        casts = isinstance(e, n.Target) and e.base in ('@cast', '@var')   # need no site
        if self.binder.site is None and self.site_problem and not casts:
            raise error(f'target variables are not available at this probe point: '
                        f'{self.site_problem}', e.pos)
        return self.binder

    def _target(self, e: n.Target) -> str:
        fv = self.s.ps.family_vars.get(e.base[1:])
        if fv is not None:
            return f'{fv.get}(c)'
        b = self._binder(e)
        site = b.site
        if site is not None and site.ret and not self.at_entry and \
                e.base not in ('$return', '$$return'):
            # in a return probe, $var is its value when the function was entered
            return self._save_at_entry(e)
        if self.at_entry and e.base in ('$return', '$$return'):
            raise error(f"'{e.base}' has no value when the function is entered", e.pos)
        return b.value(e)

    def _entry(self, e: n.Entry) -> str:
        # a return probe without DWARF saves expressions of no target
        # variable (@entry(gettimeofday_ns())); a target in one says why not
        assert self.binder is not None
        site = self.binder.site
        if not (site.ret if site is not None else self.ret):
            raise error('@entry(...) belongs in a .return probe', e.pos)
        return self._save_at_entry(e.expr)

    def _save_at_entry(self, e: n.Expr) -> str:
        outer, self.at_entry = self.at_entry, True
        try:
            c = self._expr(e)
        finally:
            self.at_entry = outer
        if outer:
            return c
        slot = self._entry_slot()
        if e.type == n.STRING:
            self.entry_strs += 1
            self.entry.append(f'stp_strcpy((char *)&c->entry[{slot}], {c}, MAXSTRINGLEN)')
            return f'((const char *)&c->entry[{slot}])'
        self.entry_nums += 1
        self.entry.append(f'c->entry[{slot}] = {c}')
        return f'c->entry[{slot}]'

    def _entry_slot(self) -> str:
        """The next free s64 slot of the entry data (a string takes STP_STR_SLOTS)."""
        if not self.entry_strs:
            return str(self.entry_nums)
        return f'{self.entry_nums} + {self.entry_strs} * STP_STR_SLOTS'

    def _stat_global(self, target: n.Expr) -> str:
        return target.name if isinstance(target, n.Var) else target.array  # type: ignore

    def _stat_ref(self, target: n.Expr) -> str:
        """The merged struct stp_stat * of an aggregate (NULL: an empty array element)."""
        g = global_c_name(self._stat_global(target))
        if isinstance(target, n.Var):
            return f'stp_agg_merge(c, &{g})'
        assert isinstance(target, n.Index)
        return f'stp_pmap_get(c, &{g}, {self._key(target.array, target.keys)})'

    def _hist_spec(self, target: n.Expr) -> str:
        # (mode -1: no histogram is printed, so none is kept)
        mode, lo, hi, step = self.program.globals[self._stat_global(target)].hist or (-1, 0, 0, 0)
        return f'{mode}, {c_number(lo)}, {c_number(hi)}, {c_number(step)}'

    def _binary(self, e: n.Binary) -> str:
        if e.op in ('=~', '!~'):
            return self._match(e)
        if e.op not in ('&&', '||') and has_effects(e.left) and has_effects(e.right):
            (a, b), decls = self._args([e.left, e.right])
            inner = n.Binary(e.pos, e.op, n.Var(e.left.pos, '_'), n.Var(e.right.pos, '_'))
            inner.left.type, inner.right.type, inner.type = e.left.type, e.right.type, e.type
            return self._sequenced(decls, self._binary_c(inner, a, b))
        return self._binary_c(e, self._expr(e.left), self._expr(e.right))

    def _binary_c(self, e: n.Binary, a: str, b: str) -> str:
        op = e.op
        if op == '.':
            return f'stp_concat({self._temp()}, {a}, {b})'
        if e.left.type == n.STRING and op in ('==', '!=', '<', '>', '<=', '>='):
            return f'(s64)(stp_strcmp({a}, {b}) {op} 0)'
        if op in ('==', '!=', '<', '>', '<=', '>=', '&&', '||'):
            if op in ('&&', '||') and a.endswith('})'):
                a += ' != 0'    # '}) &&' reads as a label's address to checkpatch
            return f'(s64)({a} {op} {b})'
        return self._arith(op, a, b)

    def _match(self, e: n.Binary) -> str:
        """s =~ "RE": the regular expression, compiled now, is the module's data."""
        assert isinstance(e.right, n.String)
        pattern = e.right.value
        if pattern not in self.regexes:
            self.regexes[pattern] = len(self.regexes)
            self.programs[self.regexes[pattern]] = regex.compile_literal(e.right)
        num = self.regexes[pattern]
        self.used[num] = self.programs[num]
        call = f'stp_regex_match(&stp_re_{num}, {self._expr(e.left)})'
        return call if e.op == '=~' else f'(s64)!{call}'

    def _assign(self, e: n.Assign) -> str:
        t = e.target
        op = e.op
        v = self._expr(e.value)
        fv = self.s.ps.family_vars.get(t.base[1:]) if isinstance(t, n.Target) else None
        if fv is not None and fv.type == n.STRING:
            if op == '.=' and fv.append:
                return f'({fv.append}(c, {v}), {fv.get}(c))'
            if op == '.=':
                v = f'stp_concat({self._temp()}, {fv.get}(c), {v})'
            return f'({fv.set}(c, {v}), {fv.get}(c))'
        if fv is not None:
            if op != '=':
                v = self._arith(op[:-1], f'{fv.get}(c)', v)
            return f'({{ s64 w_ = {v}; {fv.set}(c, w_); w_; }})'
        if isinstance(t, n.Target):
            if op != '=':
                v = self._arith(op[:-1], self._expr(t), v)
            return self._binder(t).assign(t, v)
        if isinstance(t, n.Index):
            m = f'&{global_c_name(t.array)}'
            key = self._key(t.array, t.keys)
            if t.type == n.STRING:
                if op == '=':
                    return f'stp_map_set_str(c, {m}, {key}, {v})'
                return (f'({{ const struct stp_key *k_ = {key}; '
                        f'stp_map_set_str(c, {m}, k_, stp_concat({self._temp()}, '
                        f'stp_map_get_str({m}, k_), {v})); }})')
            if op == '=':
                return f'stp_map_set_long(c, {m}, {key}, {v})'
            if op == '+=':
                return f'stp_map_add_long(c, {m}, {key}, {v})'
            if op == '-=':
                return f'stp_map_add_long(c, {m}, {key}, -({v}))'
            cur = 'stp_map_get_long(' + m + ', k_)'
            new = self._arith(op[:-1], cur, v)
            return (f'({{ const struct stp_key *k_ = {key}; s64 v_ = {new}; '
                    f'stp_map_set_long(c, {m}, k_, v_); }})')
        assert isinstance(t, n.Var)
        lv = self._scalar_lvalue(t.name)
        if t.type == n.STRING:
            if op == '.=':
                v = f'stp_concat({self._temp()}, {lv}, {v})'
            return f'stp_strset({lv}, {v})'
        new = v if op == '=' else self._arith(op[:-1], lv, v)
        if t.name in self.program.globals:
            # a global keeps its value when computing the new one failed
            return f'stp_set_long(c, &{lv}, {new})'
        return f'({lv} = {new})'

    def _arith(self, op: str, a: str, b: str) -> str:
        if op in ('/', '%'):
            return f'stp_div(c, {a}, {b}, {"true" if op == "%" else "false"})'
        if op == '<<':
            return f'(s64)((u64)({a}) << (({b}) & 63))'
        if op == '>>':
            return f'(({a}) >> (({b}) & 63))'
        if op in ('+', '-', '*'):
            # wrap like SystemTap's 64-bit longs, without signed overflow
            return f'(s64)((u64)({a}) {op} (u64)({b}))'
        return f'({a} {op} {b})'

    def _incdec(self, e: n.IncDec) -> str:
        delta = '1' if e.op == '++' else '-1'
        t = e.target
        if isinstance(t, n.Index):
            m = f'&{global_c_name(t.array)}'
            new = f'stp_map_add_long(c, {m}, {self._key(t.array, t.keys)}, {delta})'
            return new if e.prefix else f'({new} - ({delta}))'
        assert isinstance(t, n.Var)
        lv = self._scalar_lvalue(t.name)
        return f'({e.op}{lv})' if e.prefix else f'({lv}{e.op})'

    def _args(self, exprs: List[n.Expr]) -> tuple:
        """C for each argument, plus declarations that evaluate them in order.

        C leaves the order of function arguments unspecified; the script
        language evaluates left to right.  When order can matter, each
        argument is first evaluated into its own variable.
        """
        cs = [self._expr(a) for a in exprs]
        if len(exprs) < 2 or not any(has_effects(a) for a in exprs):
            return cs, ''
        decls = []
        names = []
        for i, (a, c) in enumerate(zip(exprs, cs)):
            self.s.seq += 1
            v = f'a{self.s.seq}_'
            ctype = 'const char *' if a.type == n.STRING else 's64 '
            decls.append(f'{ctype}{v} = {c}; ')
            names.append(v)
        return names, ''.join(decls)

    def _sequenced(self, decls: str, call: str) -> str:
        return f'({{ {decls}{call}; }})' if decls else call

    def _call(self, e: n.Call) -> str:
        name = e.name
        fs = self.program.functions.get(name)
        if fs is not None:
            argv, decls = self._args(e.args)
            call = self._sequenced(decls, f'stp_fn_{name}(c' +
                                   ''.join(f', {a}' for a in argv) + ')')
            if fs.ret.type == n.STRING:
                # the callee's frame is reused by the next call: copy now
                return f'stp_strset({self._temp()}, {call})'
            return call
        if name in ('print', 'println') and e.args and isinstance(e.args[0], n.StatOp):
            h = e.args[0]
            if h.op not in ('hist_log', 'hist_linear'):
                return f'stp_printf(c, "%lld{chr(92) + "n" if name == "println" else ""}", ' \
                       f'(long long){self._expr(h)})'
            return (f'stp_print_hist(c, {self._stat_ref(h.target)}, '
                    f'{self._hist_spec(h.target)})')
        if name in ('printf', 'sprintf'):
            pieces, decls = self._format(e)
            dest = 'c' if name == 'printf' else self._temp()
            calls = [f'stp_printb(c, {argv[0]}, {fmt})' if fmt.isdigit() else
                     f'stp_{name}({dest}, {fmt}' + ''.join(f', {x}' for x in argv) + ')'
                     for fmt, argv in pieces]
            return self._sequenced(decls, calls[0] if len(calls) == 1 else
                                   '({ ' + '; '.join(calls) + '; })')
        a, decls = self._args(e.args)
        if decls:
            return self._sequenced(decls, self._builtin(e, a))
        return self._builtin(e, a)

    def _builtin(self, e: n.Call, a: List[str]) -> str:
        name = e.name
        if name == 'println' and not e.args:
            return 'stp_printf(c, "\\n")'
        if name in ('print', 'println') and len(e.args) > 1:
            nl = '\\n' if name == 'println' else ''
            fmt = ''.join('%s' if x.type == n.STRING else '%lld' for x in e.args)
            vals = [v if x.type == n.STRING else f'(long long)({v})'
                    for x, v in zip(e.args, a)]
            return f'stp_printf(c, "{fmt}{nl}", {", ".join(vals)})'
        if name in ('print', 'println'):
            nl = '\\n' if name == 'println' else ''
            if e.args[0].type == n.STRING:
                return f'stp_printf(c, "%s{nl}", {a[0]})'
            return f'stp_printf(c, "%lld{nl}", (long long)({a[0]}))'
        if name in ('printd', 'printdln'):
            delim = c_string(e.args[0].value).replace('%', '%%')  # type: ignore[attr-defined]
            parts, vals = [], []
            for x, v in zip(e.args[1:], a[1:]):
                parts.append('%s' if x.type == n.STRING else '%lld')
                vals.append(v if x.type == n.STRING else f'(long long)({v})')
            fmt = delim.join(parts) + ('\\n' if name == 'printdln' else '')
            return f'stp_printf(c, "{fmt}", {", ".join(vals)})'
        if name == 'sprint':
            if e.args[0].type == n.STRING:
                return a[0]
            return f'stp_sprintf({self._temp()}, "%lld", (long long)({a[0]}))'
        if name == 'exit':
            return '(stp_request_exit(), 0)'
        if name == 'error':
            return f'stp_error_copy(c, {a[0]})'
        if name in TEMP_CALLS:          # stp_NAME(buffer for the result, args...)
            return f'stp_{name}(' + ', '.join([self._temp(), *a]) + ')'
        if name == 'stringat':
            return f'stp_stringat(c, {a[0]}, {a[1]})'
        if name == 'log':
            return f'stp_printf(c, "%s\\n", {a[0]})'
        if name in ('backtrace', 'sprint_backtrace', 'caller'):
            return f'stp_{name}(c, {self._temp()})'
        if name == 'print_backtrace':
            return f'stp_printf(c, "%s", stp_sprint_backtrace(c, {self._temp()}))'
        if name == 'caller_addr':
            return 'stp_caller_addr(c)'
        if name in ('kernel_string', 'user_string'):
            dflt = a[1] if len(a) > 1 else 'NULL'
            return f'stp_{name}(c, {self._temp()}, {a[0]}, {dflt}, MAXSTRINGLEN)'
        if name in ('kernel_string_n', 'user_string_n'):
            return f'stp_{name}(c, {self._temp()}, {a[0]}, {a[1]})'
        if name in READS:
            size, signed = READS[name]
            return f'(s64)stp_deref(c, (u64)({a[0]}), {size}, {signed})'
        if name in ('probefunc', 'ppfunc'):
            return 'c->probe->func'
        if name == 'pp':
            return 'c->probe->pp'
        if name == 'pn':
            return 'c->probe->pn'
        if name in CALLS:
            return CALLS[name].format(*a)
        raise error(f"function '{name}' is not supported yet", e.pos)

    def _format(self, e: n.Call) -> tuple:
        """A checked script format as C: pieces (C format, its arguments), a
        %b directive being a piece of its own (its byte count, the value),
        and the setup of the arguments."""
        fmt = e.args[0]
        assert isinstance(fmt, n.String)
        parts, _ = parse_format(fmt.value)
        values, decls = self._args(e.args[1:])
        pieces: List[Tuple[str, List[str]]] = []
        c_fmt: List[str] = []
        args: List[str] = []
        it = iter(values)
        for p in parts:
            if not isinstance(p, FormatSpec):
                c_fmt.append(str(p).replace('%', '%%'))
                continue
            for _ in range(p.stars):            # %*d: the width (precision) first
                args.append(f'(int)({next(it)})')
            v = next(it)
            if p.conv == 'b':
                if c_fmt:
                    pieces.append((f'"{c_string("".join(c_fmt))}"', args))
                pieces.append((p.width or '8', [f'(u64)({v})']))
                c_fmt, args = [], []
                continue
            head = '%' + p.flags + (p.width or '') + (f'.{p.prec}' if p.prec else '')
            if p.conv == 's':
                c_fmt.append(head + 's')
                args.append(v)
            elif p.conv == 'c':
                c_fmt.append(head + 'c')
                args.append(f'(int)({v})')
            elif p.conv == 'p':
                c_fmt.append('0x' + head + 'llx')
                args.append(f'(unsigned long long)({v})')
            elif p.conv in 'uxXo':
                c_fmt.append(head + 'll' + p.conv)
                args.append(f'(unsigned long long)({v})')
            else:
                c_fmt.append(head + 'lld')
                args.append(f'(long long)({v})')
        if c_fmt or not pieces:
            pieces.append((f'"{c_string("".join(c_fmt))}"', args))
        return pieces, decls


# kernel_long(addr) and friends: (size, signed) of a fault-safe read.
READS = {'kernel_long': (8, 1), 'kernel_int': (4, 1), 'kernel_short': (2, 1),
         'kernel_char': (1, 1), 'kernel_pointer': (8, 0)}

# Built-ins whose C function takes a string buffer of the context first.
TEMP_CALLS = {'execname', 'pexecname', 'substr', 'text_str', 'toupper', 'tolower',
              'str_replace', 'warn'}

# Built-ins that are one call of the runtime (runtime/builtins.h) over their
# arguments: every kernel API they use is spelled there, never here.
CALLS = {
    'pid': 'stp_pid()', 'tid': 'stp_tid()', 'cpu': 'stp_cpu()',
    'task_current': 'stp_task_current()',
    'target': '(s64)stp_target',
    'ppid': 'stp_ppid()',
    'uid': 'stp_uid()', 'euid': 'stp_euid()', 'gid': 'stp_gid()', 'egid': 'stp_egid()',
    'gettimeofday_s': 'stp_gettimeofday_s()',
    'gettimeofday_ms': 'stp_gettimeofday_ms()',
    'gettimeofday_us': 'stp_gettimeofday_us()',
    'gettimeofday_ns': 'stp_gettimeofday_ns()',
    'jiffies': 'stp_jiffies()',
    'local_clock_ns': 'stp_local_clock_ns()',
    'local_clock_us': 'stp_local_clock_us()',
    'get_cycles': 'stp_get_cycles()',
    'HZ': 'stp_hz()',
    'strlen': 'stp_strlen({0})',
    'isinstr': 'stp_isinstr({0}, {1})',
    'strtol': 'stp_strtol(c, {0}, {1})',
}


def translate(program: Program, script_name: str,
              sites: Optional[Callable[[int], List[Tuple[object, Any, str, bool]]]] = None,
              symbols: Any = None) -> List[Handler]:
    """Handlers of the probes, then of the script's functions.

    A probe that reads target variables gets one handler per probe point,
    bound to that point's DWARF: sites(probe index) gives (handler index,
    site or None, why there is no site, whether it is a return) for each.
    """
    tr = Translator(program, script_name)
    tr.symbols = symbols
    tr.dwarf_file = getattr(sites, 'file', None)
    out: List[Handler] = []
    for ps in program.probes:
        if ps.uses_targets and sites is not None:
            out += [tr.handler(ps, site, index, why, ret)
                    for index, site, why, ret in sites(ps.index)]
        else:
            out.append(tr.handler(ps))
    return out + [tr.handler(fs) for _, fs in sorted(program.functions.items())]


def regex_decls(handlers: List[Handler]) -> List[Dict[str, object]]:
    """The compiled regular expressions the handlers use, as the module
    template lays out their data (the C of it is the template's)."""
    programs: Dict[int, regex.Program] = {}
    for h in handlers:
        programs.update(h.regexes)
    out: List[Dict[str, object]] = []
    for num, prog in sorted(programs.items()):
        shown = c_string(prog.pattern).replace('*/', '*\\/').replace('/*', '/\\*')
        out.append({'index': num, 'pattern': shown,
                    'insns': [{'op': i.op, 'lo': i.lo, 'hi': i.hi, 'x': i.x, 'y': i.y,
                               'text': i.text()} for i in prog.insns],
                    'classes': [', '.join(f'{w:#018x}' for w in prog.class_words(k))
                                for k in range(len(prog.classes))]})
    return out


def global_decls(program: Program) -> List[Dict[str, object]]:
    """What the module template declares, initialises and frees for each
    global (the C of it is the template's): its kind, its C name, and for
    arrays their key signature, value type and size."""
    out: List[Dict[str, object]] = []
    for name, g in sorted(program.globals.items()):
        item: Dict[str, object] = {'name': name, 'c_name': global_c_name(name),
                                   'init': None, 'param': None}
        keys = ''.join('s' if k.type == n.STRING else 'l' for k in g.keys)
        item['wrap'] = g.decl.wrap
        if g.is_array:
            item['key_sig'] = keys
            item['size'] = g.decl.size or 'MAXMAPENTRIES'
        if g.is_array and g.value.type == n.STATS:
            mode, lo, hi, step = g.hist or (-1, 0, 0, 0)
            item['kind'] = 'pmap'
            item['hist'] = f'{mode}, {c_number(lo)}, {c_number(hi)}, {c_number(step)}'
        elif g.is_array:
            item['kind'] = 'map'
            item['value_enum'] = 'STP_STRING' if g.value.type == n.STRING else 'STP_LONG'
        elif g.value.type == n.STATS:
            item['kind'] = 'agg'
        elif g.value.type == n.STRING:
            item['kind'] = 'string'
            item['param'] = 'string'
            if isinstance(g.decl.init, n.String):
                item['init'] = f'"{c_string(g.decl.init.value)}"'
        else:
            item['kind'] = 'long'
            item['param'] = 'long'
            if isinstance(g.decl.init, n.Number):
                item['init'] = c_number(g.decl.init.value)
        out.append(item)
    return out
