# SPDX-License-Identifier: GPL-2.0
"""Semantic checks and whole-script type inference.

Types are inferred the way SystemTap does: every variable, array key and
array value starts untyped and takes the type of the first place that
determines it; passes repeat until nothing changes.  A conflict is an
error naming both places.  The result (`Program`) tells the translator,
for every probe, its locals with their types and which globals it touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple

from . import nodes as n
from ..diag import Diagnostic, Pos, StapError, close_matches


@dataclass
class Slot:
    """A typed thing: a scalar, an array key column or an array value."""
    what: str
    type: Optional[str] = None
    pos: Optional[Pos] = None       # where the type was decided


@dataclass
class GlobalSym:
    name: str
    pos: Pos
    decl: n.Global
    hist: Optional[Tuple[int, int, int, int]] = None  # (mode, lo, hi, step) of its histogram
    hist_pos: Optional[Pos] = None
    is_array: Optional[bool] = None
    array_pos: Optional[Pos] = None
    keys: List[Slot] = field(default_factory=list)
    value: Slot = field(default_factory=lambda: Slot('value'))


@dataclass(frozen=True)
class FamilyVar:
    """A variable a probe family gives its handlers ($value of procfs,
    $verdict of netfilter): its type, the runtime function that reads it
    and the one that writes it (none: read only)."""
    type: str
    get: str                        # C: stp_...(c)
    set: str = ''                   # C: stp_...(c, value), '' if read only
    guru: bool = False              # writing it needs -g
    append: str = ''                # C: stp_...(c, s) for .= in place (a string's)


# the variables a probe's family provides (None: its points are of no one family)
FamilyVars = Callable[[n.Probe], Optional[Dict[str, FamilyVar]]]


@dataclass
class ProbeSym:
    """A probe body or a function body: a scope with locals."""
    index: int
    probe: n.Probe
    locals: Dict[str, Slot] = field(default_factory=dict)
    # the globals whose locks the handler takes (not an aggregate it only
    # adds to with <<<: aggregates are per CPU)
    globals_used: Set[str] = field(default_factory=set)
    calls: Set[str] = field(default_factory=set)
    function: Optional[n.Function] = None
    ret: Slot = field(default_factory=lambda: Slot('return value'))
    params: List[str] = field(default_factory=list)
    uses_targets: bool = False      # reads $vars: translated once per probe point
    # probe P if (cond): the globals cond reads; and the conditional probes
    # whose condition this handler re-evaluates when it ends (it uses their globals)
    cond_globals: Set[str] = field(default_factory=set)
    rearms: List[int] = field(default_factory=list)
    family_vars: Dict[str, FamilyVar] = field(default_factory=dict)

    @property
    def body(self) -> n.Block:
        return self.function.body if self.function else self.probe.body


@dataclass
class Builtin:
    name: str
    params: Tuple[str, ...]
    ret: Optional[str]          # None: returns nothing
    varargs: bool = False
    optional: int = 0           # how many trailing params may be left out


ANY = '*'          # a parameter that takes a long or a string

BUILTINS: Dict[str, Builtin] = {b.name: b for b in [
    Builtin('printf', (n.STRING,), None, varargs=True),
    Builtin('sprintf', (n.STRING,), n.STRING, varargs=True),
    Builtin('print', (ANY,), None),
    Builtin('println', (ANY,), None),
    Builtin('printd', (n.STRING,), None, varargs=True),
    Builtin('printdln', (n.STRING,), None, varargs=True),
    Builtin('sprint', (ANY,), n.STRING),
    Builtin('exit', (), None),
    Builtin('error', (n.STRING,), None),
    Builtin('execname', (), n.STRING),
    Builtin('pid', (), n.LONG),
    Builtin('tid', (), n.LONG),
    Builtin('task_current', (), n.LONG),
    Builtin('target', (), n.LONG),
    Builtin('backtrace', (), n.STRING),
    Builtin('sprint_backtrace', (), n.STRING),
    Builtin('print_backtrace', (), None),
    Builtin('caller', (), n.STRING),
    Builtin('caller_addr', (), n.LONG),
    Builtin('ppid', (), n.LONG),
    Builtin('uid', (), n.LONG),
    Builtin('euid', (), n.LONG),
    Builtin('gid', (), n.LONG),
    Builtin('egid', (), n.LONG),
    Builtin('cpu', (), n.LONG),
    Builtin('probefunc', (), n.STRING),
    Builtin('pp', (), n.STRING),
    Builtin('pn', (), n.STRING),
    Builtin('gettimeofday_s', (), n.LONG),
    Builtin('gettimeofday_ms', (), n.LONG),
    Builtin('gettimeofday_us', (), n.LONG),
    Builtin('gettimeofday_ns', (), n.LONG),
    Builtin('jiffies', (), n.LONG),
    Builtin('local_clock_ns', (), n.LONG),
    Builtin('local_clock_us', (), n.LONG),
    Builtin('strlen', (n.STRING,), n.LONG),
    Builtin('substr', (n.STRING, n.LONG, n.LONG), n.STRING),
    Builtin('isinstr', (n.STRING, n.STRING), n.LONG),
    Builtin('strtol', (n.STRING, n.LONG), n.LONG),
    Builtin('text_str', (n.STRING,), n.STRING),
    Builtin('toupper', (n.STRING,), n.STRING),
    Builtin('tolower', (n.STRING,), n.STRING),
    Builtin('str_replace', (n.STRING, n.STRING, n.STRING), n.STRING),
    Builtin('stringat', (n.STRING, n.LONG), n.LONG),
    Builtin('ppfunc', (), n.STRING),
    Builtin('pexecname', (), n.STRING),
    Builtin('get_cycles', (), n.LONG),
    Builtin('HZ', (), n.LONG),
    Builtin('log', (n.STRING,), None),
    Builtin('warn', (n.STRING,), None),
    # reads of kernel and user memory: a bad address is a script error
    # (or the default value given), never a fault
    Builtin('kernel_string', (n.LONG, n.STRING), n.STRING, optional=1),
    Builtin('kernel_string_n', (n.LONG, n.LONG), n.STRING),
    Builtin('kernel_long', (n.LONG,), n.LONG),
    Builtin('kernel_int', (n.LONG,), n.LONG),
    Builtin('kernel_short', (n.LONG,), n.LONG),
    Builtin('kernel_char', (n.LONG,), n.LONG),
    Builtin('kernel_pointer', (n.LONG,), n.LONG),
    Builtin('user_string', (n.LONG, n.STRING), n.STRING, optional=1),
    Builtin('user_string_n', (n.LONG, n.LONG), n.STRING),
]}

# a C length modifier (%ld, %llx) is taken and ignored: every number is 64 bits
_FORMAT = re.compile(r'%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+|\*))?'
                     r'(?:hh|h|ll|l|j|z|t|L)?(?P<conv>.)', re.S)
NUMERIC_CONV = 'diuxXocb'


@dataclass
class FormatSpec:
    text: str           # the directive as written
    conv: str
    flags: str
    width: Optional[str]
    prec: Optional[str]
    offset: int         # position in the format string

    @property
    def stars(self) -> int:
        """How many numbers the directive takes before its value (%*.*s)."""
        return (self.width == '*') + (self.prec == '*')


def parse_format(fmt: str) -> Tuple[List[object], Optional[str]]:
    """Split a printf format into literal strings and FormatSpecs."""
    parts: List[object] = []
    i = 0
    while i < len(fmt):
        j = fmt.find('%', i)
        if j < 0:
            parts.append(fmt[i:])
            break
        if j > i:
            parts.append(fmt[i:j])
        m = _FORMAT.match(fmt, j)
        if not m:
            return parts, f'incomplete format directive at offset {j}'
        conv = m.group('conv')
        if conv == '%':
            parts.append('%')
        elif conv in NUMERIC_CONV + 'sp':
            if conv == 'b' and '*' in (m.group('width'), m.group('prec')):
                return parts, "'%b' takes no '*' width"
            if conv == 'b' and m.group('width') not in (None, '1', '2', '4', '8'):
                return parts, f"'{m.group(0)}' writes 1, 2, 4 or 8 bytes: use %1b, %2b, " \
                    '%4b or %8b (the default)'
            parts.append(FormatSpec(m.group(0), conv, m.group('flags'),
                                    m.group('width'), m.group('prec'), j))
        else:
            return parts, f"unknown format directive '%{conv}'"
        i = m.end()
    return parts, None


@dataclass
class Program:
    script: n.Script
    globals: Dict[str, GlobalSym]
    probes: List[ProbeSym]
    functions: Dict[str, ProbeSym] = field(default_factory=dict)


GURU_HINT = ('embedded C and writes to the probed code are guru mode (-g): SystemTap '
             'refuses them too without -g')


class Checker:
    def __init__(self, script: n.Script, guru: bool = False,
                 family_vars: Optional[FamilyVars] = None) -> None:
        self.script = script
        self.guru = guru
        self.family_vars = family_vars
        self.globals: Dict[str, GlobalSym] = {}
        self.errors: List[Diagnostic] = []
        self.changed = False
        self.probe: Optional[ProbeSym] = None
        self.foreach_arrays: List[str] = []

    # -- entry --------------------------------------------------------------
    def _defined_at(self, name: str) -> str:
        first = self.functions[name].function
        return str(first.pos) if first is not None else '?'

    def _guru(self, what: str, pos: Pos, trusted: bool = False) -> None:
        if not self.guru and not trusted:
            self._err(f'{what} needs guru mode (-g)', pos, hint=GURU_HINT)

    def check(self) -> Program:
        self.functions: Dict[str, ProbeSym] = {}
        for emb in self.script.embedded:
            self._guru('embedded C', emb.pos, emb.trusted)
        for f in self.script.functions:
            if f.name in self.functions:
                self.errors.append(Diagnostic(
                    f"function '{f.name}' is defined twice", f.pos,
                    hint=f'first defined at {self._defined_at(f.name)}'))
                continue
            fs = ProbeSym(len(self.script.probes) + len(self.functions),
                          n.Probe(f.pos, [], f.body), function=f,
                          params=[p.name for p in f.params])
            for prm in f.params:
                if prm.name in fs.locals:
                    self.errors.append(Diagnostic(f"parameter '{prm.name}' is given twice",
                                                  prm.pos))
                fs.locals[prm.name] = Slot(f"parameter '{prm.name}'", prm.type,
                                           prm.pos if prm.type else None)
            if f.ret:
                fs.ret.type, fs.ret.pos = f.ret, f.pos
            if f.embedded is not None:
                self._guru(f"function '{f.name}' in embedded C", f.pos, f.embedded.trusted)
            self.functions[f.name] = fs
        for g in self.script.globals:
            if g.name in self.globals:
                self.errors.append(Diagnostic(
                    f"global '{g.name}' is declared twice", g.pos,
                    hint=f'first declared at {self.globals[g.name].pos}'))
                continue
            sym = GlobalSym(g.name, g.pos, g)
            if g.size is not None:
                self._set_array(sym, True, g.pos)
            if g.init is not None:
                self._set_array(sym, False, g.pos)
                self._unify(sym.value, g.init.__class__ is n.String and n.STRING or n.LONG,
                            g.pos, f"global '{g.name}'")
            self.globals[g.name] = sym
        probes = [ProbeSym(i, p) for i, p in enumerate(self.script.probes)]
        if self.family_vars is not None:
            for ps in probes:
                ps.family_vars = self.family_vars(ps.probe) or {}
        scopes = probes + list(self.functions.values())
        for _ in range(20):
            self.changed = False
            for ps in scopes:
                self.probe = ps
                if ps.probe.condition is not None:
                    self._condition(ps.probe.condition)
                self._stmt(ps.body)
            if self.errors or not self.changed:
                break
        for fs in self.functions.values():
            if fs.ret.type is None:
                fs.ret.type = n.LONG        # a function that returns nothing
            if fs.function is not None and fs.function.embedded is not None:
                for pname in fs.params:     # a parameter no caller decides: a long
                    if fs.locals[pname].type is None:
                        fs.locals[pname].type = n.LONG
        if not self.errors:
            self._final(scopes)
            self._propagate_globals(scopes)
            self._rearming(probes)
        if self.errors:
            raise StapError(*self.errors)
        return Program(self.script, self.globals, probes, self.functions)

    def _condition(self, cond: n.Expr) -> None:
        """probe P if (cond): cond reads globals only (it is checked when they
        change, outside any handler)."""
        assert self.probe is not None
        before = set(self.probe.locals)
        used = set(self.probe.globals_used)
        self.probe.globals_used = set()
        self._expr(cond, n.LONG)
        self.probe.cond_globals |= self.probe.globals_used
        self.probe.globals_used |= used
        for name in set(self.probe.locals) - before:
            del self.probe.locals[name]
            self._err(f"a probe condition reads globals only, and '{name}' is not one",
                      cond.pos, hint=f'declare it: global {name}')

    def _rearming(self, probes: List[ProbeSym]) -> None:
        """A handler that uses a global some probe's condition reads checks
        that condition again when it ends (holding its globals' locks too),
        so the probe is armed or disarmed as the condition changes."""
        for cp in probes:
            if cp.probe.condition is None:
                continue
            for ps in probes:
                if ps.globals_used & cp.cond_globals:
                    ps.rearms.append(cp.index)
                    ps.globals_used |= cp.cond_globals

    def _propagate_globals(self, scopes: List[ProbeSym]) -> None:
        """A probe locks what it touches and what the functions it calls touch."""
        for ps in scopes:
            seen: Set[str] = set()
            pending = list(ps.calls)
            while pending:
                name = pending.pop()
                if name in seen:
                    continue
                seen.add(name)
                fs = self.functions[name]
                ps.globals_used |= fs.globals_used
                pending.extend(fs.calls)

    def _final(self, probes: List[ProbeSym]) -> None:
        for ps in probes:
            for name, slot in ps.locals.items():
                if slot.type in (n.STATS, n.HIST):
                    self.errors.append(Diagnostic(
                        f"local '{name}' cannot hold an aggregate", slot.pos or ps.probe.pos,
                        hint='aggregates must be globals'))
        for g in list(self.globals.values()):
            if g.decl.library and (g.is_array is None or
                                   all(x.type is None for x in g.keys + [g.value])):
                del self.globals[g.name]    # a tapset's global nothing uses
                continue
            if g.is_array is None:
                self.errors.append(Diagnostic(f"global '{g.name}' is never used", g.pos,
                                              severity='error',
                                              hint='remove it or use it'))
                continue
            for slot in g.keys + [g.value]:
                if slot.type is None:
                    self.errors.append(Diagnostic(
                        f"cannot infer the type of {slot.what} of global '{g.name}'",
                        g.pos, hint='assign it a number or a string somewhere'))
        for ps in probes:
            for name, slot in ps.locals.items():
                if slot.type is None:
                    self.errors.append(Diagnostic(
                        f"cannot infer the type of local '{name}'", slot.pos or ps.probe.pos,
                        hint='assign it a number or a string before use'))

    # -- helpers ------------------------------------------------------------
    def _err(self, msg: str, pos: Pos, hint: Optional[str] = None) -> None:
        if not any(d.pos == pos and d.message == msg for d in self.errors):
            self.errors.append(Diagnostic(msg, pos, hint))

    def _unify(self, slot: Slot, typ: Optional[str], pos: Pos, what: str) -> Optional[str]:
        if typ is None:
            return slot.type
        if slot.type is None:
            slot.type, slot.pos = typ, pos
            self.changed = True
            return typ
        if slot.type != typ:
            self._err(f'type mismatch: {what} is used as a {typ} here', pos,
                      hint=f'it is a {slot.type} because of {slot.pos}')
        return slot.type

    def _set_array(self, g: GlobalSym, is_array: bool, pos: Pos) -> None:
        if g.is_array is None:
            g.is_array, g.array_pos = is_array, pos
            self.changed = True
        elif g.is_array != is_array:
            kind = 'an array' if is_array else 'a scalar'
            self._err(f"'{g.name}' is used as {kind} here", pos,
                      hint=f"it is {'an array' if g.is_array else 'a scalar'} "
                           f"because of {g.array_pos}")

    def _array(self, name: str, nkeys: int, pos: Pos, lock: bool = True) -> Optional[GlobalSym]:
        g = self.globals.get(name)
        if g is None:
            if self.probe and name in self.probe.locals:
                self._err(f"'{name}' is a local variable, not an array", pos,
                          hint=f"declare it at the top level: global {name}")
            else:
                self._err(f"unknown array '{name}'", pos,
                          hint=f'declare it: global {name}')
            return None
        assert self.probe is not None
        if lock:
            self.probe.globals_used.add(name)
        self._set_array(g, True, pos)
        if not g.keys:
            if nkeys > 9:
                self._err(f"array '{name}' has {nkeys} keys; at most 9 are allowed", pos)
            g.keys = [Slot(f'key {i + 1}') for i in range(nkeys)]
            self.changed = True
        elif len(g.keys) != nkeys:
            self._err(f"array '{name}' is indexed with {nkeys} key(s) here but "
                      f"{len(g.keys)} elsewhere", pos)
            return None
        return g

    def _indexed(self, array: str, keys: List[n.Expr], pos: Pos,
                 lock: bool = True, wild: bool = False) -> Optional[GlobalSym]:
        """array[keys...]: the keys take (or must have) the key types; with
        wild, a key may be * (any key)."""
        g = self._array(array, len(keys), pos, lock)
        if g is not None:
            for k, slot in zip(keys, g.keys):
                if isinstance(k, n.Wildcard):
                    if not wild:
                        self._err("'*' stands for any key only in delete and in "
                                  "membership tests", k.pos,
                                  hint=f'delete {array}[*, k]  or  [*, k] in {array}')
                    k.type = slot.type
                    continue
                self._unify(slot, self._expr(k, slot.type), k.pos, f"key of '{array}'")
        return g

    def _var_slot(self, name: str, pos: Pos, assigning: bool) -> Optional[Slot]:
        g = self.globals.get(name)
        assert self.probe is not None
        if g is not None:
            self.probe.globals_used.add(name)
            self._set_array(g, False, pos)
            return g.value
        slot = self.probe.locals.get(name)
        if name in BUILTINS and slot is None and not assigning:
            # a local may be named like a function (pid = pid()), once assigned
            self._err(f"'{name}' is a function; call it as {name}()", pos,
                      hint=f"or assign the local '{name}' before reading it")
            return None
        if slot is None:
            slot = Slot(f"local '{name}'", pos=None)
            self.probe.locals[name] = slot
            if not assigning:
                self.changed = True
        return slot

    # -- statements ---------------------------------------------------------
    def _stmt(self, s: n.Stmt) -> None:
        if isinstance(s, n.Block):
            for x in s.body:
                self._stmt(x)
        elif isinstance(s, n.ExprStmt):
            self._expr(s.expr, None, want_value=False)
        elif isinstance(s, n.If):
            self._expr(s.cond, n.LONG)
            self._stmt(s.then)
            if s.other:
                self._stmt(s.other)
        elif isinstance(s, n.While):
            self._expr(s.cond, n.LONG)
            self._stmt(s.body)
        elif isinstance(s, n.For):
            for e in (s.init, s.step):
                if e is not None:
                    self._expr(e, None, want_value=False)
            if s.cond is not None:
                self._expr(s.cond, n.LONG)
            self._stmt(s.body)
        elif isinstance(s, n.Foreach):
            self._foreach(s)
        elif isinstance(s, n.Try):
            self._stmt(s.body)
            if s.var:
                slot = self._var_slot(s.var, s.pos, assigning=True)
                if slot is not None:
                    self._unify(slot, n.STRING, s.pos, f"catch variable '{s.var}'")
            self._stmt(s.handler)
        elif isinstance(s, n.Delete):
            self._delete(s)
        elif isinstance(s, n.Jump):
            assert self.probe is not None
            if s.kind == 'next' and self.probe.function is not None:
                self._err("'next' in a function", s.pos, hint='use return')
        elif isinstance(s, n.Return):
            assert self.probe is not None
            if self.probe.function is None:
                self._err('return outside a function', s.pos)
            elif s.value is not None:
                t = self._expr(s.value, self.probe.ret.type)
                self._unify(self.probe.ret, t, s.value.pos,
                            f"the return value of '{self.probe.function.name}'")
        else:  # pragma: no cover - the parser makes no other statements
            raise AssertionError(s)

    def _foreach(self, s: n.Foreach) -> None:
        g = self._array(s.array, len(s.keys), s.array_pos or s.pos)
        if g is None:
            return
        if s.slice is not None:
            if len(s.slice) != len(s.keys):
                self._err(f"the slice of '{s.array}' has {len(s.slice)} key(s), the array "
                          f'{len(s.keys)}', s.array_pos or s.pos)
            for k, kslot in zip(s.slice, g.keys):
                if not isinstance(k, n.Wildcard):
                    self._unify(kslot, self._expr(k, kslot.type), k.pos,
                                f"key of '{s.array}'")
        if s.array in self.foreach_arrays:
            self._err(f"nested foreach over the same array '{s.array}'", s.pos)
        if s.sort_key > len(s.keys):
            self._err('sort key out of range', s.pos)
        assert self.probe is not None
        for name, key in zip(s.keys, g.keys):
            slot = self._var_slot(name, s.pos, assigning=True)
            if slot is not None and name not in self.globals:
                self._unify(slot, key.type, s.pos, f"foreach variable '{name}'")
                self._unify(key, slot.type, s.pos, f"key of '{s.array}'")
            elif name in self.globals:
                self._err(f"foreach variable '{name}' is a global", s.pos,
                          hint='iterate with a local name')
        if s.value:
            slot = self._var_slot(s.value, s.pos, assigning=True)
            if slot is not None:
                self._unify(slot, g.value.type, s.pos, f"foreach value '{s.value}'")
                self._unify(g.value, slot.type, s.pos, f"values of '{s.array}'")
        if s.limit is not None:
            self._expr(s.limit, n.LONG)
        if s.sort_agg and g.value.type not in (None, n.STATS):
            self._err(f"'@{s.sort_agg}' sorts an array of aggregates; '{s.array}' holds "
                      f"{g.value.type}s", s.pos, hint='sort values with + or - alone')
        self.foreach_arrays.append(s.array)
        self._stmt(s.body)
        self.foreach_arrays.pop()

    def _delete(self, s: n.Delete) -> None:
        t = s.target
        if isinstance(t, n.Index):
            self._indexed(t.array, t.keys, t.pos, wild=True)
        elif isinstance(t, n.Var):
            g = self.globals.get(t.name)
            if g is None:
                self._var_slot(t.name, t.pos, assigning=True)
            else:
                assert self.probe is not None
                self.probe.globals_used.add(t.name)

    # -- expressions --------------------------------------------------------
    def _expr(self, e: n.Expr, want: Optional[str],
              want_value: bool = True) -> Optional[str]:
        t = self._infer(e, want, want_value)
        if t is not None:
            e.type = t
        if want is not None and t is not None and t != want:
            self._err(f'expected a {want}, but this is a {t}', e.pos)
        return t

    def _infer(self, e: n.Expr, want: Optional[str], want_value: bool) -> Optional[str]:
        if isinstance(e, n.Number):
            return n.LONG
        if isinstance(e, n.String):
            return n.STRING
        if isinstance(e, n.Var):
            slot = self._var_slot(e.name, e.pos, assigning=False)
            return self._unify(slot, want, e.pos, f"'{e.name}'") if slot else None
        if isinstance(e, n.Index):
            g = self._indexed(e.array, e.keys, e.pos)
            if g is None:
                return None
            return self._unify(g.value, want, e.pos, f"values of '{e.array}'")
        if isinstance(e, n.InArray):
            self._indexed(e.array, e.keys, e.pos, wild=True)
            return n.LONG
        if isinstance(e, n.Wildcard):
            self._err("'*' stands for any key only in delete and in membership tests",
                      e.pos)
            return None
        if isinstance(e, n.EmbeddedExpr):
            self._guru('an embedded C expression', e.pos, e.trusted)
            return n.STRING if '/* string */' in e.code else n.LONG
        if isinstance(e, n.AggAdd):
            self._aggregate(e.target, e.pos, adding=True)
            self._expr(e.value, n.LONG)
            if want_value:
                self._err('<<< gives no value', e.pos)
            return None
        if isinstance(e, n.StatOp):
            return self._statop(e)
        if isinstance(e, n.Call):
            return self._call(e, want_value)
        if isinstance(e, n.Unary):
            self._expr(e.operand, n.LONG)
            return n.LONG
        if isinstance(e, n.Binary):
            return self._binary(e, want)
        if isinstance(e, n.Ternary):
            self._expr(e.cond, n.LONG)
            a = self._expr(e.then, want)
            b = self._expr(e.other, want or a)
            if a and b and a != b:
                self._err(f'the two branches have different types ({a} and {b})', e.pos)
            return a or b
        if isinstance(e, n.Assign):
            return self._assign(e, want)
        if isinstance(e, n.IncDec):
            self._lvalue(e.target, n.LONG, e.pos)
            return n.LONG
        if isinstance(e, n.Target):
            return self._target(e)
        if isinstance(e, n.Entry):
            assert self.probe is not None
            self.probe.uses_targets = True      # saved at the entry of each function
            return self._expr(e.expr, None) or self._expr(e.expr, n.LONG)
        if isinstance(e, n.Defined):
            self._expr(e.expr, None)
            return n.LONG
        raise AssertionError(e)  # pragma: no cover

    def _family_var(self, e: n.Target) -> Optional[FamilyVar]:
        assert self.probe is not None
        v = self.probe.family_vars.get(e.base[1:]) if e.base.startswith('$') else None
        if v is not None and (e.steps or e.pretty or e.address_of):
            self._err(f"'{e.base}' is a {v.type} of the probe, not a structure", e.pos)
        return v

    def _target(self, e: n.Target) -> str:
        assert self.probe is not None
        fv = self._family_var(e)
        if fv is not None:
            return fv.type
        if e.base == '$$name':
            self._err("'$$name' is the tracepoint's name: it belongs in kernel.trace probes",
                      e.pos)
            return n.STRING
        if self.probe.function is not None and e.base != '@cast':
            self._err(f"'{e.text()}': target variables belong to probes, not functions",
                      e.pos, hint='pass the value to the function as an argument')
        self.probe.uses_targets = True
        if e.operand is not None:
            self._expr(e.operand, n.LONG)
        for st in e.steps:
            if st.index is not None:
                self._expr(st.index, n.LONG)
        return n.STRING if e.is_string else n.LONG

    def _aggregate(self, target: n.Expr, pos: Pos, adding: bool = False) -> Optional[GlobalSym]:
        """The global (scalar or array) whose aggregate target names."""
        name = target.name if isinstance(target, n.Var) else \
            target.array if isinstance(target, n.Index) else None
        g = self.globals.get(name or '')
        if g is None:
            self._err('aggregates must be globals', target.pos,
                      hint=f'declare it: global {name}' if name else None)
            return None
        # (adding needs no lock: aggregates are per CPU)
        if isinstance(target, n.Index):
            self._indexed(target.array, target.keys, target.pos, lock=not adding)
        else:
            assert self.probe is not None
            if not adding:
                self.probe.globals_used.add(g.name)
            self._set_array(g, False, target.pos)
        self._unify(g.value, n.STATS, pos, f"'{g.name}'")
        target.type = n.STATS
        return g

    def _statop(self, e: n.StatOp) -> Optional[str]:
        g = self._aggregate(e.target, e.pos)
        if e.op not in ('hist_log', 'hist_linear'):
            return n.LONG
        spec: Tuple[int, int, int, int] = (0, 0, 0, 0)
        if e.op == 'hist_linear':
            vals = []
            for a in e.args:
                v = a.value if isinstance(a, n.Number) else \
                    -a.operand.value if isinstance(a, n.Unary) and a.op == '-' and \
                    isinstance(a.operand, n.Number) else None
                if v is None:
                    self._err('@hist_linear takes literal numbers for lo, hi, step', a.pos)
                    return n.HIST
                vals.append(v)
            lo, hi, step = vals
            if step <= 0 or hi <= lo or (hi - lo) // step + 3 > 128:
                self._err('@hist_linear needs step > 0, hi > lo and at most 128 buckets',
                          e.pos)
            spec = (1, lo, hi, step)
        if g is not None:
            if g.hist is not None and g.hist != spec:
                self._err(f"'{g.name}' is printed with two different histograms", e.pos,
                          hint=f'the other is at {g.hist_pos}')
            g.hist, g.hist_pos = spec, e.pos
        return n.HIST

    def _binary(self, e: n.Binary, want: Optional[str]) -> Optional[str]:
        if e.op == '.':
            self._expr(e.left, n.STRING)
            self._expr(e.right, n.STRING)
            return n.STRING
        if e.op in ('=~', '!~'):
            # the regular expression is compiled when the script is translated
            self._expr(e.left, n.STRING)
            if not isinstance(e.right, n.String):
                self._err(f'the right side of {e.op} must be a string literal', e.right.pos,
                          hint='a regular expression is compiled with the script: '
                               'it cannot be computed at run time')
                self._expr(e.right, None)
            else:
                self._expr(e.right, n.STRING)
            return n.LONG
        if e.op in ('==', '!=', '<', '>', '<=', '>='):
            a = self._expr(e.left, None)
            b = self._expr(e.right, a)
            if a is None and b is not None:
                self._expr(e.left, b)
            return n.LONG
        self._expr(e.left, n.LONG)
        self._expr(e.right, n.LONG)
        return n.LONG

    def _lvalue(self, target: n.Expr, typ: Optional[str], pos: Pos) -> Optional[str]:
        if isinstance(target, n.Var):
            slot = self._var_slot(target.name, target.pos, assigning=True)
            if slot is None:
                return None
            t = self._unify(slot, typ, pos, f"'{target.name}'")
            if slot.pos is None and t is not None:
                slot.pos = pos
            target.type = t
            return t
        if isinstance(target, n.Index):
            return self._expr(target, typ)
        fv = self._family_var(target) if isinstance(target, n.Target) else None
        if isinstance(target, n.Target) and fv is not None:
            if not fv.set:
                self._err(f"'{target.base}' is read only in this probe", target.pos)
            elif fv.guru:
                self._guru(f"writing '{target.base}'", target.pos)
            if typ is not None and typ != fv.type:
                self._err(f"'{target.base}' takes a {fv.type}", pos)
            target.type = fv.type
            return fv.type
        if isinstance(target, n.Target):
            self._guru(f"writing to the target variable '{target.text()}'", target.pos)
            if target.is_string or target.address_of:
                self._err(f"cannot assign to '{target.text()}'", target.pos)
            self._target(target)
            if typ is not None and typ != n.LONG:
                self._err(f"'{target.text()}' takes a number", pos)
            target.type = n.LONG
            return n.LONG
        self._err('cannot assign to this expression', target.pos)
        return None

    def _assign(self, e: n.Assign, want: Optional[str]) -> Optional[str]:
        if e.op == '=':
            vt = self._expr(e.value, None)
            t = self._lvalue(e.target, vt, e.pos)
            if vt is None and t is not None:
                self._expr(e.value, t)
            return t
        typ = n.STRING if e.op == '.=' else n.LONG
        self._expr(e.value, typ)
        return self._lvalue(e.target, typ, e.pos)

    def _call(self, e: n.Call, want_value: bool) -> Optional[str]:
        fs = self.functions.get(e.name)
        if fs is not None:
            assert self.probe is not None
            self.probe.calls.add(e.name)
            f = fs.function
            if f is not None and f.embedded is not None and 'guru' in f.embedded.pragmas:
                self._guru(f"'{e.name}', marked /* guru */,", e.pos, e.trusted)
            if len(e.args) != len(fs.params):
                self._err(f"'{e.name}' takes {len(fs.params)} argument(s), "
                          f'{len(e.args)} given', e.pos,
                          hint=f'defined at {fs.function.pos}' if fs.function else None)
            for a, pname in zip(e.args, fs.params):
                slot = fs.locals[pname]
                t = self._expr(a, slot.type)
                self._unify(slot, t, a.pos, f"parameter '{pname}' of '{e.name}'")
            return fs.ret.type
        b = BUILTINS.get(e.name)
        if b is None:
            near = close_matches(e.name, list(BUILTINS) + list(self.functions))
            self._err(f"unknown function '{e.name}'", e.pos,
                      hint=f"did you mean {' or '.join(near)}?" if near else None)
            return None
        if b.ret is None and want_value:
            if e.name == 'exit' and not e.args:
                return n.LONG           # count && exit(): 0 as a value
            self._err(f"'{e.name}()' returns no value", e.pos)
        if e.name in ('printf', 'sprintf'):
            self._printf(e)
            return b.ret
        if e.name in ('printd', 'printdln'):
            if len(e.args) < 2 or not isinstance(e.args[0], n.String):
                self._err(f'{e.name} needs a literal delimiter and at least one value',
                          e.pos)
            for a in e.args:
                if self._expr(a, None) is None:
                    self._expr(a, n.LONG)
            return None
        if e.name == 'println' and not e.args:
            return None                 # println(): a newline
        if e.name in ('print', 'println') and len(e.args) > 1:
            for a in e.args:            # print(a, b, c): each, one after the other
                got = self._expr(a, None)
                if got is None:
                    self._expr(a, n.LONG)
                elif got in (n.HIST, n.STATS):
                    self._err(f'{e.name} with several values takes numbers and strings',
                              a.pos)
            return None
        if not len(b.params) - b.optional <= len(e.args) <= len(b.params):
            takes = str(len(b.params)) if not b.optional else \
                f'{len(b.params) - b.optional} to {len(b.params)}'
            self._err(f"'{e.name}' takes {takes} argument(s), "
                      f"{len(e.args)} given", e.pos)
        for a, t in zip(e.args, b.params):
            if t == ANY:
                got = self._expr(a, None)
                if got is None:
                    self._expr(a, n.LONG)
                elif got == n.HIST and e.name not in ('print', 'println'):
                    self._err('a histogram can only be printed with print()', a.pos)
                elif got == n.STATS:
                    self._err('an aggregate is read with @count(), @sum(), ...', a.pos)
            else:
                self._expr(a, t)
        return b.ret

    def _printf(self, e: n.Call) -> None:
        if not e.args or not isinstance(e.args[0], n.String):
            self._err('printf needs a literal format string first', e.pos)
            for a in e.args:
                self._expr(a, None)
            return
        e.args[0].type = n.STRING
        parts, problem = parse_format(e.args[0].value)
        if problem:
            self._err(f'bad printf format: {problem}', e.args[0].pos)
            return
        specs = [p for p in parts if isinstance(p, FormatSpec)]
        if e.name != 'printf' and any(p.conv == 'b' for p in specs):
            self._err(f"'%b' writes binary output: only printf takes it, not {e.name}",
                      e.args[0].pos)
        args = e.args[1:]
        wants: List[Tuple[FormatSpec, str]] = []
        for spec in specs:
            wants += [(spec, n.LONG)] * spec.stars
            wants.append((spec, n.STRING if spec.conv == 's' else n.LONG))
        if len(wants) != len(args):
            stars = len(wants) - len(specs)
            self._err(f'printf format has {len(specs)} directive(s) but {len(args)} '
                      'argument(s) follow' +
                      (f' (it takes {len(wants)} with its * widths)' if stars else ''),
                      e.args[0].pos)
        for (spec, want), a in zip(wants, args):
            got = self._expr(a, None)
            if got is None:
                self._expr(a, want)
            elif got != want:
                self._err(f"format '{spec.text}' expects a {want}, but the "
                          f'argument is a {got}', a.pos)


def check(script: n.Script, guru: bool = False,
          family_vars: Optional[FamilyVars] = None) -> Program:
    try:
        return Checker(script, guru, family_vars).check()
    except RecursionError:
        raise StapError(Diagnostic('the script nests too deeply to check',
                                   hint='split deep expressions into statements')) from None
