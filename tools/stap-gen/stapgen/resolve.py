"""Resolve probe points against a tree into kprobe placements.

A kernel.function probe becomes a kprobe on symbol+offset where the symbol
is unique in the kernel's kallsyms namespace: register_kprobe() resolves a
name through kallsyms and takes the first match, so a duplicated name
would silently probe the wrong function.  A point that cannot be placed
exactly is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from . import nodes as n
from .diag import Pos, error, close_matches
from .symbols import Dwarf, SymbolTable

CLONE_SUFFIXES = ('.isra.', '.constprop.', '.part.', '.cold', '.llvm.')


@dataclass
class Resolved:
    """One probe point, placed."""
    handler: int            # index of the script probe whose body runs
    kind: str               # 'begin', 'end', 'kprobe', 'kretprobe', 'timer'
    pp: str                 # what pp() returns and -p2 prints
    func: str = ''          # probefunc()
    symbol: str = ''
    offset: int = 0
    period_ns: int = 0
    index: int = 0          # position in the module's probe table

    def describe(self) -> str:
        if self.kind in ('kprobe', 'kretprobe'):
            return f'{self.pp} /* pc=<{self.symbol}+{self.offset:#x}> */'
        return self.pp


class Resolver:
    def __init__(self, symbols: Optional[SymbolTable], dwarf: Optional[Dwarf]) -> None:
        self.symbols = symbols
        self.dwarf = dwarf

    def resolve(self, script: n.Script) -> List[Resolved]:
        out: List[Resolved] = []
        for i, probe in enumerate(script.probes):
            for point in probe.points:
                out.extend(self._point(i, point))
        for j, r in enumerate(out):
            r.index = j
        return out

    def _point(self, handler: int, pp: n.ProbePoint) -> List[Resolved]:
        comps = pp.components
        names = [c.name for c in comps]
        if names in (['begin'], ['end']):
            self._no_arg(comps[0])
            return [Resolved(handler, names[0], names[0])]
        if names[0] == 'timer' and len(comps) == 2 and names[1] in ('ms', 's'):
            period = comps[1].arg
            if not isinstance(period, int) or period <= 0:
                raise error(f'timer.{names[1]} needs a positive number', comps[1].pos)
            ns = period * (1_000_000 if names[1] == 'ms' else 1_000_000_000)
            return [Resolved(handler, 'timer', str(pp).rstrip('?'), period_ns=ns)]
        if names[0] == 'kernel' and len(comps) in (2, 3) and names[1] == 'function':
            ret = len(comps) == 3
            if ret and names[2] != 'return':
                raise error(f"unknown probe point suffix '.{names[2]}'", comps[2].pos,
                            hint="kernel.function(...) takes '.return'")
            return self._function(handler, pp, comps[1], ret)
        raise error(f"unknown probe point '{pp}'", pp.pos,
                    hint='supported: begin, end, kernel.function("NAME")[.return], '
                         'timer.ms(N), timer.s(N)')

    def _no_arg(self, c: n.Component) -> None:
        if c.arg is not None:
            raise error(f"'{c.name}' takes no argument", c.pos)

    def _function(self, handler: int, pp: n.ProbePoint, comp: n.Component,
                  ret: bool) -> List[Resolved]:
        name = comp.arg
        if not isinstance(name, str) or not name:
            raise error('kernel.function needs a function name in quotes', comp.pos)
        if any(ch in name for ch in '*?[]@:{}'):
            raise error(f'kernel.function("{name}"): patterns and @file are not '
                        'supported yet; name one function', comp.pos)
        syms = self.symbols
        if syms is None:
            raise error('kernel.function probes need the tree\'s vmlinux', comp.pos)
        funcs = syms.functions(name)
        if not funcs:
            self._no_function(name, comp.pos)
        if len(funcs) > 1 or syms.count(name) > 1:
            where = []
            for f in funcs:
                loc = self.dwarf.function_decl(f.addr) if self.dwarf else None
                where.append(f'{loc.file}:{loc.line}' if loc else f'{f.addr:#x}')
            raise error(f"'{name}' names {syms.count(name)} symbols in this kernel "
                        f"({', '.join(where)}); a kprobe on that name would take the "
                        'first one', comp.pos,
                        hint='probing duplicated static names is not supported yet')
        f = funcs[0]
        why = syms.refused_region(f.addr)
        if why:
            raise error(f"'{name}' is in {why}: kprobes refuse it", comp.pos)
        if f.addr in syms.blacklist:
            raise error(f"'{name}' is marked NOKPROBE_SYMBOL: kprobes refuse it", comp.pos)
        loc = self.dwarf.function_decl(f.addr) if self.dwarf else None
        where = f'@{loc.file}:{loc.line}' if loc else ''
        shown = f'kernel.function("{name}{where}")' + ('.return' if ret else '')
        return [Resolved(handler, 'kretprobe' if ret else 'kprobe', shown,
                         func=name, symbol=name, offset=0)]

    def _no_function(self, name: str, pos: Pos) -> None:
        assert self.symbols is not None
        clones = [s for s in self.symbols.by_name
                  if s.startswith(name + '.') and any(x in s[len(name):] for x in CLONE_SUFFIXES)]
        if clones:
            raise error(f"'{name}' exists only as compiler clone(s): "
                        f"{', '.join(sorted(clones)[:4])}", pos,
                        hint='probing compiler clones is not supported yet')
        candidates = [s for s in set(self.symbols.names())
                      if s[:1] == name[:1] and abs(len(s) - len(name)) <= 3]
        near = close_matches(name, candidates)
        raise error(f"no function '{name}' in {self.symbols.path}", pos,
                    hint=f"did you mean {', '.join(near)}?" if near else
                    'check the name in System.map')
