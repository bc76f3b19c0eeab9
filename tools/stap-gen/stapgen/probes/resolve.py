# SPDX-License-Identifier: GPL-2.0
"""Resolve a script's probe points against a tree.

Each probe point is matched by exactly one family (probes/*.py: one class
per kind of point) and placed by it; the Resolver holds what placement
needs from the tree (the symbol table, the DWARF and its index) and the
services every kernel-code family shares: the unique anchor for an
address, the regions kprobes refuse, the inlined instances of a name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..diag import Pos, StapError, close_matches, error
from ..elf.dwarfindex import Index, Inline
from ..elf.symbols import Dwarf, SourceLoc, Symbol, SymbolTable, entry_name
from ..frontend import nodes as n
from .base import Family, Probe
from .kernel import KernelAbsolute, KernelFunction, KernelStatement, \
    KprobeFunction, Suffixes
from .kprobe import KprobeProbe
from .lifecycle import Lifecycle
from .module import KprobeModuleFunction, ModuleFunction
from .data import KernelData
from .netfilter import Netfilter
from .perf import Perf
from .procfs import Procfs, ProcfsProbe
from .timer import Profile, Timer
from .trace import Trace

# Every family, in the order the "unknown probe point" hint lists them.
FAMILIES: List[Family] = [Lifecycle(), KernelFunction(), KernelStatement(), Trace(),
                          ModuleFunction(), KprobeFunction(), KprobeModuleFunction(),
                          Timer(), Profile(), Procfs(), Perf(), Netfilter(),
                          KernelData(), KernelAbsolute()]


def family_variables(probe: n.Probe) -> Optional[Dict[str, Any]]:
    """The variables a probe's family gives it ($value of procfs): those of
    the one family all its points are of, or None."""
    found: List[Optional[Dict[str, Any]]] = []
    for pt in probe.points:
        names = [c.name for c in pt.components]
        family = next((f for f in FAMILIES if f.matches(names)), None)
        found.append(family.variables(names) if family is not None else None)
    if not found or any(v is None for v in found) or \
            any(v != found[0] for v in found[1:]):
        return None
    return found[0]


class _Bulk:
    """The symbol table and the DWARF index read whole, for listings that
    touch most functions: one query each instead of several per function."""

    def __init__(self, symbols: SymbolTable, index: Optional[Index]) -> None:
        self.entries: Dict[str, List[Symbol]] = {}
        for sym in symbols.funcs:
            name = entry_name(sym.name)
            if name is not None:
                self.entries.setdefault(name, []).append(sym)
        self.functions = index.all_functions() if index is not None else {}
        self.sites = index.inline_sites() if index is not None else {}
        self.names = {f.name for f in self.functions.values()} | set(self.sites)


class Resolver:
    def __init__(self, load: Optional[Callable[[], Tuple[SymbolTable, Dwarf]]],
                 verbose: int = 0,
                 index: Optional[Callable[[], Index]] = None,
                 objtree: Optional[Path] = None, guru: bool = False,
                 listing: bool = False, srctree: Optional[Path] = None,
                 explain: Optional[Callable[[str], Optional[Tuple[str, str]]]] = None) -> None:
        self.objtree = objtree
        self.explain = explain      # why a tapset's probe point is not in this tree
        self.srctree = srctree or objtree      # for the tree's headers (uapi)
        self.guru = guru
        self.listing = listing      # -l: probe points only, no kprobe placement
        self.verbose = verbose
        self._load = load           # the tree's symbol table and DWARF, read on first use
        self._symbols: Optional[SymbolTable] = None
        self._dwarf: Optional[Dwarf] = None
        self._open_index = index
        self._index: Optional[Index] = None
        self._host_anchors: Dict[int, Tuple[str, int]] = {}
        self._bulk_tables: Optional[_Bulk] = None
        self._scopes: Any = None                # scopes.DwarfFile, for inline ranges

    @property
    def symbols(self) -> Optional[SymbolTable]:
        if self._symbols is None and self._load is not None:
            self._symbols, self._dwarf = self._load()
        return self._symbols

    @property
    def dwarf(self) -> Optional[Dwarf]:
        return self._dwarf if self.symbols is not None else None

    def index(self) -> Optional[Index]:
        if self._index is None and self._open_index is not None:
            self._index = self._open_index()
        return self._index

    def resolve(self, script: n.Script) -> List[Probe]:
        out: List[Probe] = []
        for i, probe in enumerate(script.probes):
            for point in probe.points:
                try:
                    out.extend(self._point(i, point))
                except StapError:
                    if not point.optional:
                        raise
                    if self.verbose:
                        print(f'stap-gen: optional probe point {point} matched nothing',
                              file=sys.stderr)
                    continue
                if point.sufficient:
                    break           # '!': the probe's later points are not needed
        for j, r in enumerate(out):
            r.index = j
        seen: Dict[Tuple[str, str], Probe] = {}
        for r in out:
            if isinstance(r, ProcfsProbe):
                # a write is seen by every .write probe of the file (input.char
                # and input.line); a read has one probe to fill it
                if r.op == 'read' and (r.file, r.op) in seen and \
                        seen[(r.file, r.op)].handler != r.handler:
                    raise error(f'procfs("{r.file}") has two .{r.op} probes',
                                script.probes[r.handler].pos,
                                hint='one probe per file fills what a read returns')
                seen[(r.file, r.op)] = r
        return out

    def _point(self, handler: int, pp: n.ProbePoint) -> List[Probe]:
        names = [c.name for c in pp.components]
        for family in FAMILIES:
            if family.matches(names):
                return family.resolve(self, handler, pp)
        why = self.explain(str(pp).rstrip('?!')) if self.explain else None
        if why is not None:
            raise error(why[0], pp.pos, hint=why[1])
        raise error(f"unknown probe point '{pp}'", pp.pos,
                    hint='supported: ' + ', '.join(p for f in FAMILIES for p in f.points))

    def no_arg(self, c: n.Component) -> None:
        if c.arg is not None:
            raise error(f"'{c.name}' takes no argument", c.pos)

    def syms(self, pos: Pos) -> SymbolTable:
        if self.symbols is None:
            raise error("function probes need the tree's vmlinux", pos)
        return self.symbols

    def entries(self, name: str) -> List[Symbol]:
        assert self.symbols is not None
        return self.symbols.entries(name)

    def entry_names(self, pattern: str) -> List[str]:
        assert self.symbols is not None
        return self.symbols.entry_names(pattern)

    def bodies(self, name: str) -> List[Tuple[Symbol, Optional[SourceLoc],
                                                List[Tuple[int, int]]]]:
        """Where name's code is: (function symbol holding it, name's
        declaration, address ranges) for each out-of-line copy and each
        inlined instance that kprobes can reach."""
        assert self.symbols is not None
        out = []
        for sym in self.entries(name):
            if self.refused(sym) is None and \
                    (sym.name == name or not self.not_a_clone_of(sym, name)):
                out.append((sym, self.decl(sym.addr), [(sym.addr, sym.addr + sym.size)]))
        from ..elf.scopes import DwarfFile, Unavailable
        index = self.index()
        for inl in index.inlines(name) if index is not None else []:
            host = self.symbols.function_at(inl.entry)
            if host is None or self.refused(host) is not None:
                continue
            if self._scopes is None:
                self._scopes = DwarfFile(self.dwarf, self.index)
            try:
                spans = self._scopes.inline_ranges(inl.entry, name)
            except Unavailable:
                continue
            # the entry may sit in an empty range: its rows count too
            out.append((host, SourceLoc(inl.file, inl.line),
                        spans + [(inl.entry, inl.entry + 1)]))
        return out

    def anchor_in(self, host: Symbol, addr: int) -> Tuple[str, int]:
        """anchor(addr) for an address inside host, computed once per host."""
        assert self.symbols is not None
        base = self._host_anchors.get(host.addr)
        if base is None:
            base = self._host_anchors[host.addr] = self.symbols.anchor(host.addr)
        return base[0], base[1] + (addr - host.addr)

    def bulk(self) -> '_Bulk':
        if self._bulk_tables is None:
            assert self.symbols is not None
            self._bulk_tables = _Bulk(self.symbols, self.index())
        return self._bulk_tables

    def listed_inlines(self, bulk: '_Bulk', name: str, sx: 'Suffixes') -> List[Inline]:
        """For a listing: one probeable instance of each inlined declaration
        site of name (a listing shows sites, not instances)."""
        out = []
        for file, line, low, count in bulk.sites.get(name, []):
            first = Inline(name, low, file, line, '?', 0, 0)
            if count == 1 or sx.ret or not isinstance(self.place_inline(0, first, sx), str):
                out.append(first)
                continue
            index = self.index()
            assert index is not None
            rest = [i for i in index.inlines(name) if (i.file, i.line) == (file, line)]
            out.append(next((i for i in rest if not isinstance(
                self.place_inline(0, i, sx), str)), first))
        return out

    def place_inline(self, handler: int, inl: Inline, sx: 'Suffixes') -> Any:
        """An inlined instance at its entry pc, or why it cannot be probed."""
        assert self.symbols is not None
        host = self.symbols.function_at(inl.entry)
        where = f'{inl.name} inlined at {inl.call_file}:{inl.call_line}'
        if host is None:
            return f'{where}: its address is in no function symbol'
        why = self.refused(host)
        if why is not None:
            return f'{where}: {host.name} {why}'
        pp = f'kernel.function("{inl.name}@{inl.file}:{inl.line}")'
        if self.listing:
            return KprobeProbe(handler, pp, func=inl.name, pc=inl.entry,
                            func_entry=host.addr, inline=True)
        anchor, offset = self.anchor_in(host, inl.entry)
        return KprobeProbe(handler, pp, func=inl.name, symbol=anchor,
                        pc=inl.entry, func_entry=host.addr, inline=True,
                        offset=offset, target='|'.join(self.symbols.aliases(host)),
                        target_size=host.size,
                        why=f'inlined into {host.name} at {inl.call_file}:{inl.call_line};'
                            f' {anchor} is the nearest unique symbol before it')

    def refused(self, sym: Symbol) -> Optional[str]:
        assert self.symbols is not None
        region = self.symbols.refused_region(sym.addr)
        if region:
            return f'is in {region}: kprobes refuse it'
        if sym.addr in self.symbols.blacklist:
            return 'is marked NOKPROBE_SYMBOL: kprobes refuse it'
        return None

    def decl(self, addr: int) -> Optional[SourceLoc]:
        index = self.index()
        if self._bulk_tables is not None:
            f = self._bulk_tables.functions.get(addr)
            return SourceLoc(f.file, f.line) if f and f.line else None
        if index is not None:
            f = index.function_at(addr)
            return SourceLoc(f.file, f.line) if f and f.line else None
        return self.dwarf.function_decl(addr) if self.dwarf else None

    def dwarf_name(self, addr: int) -> Optional[str]:
        index = self.index()
        if self._bulk_tables is not None:
            f = self._bulk_tables.functions.get(addr)
            return f.name if f else None
        if index is not None:
            f = index.function_at(addr)
            return f.name if f else None
        g = self.dwarf.function_at(addr) if self.dwarf else None
        return g.name if g else None

    def not_a_clone_of(self, sym: Symbol, name: str) -> Optional[str]:
        """A clone symbol counts as name's entry only if its DWARF says so."""
        f = self.dwarf_name(sym.addr)
        if f is None:
            return 'has no DWARF to show it is a copy of the function'
        if f != name:
            return f"is DWARF's {f}, not {name}"
        return None

    def place(self, handler: int, family: str, name: str, sym: Symbol,
               loc: Optional[SourceLoc], sx: 'Suffixes') -> KprobeProbe:
        assert self.symbols is not None
        where = f'@{loc.file}:{loc.line}' if loc else ''
        shown = f'{family}("{name}{where}")' + ('.return' if sx.ret else '')
        if self.listing:
            return KprobeProbe(handler, shown, func=name, pc=sym.addr,
                            func_entry=sym.addr)
        anchor, offset = self.symbols.anchor(sym.addr)
        if anchor == sym.name:
            why = f'{sym.name} is unique in kallsyms'
        else:
            why = (f'{sym.name} names {self.symbols.count(sym.name)} symbols; '
                   f'{anchor} is the nearest unique symbol before it')
        return KprobeProbe(handler, shown, ret=sx.ret, func=name,
                        maxactive=sx.maxactive, pc=sym.addr, func_entry=sym.addr,
                        symbol=anchor, offset=offset,
                        target='|'.join(self.symbols.aliases(sym)),
                        target_size=sym.size, why=why)

    def no_function(self, name: str, pos: Pos) -> None:
        assert self.symbols is not None
        pieces = [s for s in self.symbols.names_with_prefix(name + '.')
                  if entry_name(s) is None]
        if pieces:
            raise error(f"'{name}' has no entry of its own in this kernel: only "
                        f"{', '.join(sorted(pieces)[:4])}", pos,
                        hint='.part and .cold are pieces of a function that was '
                             'inlined into its callers; probe the callers')
        first = ''.join(f'[{c}]' if c in '*?[' else c for c in name[:1])
        candidates = [s for s in self.entry_names(first + '*')
                      if abs(len(s) - len(name)) <= 3]
        near = close_matches(name, candidates)
        raise error(f"no function '{name}' in {self.symbols.path}", pos,
                    hint=f"did you mean {', '.join(near)}?" if near else
                    'check the name in System.map')