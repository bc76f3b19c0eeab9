"""Resolve probe points against a tree into kprobe placements.

A kernel.function probe becomes a kprobe on symbol+offset where the symbol
is unique in the kernel's kallsyms namespace: register_kprobe() resolves a
name through kallsyms and takes the first match, so a duplicated name
would silently probe the wrong function.  A point that cannot be placed
exactly is refused with the reason.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional

from . import nodes as n
from .diag import Pos, StapError, close_matches, error
from .symbols import Dwarf, SourceLoc, Symbol, SymbolTable


@dataclass
class Resolved:
    """One probe point, placed."""
    handler: int            # index of the script probe whose body runs
    kind: str               # 'begin', 'end', 'kprobe', 'kretprobe', 'timer'
    pp: str                 # what pp() returns and -p2 prints
    func: str = ''          # probefunc()
    symbol: str = ''        # the kprobe's anchor: unique in kallsyms
    offset: int = 0
    target: str = ''        # the function symbol the probe must land in
    target_size: int = 0
    why: str = ''           # why this anchor (-p2 -v)
    period_ns: int = 0
    index: int = 0          # position in the module's probe table

    def describe(self, verbose: bool = False) -> str:
        if self.kind in ('kprobe', 'kretprobe'):
            text = f'{self.pp} /* pc=<{self.symbol}+{self.offset:#x}> */'
            if verbose and self.why:
                text += f' /* {self.why} */'
            return text
        return self.pp


_CLONE = re.compile(r'^(?P<base>.+?)\.(?:isra|constprop|llvm)\.\d+(?:\.\d+)*$')
_NOT_ENTRY = re.compile(r'\.(?:cold|part)(?:\.\d+)*(?:$|\.)')
_WILD = re.compile(r'[*?\[]')


def entry_name(symbol: str) -> Optional[str]:
    """The function a symbol is the entry of; None for padding and fragments.

    foo.isra.0 and foo.constprop.1 are out-of-line copies of foo whose entry
    is foo's entry; foo.part.0 and foo.cold are pieces of foo's body that
    are jumped to, never entered as foo.
    """
    if symbol.startswith(('__pfx_', '__cfi_')) or _NOT_ENTRY.search(symbol):
        return None
    m = _CLONE.match(symbol)
    return m.group('base') if m else symbol


def expand_braces(pattern: str) -> List[str]:
    m = re.search(r'\{([^{}]*)\}', pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(','):
        out.extend(expand_braces(pattern[:m.start()] + alt + pattern[m.end():]))
    return out


class Resolver:
    def __init__(self, symbols: Optional[SymbolTable], dwarf: Optional[Dwarf],
                 verbose: int = 0) -> None:
        self.symbols = symbols
        self.dwarf = dwarf
        self.verbose = verbose
        self._entries: Optional[Dict[str, List[Symbol]]] = None

    def resolve(self, script: n.Script) -> List[Resolved]:
        out: List[Resolved] = []
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
            return [Resolved(handler, 'timer', f'timer.{names[1]}({period})', period_ns=ns)]
        if names[0] in ('kernel', 'kprobe') and len(comps) in (2, 3) and \
                names[1] == 'function':
            ret = len(comps) == 3
            if ret and names[2] != 'return':
                raise error(f"unknown probe point suffix '.{names[2]}'", comps[2].pos,
                            hint=f"{names[0]}.function(...) takes '.return'")
            if names[0] == 'kprobe':
                return self._kprobe_function(handler, comps[1], ret)
            return self._function(handler, comps[1], ret)
        raise error(f"unknown probe point '{pp}'", pp.pos,
                    hint='supported: begin, end, kernel.function("PATTERN")[.return], '
                         'kprobe.function("SYMBOL")[.return], timer.ms(N), timer.s(N)')

    def _no_arg(self, c: n.Component) -> None:
        if c.arg is not None:
            raise error(f"'{c.name}' takes no argument", c.pos)

    def _syms(self, pos: Pos) -> SymbolTable:
        if self.symbols is None:
            raise error("function probes need the tree's vmlinux", pos)
        return self.symbols

    def _entries_by_name(self) -> Dict[str, List[Symbol]]:
        if self._entries is None:
            self._entries = {}
            assert self.symbols is not None
            for sym in self.symbols.funcs:
                base = entry_name(sym.name)
                if base is not None:
                    self._entries.setdefault(base, []).append(sym)
        return self._entries

    # -- kernel.function("NAME[@FILE]") ----------------------------------------
    def _function(self, handler: int, comp: n.Component, ret: bool) -> List[Resolved]:
        pattern = comp.arg
        if not isinstance(pattern, str) or not pattern:
            raise error('kernel.function needs a function name in quotes', comp.pos)
        func_pat, _, file_pat = pattern.partition('@')
        if ':' in file_pat or '+' in file_pat:
            raise error(f'kernel.function("{pattern}"): line numbers are not supported '
                        'yet; use NAME or NAME@FILE', comp.pos)
        syms = self._syms(comp.pos)
        entries = self._entries_by_name()
        wild = bool(_WILD.search(func_pat)) or '{' in func_pat
        names: List[str] = []
        for alt in expand_braces(func_pat):
            if _WILD.search(alt):
                names.extend(sorted(x for x in entries if fnmatch.fnmatchcase(x, alt)))
            elif alt in entries:
                names.append(alt)
        if not names:
            if wild:
                raise error(f'no function matches "{func_pat}"', comp.pos)
            self._no_function(func_pat, comp.pos)
        out: List[Resolved] = []
        skipped: List[str] = []
        elsewhere: List[str] = []
        for name in dict.fromkeys(names):
            for sym in entries[name]:
                why = self._refused(sym)
                if why is None and sym.name != name:
                    why = self._not_a_clone_of(sym, name)
                if why is not None:
                    if not wild:
                        raise error(f"'{name}' ({sym.name}) {why}", comp.pos)
                    skipped.append(f'{sym.name}: {why}')
                    continue
                loc = self.dwarf.function_decl(sym.addr) if self.dwarf else None
                if file_pat and (loc is None or not any(
                        fnmatch.fnmatchcase(loc.file, f) for f in expand_braces(file_pat))):
                    elsewhere.append(loc.file if loc else f'{sym.name} (no DWARF)')
                    continue
                out.append(self._place(handler, 'kernel.function', name, sym, loc, ret))
        if skipped and self.verbose:
            print(f'stap-gen: kernel.function("{pattern}"): skipped {len(skipped)} '
                  'unprobeable match(es):\n  ' + '\n  '.join(skipped), file=sys.stderr)
        if not out:
            if elsewhere:
                raise error(f'no function "{func_pat}" is defined in "{file_pat}"',
                            comp.pos, hint='it is defined in ' +
                            ', '.join(sorted(set(elsewhere))))
            raise error(f'kernel.function("{pattern}"): every match is unprobeable',
                        comp.pos, hint='; '.join(skipped[:5]))
        return out

    def _refused(self, sym: Symbol) -> Optional[str]:
        assert self.symbols is not None
        region = self.symbols.refused_region(sym.addr)
        if region:
            return f'is in {region}: kprobes refuse it'
        if sym.addr in self.symbols.blacklist:
            return 'is marked NOKPROBE_SYMBOL: kprobes refuse it'
        return None

    def _not_a_clone_of(self, sym: Symbol, name: str) -> Optional[str]:
        """A clone symbol counts as name's entry only if its DWARF says so."""
        f = self.dwarf.function_at(sym.addr) if self.dwarf else None
        if f is None:
            return 'has no DWARF to show it is a copy of the function'
        if f.name != name:
            return f"is DWARF's {f.name}, not {name}"
        return None

    def _place(self, handler: int, family: str, name: str, sym: Symbol,
               loc: Optional[SourceLoc], ret: bool) -> Resolved:
        assert self.symbols is not None
        anchor, offset = self.symbols.anchor(sym.addr)
        if anchor == sym.name:
            why = f'{sym.name} is unique in kallsyms'
        else:
            why = (f'{sym.name} names {self.symbols.count(sym.name)} symbols; '
                   f'{anchor} is the nearest unique symbol before it')
        where = f'@{loc.file}:{loc.line}' if loc else ''
        shown = f'{family}("{name}{where}")' + ('.return' if ret else '')
        return Resolved(handler, 'kretprobe' if ret else 'kprobe', shown, func=name,
                        symbol=anchor, offset=offset,
                        target='|'.join(self.symbols.aliases(sym)),
                        target_size=sym.size, why=why)

    # -- kprobe.function("SYMBOL"): the symbol table only ---------------------
    def _kprobe_function(self, handler: int, comp: n.Component, ret: bool) -> List[Resolved]:
        name = comp.arg
        if not isinstance(name, str) or not name:
            raise error('kprobe.function needs a symbol name in quotes', comp.pos)
        syms = self._syms(comp.pos)
        funcs = syms.functions(name)
        if not funcs:
            self._no_function(name, comp.pos)
        if syms.count(name) > 1:
            raise error(f"'{name}' names {syms.count(name)} symbols in this kernel; "
                        'kprobe.function takes the symbol table at its word', comp.pos,
                        hint=f'use kernel.function("{name}"), which probes each one')
        why = self._refused(funcs[0])
        if why:
            raise error(f"'{name}' {why}", comp.pos)
        r = self._place(handler, 'kprobe.function', name, funcs[0], None, ret)
        r.pp = f'kprobe.function("{name}")' + ('.return' if ret else '')
        return [r]

    def _no_function(self, name: str, pos: Pos) -> None:
        assert self.symbols is not None
        pieces = [s for s in self.symbols.by_name
                  if s.startswith(name + '.') and entry_name(s) is None]
        if pieces:
            raise error(f"'{name}' has no entry of its own in this kernel: only "
                        f"{', '.join(sorted(pieces)[:4])}", pos,
                        hint='.part and .cold are pieces of a function that was '
                             'inlined into its callers; probe the callers')
        candidates = [s for s in self._entries_by_name()
                      if s[:1] == name[:1] and abs(len(s) - len(name)) <= 3]
        near = close_matches(name, candidates)
        raise error(f"no function '{name}' in {self.symbols.path}", pos,
                    hint=f"did you mean {', '.join(near)}?" if near else
                    'check the name in System.map')
