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
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..tree import kmodule
from ..frontend import nodes as n
from ..diag import Pos, StapError, close_matches, error
from ..elf.dwarfindex import Index, Inline
from ..elf.symbols import Dwarf, SourceLoc, Symbol, SymbolTable, entry_name


@dataclass
class Resolved:
    """One probe point, placed."""
    handler: int            # index of the script probe whose body runs
    kind: str               # begin end error kprobe kretprobe timer profile tracepoint
    pp: str                 # what pp() returns and -p2 prints
    func: str = ''          # probefunc()
    symbol: str = ''        # the kprobe's anchor: unique in kallsyms
    offset: int = 0
    target: str = ''        # the function symbol the probe must land in
    target_size: int = 0
    why: str = ''           # why this anchor (-p2 -v)
    maxactive: int = 0      # kretprobe instances (0: the kernel's default)
    target_module: str = ''  # the module the target function is in
    period_ns: int = 0
    period_c: str = ''      # timers: the period in ns, as C
    index: int = 0          # position in the module's probe table
    # for target variables only (never in the generated C): the link-time
    # address of the probed instruction, the entry of the function holding
    # it, and whether it is an inlined instance of func
    pc: int = 0
    func_entry: int = 0
    inline: bool = False
    dwarf_path: str = ''    # the .ko whose DWARF describes pc (module probes;
                            # pc is then an offset in its .text)

    def describe(self, verbose: bool = False) -> str:
        if self.kind in ('kprobe', 'kretprobe'):
            text = f'{self.pp} /* pc=<{self.symbol}+{self.offset:#x}> */'
            if verbose and self.why:
                text += f' /* {self.why} */'
            return text
        return self.pp


@dataclass
class Suffixes:
    call: bool = False
    inline: bool = False
    ret: bool = False
    exported: bool = False
    maxactive: int = 0


_WILD = re.compile(r'[*?\[]')
NO_DWARF = ('has no DWARF description (assembly, or code the compiler shares with '
            'another function)')

# nanoseconds per unit of timer.UNIT(N); hz and jiffies are computed
TIMER_UNITS = {'s': 1_000_000_000, 'ms': 1_000_000, 'us': 1_000, 'ns': 1,
               'hz': 0, 'jiffies': 0}
MIN_TIMER_NS = 100_000


def expand_braces(pattern: str) -> List[str]:
    m = re.search(r'\{([^{}]*)\}', pattern)
    if not m:
        return [pattern]
    out = []
    for alt in m.group(1).split(','):
        out.extend(expand_braces(pattern[:m.start()] + alt + pattern[m.end():]))
    return out


def plain_function_names(script: n.Script) -> List[str]:
    """The function names kernel.function points name without a wildcard:
    what a resolution will ask the DWARF about first."""
    out: List[str] = []
    for probe in script.probes:
        for pp in probe.points:
            c = pp.components
            if len(c) >= 2 and c[0].name == 'kernel' and c[1].name == 'function' and \
                    isinstance(c[1].arg, str):
                name = c[1].arg.partition('@')[0]
                if name and not _WILD.search(name) and '{' not in name and name not in out:
                    out.append(name)
    return out


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
    def __init__(self, symbols: Optional[SymbolTable], dwarf: Optional[Dwarf],
                 verbose: int = 0,
                 index: Optional[Callable[[], Index]] = None,
                 objtree: Optional[Path] = None, guru: bool = False,
                 listing: bool = False) -> None:
        self.objtree = objtree
        self.guru = guru
        self.listing = listing      # -l: probe points only, no kprobe placement
        self.symbols = symbols
        self.dwarf = dwarf
        self.verbose = verbose
        self._open_index = index
        self._index: Optional[Index] = None
        self._host_anchors: Dict[int, tuple] = {}
        self._bulk_tables: Optional[_Bulk] = None
        self._scopes: Any = None                # targets.DwarfFile, for inline ranges

    def index(self) -> Optional[Index]:
        if self._index is None and self._open_index is not None:
            self._index = self._open_index()
        return self._index

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
                    continue
                if point.sufficient:
                    break           # '!': the probe's later points are not needed
        for j, r in enumerate(out):
            r.index = j
        return out

    def _point(self, handler: int, pp: n.ProbePoint) -> List[Resolved]:
        comps = pp.components
        names = [c.name for c in comps]
        if names in (['begin'], ['end'], ['error']):
            self._no_arg(comps[0])
            return [Resolved(handler, names[0], names[0])]
        if names[0] == 'timer' and len(comps) == 2 and names[1] in TIMER_UNITS:
            return [self._timer(handler, comps[1])]
        if names == ['timer', 'profile']:
            self._no_arg(comps[1])
            return [Resolved(handler, 'profile', 'timer.profile')]
        if names[0] == 'kprobe' and len(comps) in (2, 3) and names[1] == 'function':
            ret = len(comps) == 3
            if ret and names[2] != 'return':
                raise error(f"unknown probe point suffix '.{names[2]}'", comps[2].pos,
                            hint="kprobe.function(...) takes '.return'")
            return self._kprobe_function(handler, comps[1], ret)
        if names[0] == 'kernel' and len(comps) >= 2 and names[1] == 'function':
            arg = comps[1].arg
            if isinstance(arg, str) and re.search(r'@[^:+]*[:+]', arg):
                if len(comps) > 2:
                    raise error('a function probe at a line takes no suffix', comps[2].pos)
                return self._statement(handler, comps[1], 'kernel.function')
            return self._function(handler, comps[1], self._suffixes(comps[2:]))
        if names[:1] == ['module'] and len(comps) >= 2 and names[1] == 'function':
            return self._module_function(handler, comps[0], comps, 'module')
        if names[:2] == ['kprobe', 'module'] and len(comps) >= 3 and names[2] == 'function':
            return self._module_function(handler, comps[1], comps[1:], 'kprobe.module')
        if names[0] == 'kernel' and len(comps) == 3 and names[1] == 'statement' and \
                names[2] == 'absolute':
            return self._absolute(handler, comps[1])
        if names[0] == 'kernel' and len(comps) == 2 and names[1] == 'statement':
            return self._statement(handler, comps[1], 'kernel.statement')
        if names[0] == 'kernel' and len(comps) == 2 and names[1] == 'trace':
            return self._trace(handler, comps[1])
        raise error(f"unknown probe point '{pp}'", pp.pos,
                    hint='supported: begin, end, error, kernel.function("PATTERN")[.SUFFIX], '
                         'kernel.statement("F@FILE:LINE"), kernel.trace("[GROUP:]NAME"), '
                         'module("M").function("F"), '
                         'kprobe.function("SYMBOL"), kprobe.module("M").function("F"), '
                         'timer.s/ms/us/ns/hz/jiffies(N), timer.profile')

    def _suffixes(self, comps: List[n.Component]) -> 'Suffixes':
        sx = Suffixes()
        for c in comps:
            if c.name in ('call', 'inline', 'return', 'exported') and c.arg is None:
                setattr(sx, 'ret' if c.name == 'return' else c.name, True)
            elif c.name == 'maxactive' and isinstance(c.arg, int) and c.arg > 0:
                sx.maxactive = c.arg
            else:
                raise error(f"unknown probe point suffix '.{c}'", c.pos,
                            hint="kernel.function(...) takes .call, .inline, .return, "
                                 ".exported, .maxactive(N)")
        if sx.call and sx.inline:
            raise error('.call and .inline exclude each other', comps[0].pos)
        if sx.maxactive and not sx.ret:
            raise error('.maxactive(N) goes with .return', comps[0].pos)
        if sx.ret and sx.inline:
            raise error('.return cannot be placed on inlined instances: an inlined '
                        'copy has no return of its own', comps[0].pos)
        return sx

    def _no_arg(self, c: n.Component) -> None:
        if c.arg is not None:
            raise error(f"'{c.name}' takes no argument", c.pos)

    def _syms(self, pos: Pos) -> SymbolTable:
        if self.symbols is None:
            raise error("function probes need the tree's vmlinux", pos)
        return self.symbols

    def _entries(self, name: str) -> List[Symbol]:
        assert self.symbols is not None
        return self.symbols.entries(name)

    def _entry_names(self, pattern: str) -> List[str]:
        assert self.symbols is not None
        return self.symbols.entry_names(pattern)

    # -- kernel.function("NAME[@FILE]") ----------------------------------------
    def _function(self, handler: int, comp: n.Component, sx: 'Suffixes') -> List[Resolved]:
        pattern = comp.arg
        if not isinstance(pattern, str) or not pattern:
            raise error('kernel.function needs a function name in quotes', comp.pos)
        func_pat, _, file_pat = pattern.partition('@')
        if '+' in file_pat:
            raise error(f'kernel.function("{pattern}"): relative lines (+N) are not '
                        'supported yet; use FUNC@FILE:LINE', comp.pos)
        self._syms(comp.pos)
        index = self.index()
        wild = bool(_WILD.search(func_pat)) or '{' in func_pat
        bulk = self._bulk() if self.listing and wild else None
        names: List[str] = []
        for alt in expand_braces(func_pat):
            if not _WILD.search(alt):
                names.append(alt)
            elif bulk is not None:
                names += fnmatch.filter(bulk.entries, alt)
                if not sx.call:
                    names += fnmatch.filter(bulk.names, alt)
            else:
                names.extend(self._entry_names(alt))
                if index is not None and not sx.call:
                    names.extend(index.names(alt))
        names = sorted(set(names))
        if sx.exported:
            assert self.symbols is not None
            names = [x for x in names if self.symbols.is_exported(x)]
        out: List[Resolved] = []
        skipped: List[str] = []
        elsewhere: List[str] = []
        inline_only: List[str] = []
        found_any = False

        def want_file(loc: Optional[SourceLoc]) -> bool:
            if not file_pat:
                return True
            if loc is not None and any(fnmatch.fnmatchcase(loc.file, f)
                                       for f in expand_braces(file_pat)):
                return True
            elsewhere.append(loc.file if loc else '(no DWARF)')
            return False

        for name in names:
            calls = [] if sx.inline else \
                bulk.entries.get(name, []) if bulk else self._entries(name)
            inlines = [] if index is None or sx.call else \
                self._listed_inlines(bulk, name, sx) if bulk else index.inlines(name)
            if sx.call and index is not None and not calls and \
                    (name in bulk.sites if bulk else index.inlines(name)):
                inline_only.append(name)
            if sx.ret and inlines:
                if not calls and wild:
                    skipped.append(f'{name}: only inlined; .return needs a real entry')
                    continue
                if not calls:
                    raise error(f"'{name}' is only inlined ({len(inlines)} instances): "
                                '.return needs a real function entry', comp.pos,
                                hint='probe the callers, or kernel.function("'
                                     f'{name}").inline for its entries')
                skipped.extend(f'{name} inlined at {i.call_file}:{i.call_line}: '
                               '.return is not possible there' for i in inlines)
                inlines = []
            found_any = found_any or bool(calls or inlines)
            for sym in calls:
                why = self._refused(sym)
                if why is None and sym.name != name:
                    why = self._not_a_clone_of(sym, name)
                elif why is None and self._dwarf_name(sym.addr) is None:
                    why = NO_DWARF
                if why is not None:
                    if not wild:
                        raise error(f"'{name}' ({sym.name}) {why}", comp.pos,
                                    hint=f'kprobe.function("{sym.name}") probes it by its '
                                         'symbol alone' if why == NO_DWARF else None)
                    skipped.append(f'{sym.name}: {why}')
                    continue
                loc = self._decl(sym.addr)
                if want_file(loc):
                    out.append(self._place(handler, 'kernel.function', name, sym, loc, sx))
            for inl in inlines:
                loc = SourceLoc(inl.file, inl.line)
                if not want_file(loc):
                    continue
                r = self._place_inline(handler, inl, sx)
                if isinstance(r, str):
                    skipped.append(r)
                else:
                    out.append(r)
        if skipped and self.verbose:
            print(f'stap-gen: kernel.function("{pattern}"): skipped {len(skipped)} '
                  'match(es):\n  ' + '\n  '.join(skipped), file=sys.stderr)
        if out:
            return out
        if inline_only:
            raise error(f"'{inline_only[0]}' is inlined everywhere: .call has no "
                        'out-of-line function to probe', comp.pos,
                        hint='drop .call to probe its inlined instances')
        if elsewhere:
            raise error(f'no function "{func_pat}" is defined in "{file_pat}"',
                        comp.pos, hint='it is defined in ' +
                        ', '.join(sorted(set(elsewhere))))
        if not found_any and not skipped:
            if wild:
                raise error(f'no function matches "{func_pat}"', comp.pos)
            self._no_function(func_pat, comp.pos)
        raise error(f'kernel.function("{pattern}"): no match can be probed', comp.pos,
                    hint='; '.join(skipped[:5]))

    # -- module("M").function("PATTERN") ---------------------------------------------
    def _module_function(self, handler: int, mod: n.Component, comps: List[n.Component],
                         family: str) -> List[Resolved]:
        spec = mod.arg
        if not isinstance(spec, str) or not spec:
            raise error(f'{mod.name}(...) needs a module name or a .ko path in quotes',
                        mod.pos)
        fcomp = comps[1]
        sx = self._suffixes(comps[2:])
        if sx.call or sx.inline or sx.exported:
            raise error(f'{family} probes take only .return and .maxactive(N) for now',
                        comps[2].pos)
        paths_ = kmodule.find(spec, self.objtree)
        if not paths_:
            raise error(f'no module "{spec}" found' +
                        (f' in {self.objtree}' if self.objtree else ''), mod.pos,
                        hint='give the .ko path, or build the module in the tree')
        pattern = fcomp.arg
        if not isinstance(pattern, str) or not pattern or '@' in pattern:
            raise error('the function of a module probe is a name or a pattern '
                        '(no @file yet)', fcomp.pos)
        out: List[Resolved] = []
        for path in paths_:
            try:
                ko = kmodule.ModuleFile(path)
            except (OSError, ValueError) as e:
                raise error(f'cannot read {path}: {e}', mod.pos) from None
            for sym in ko.symbols:
                base = entry_name(sym.name)
                if base is None or not any(fnmatch.fnmatchcase(base, p)
                                           for p in expand_braces(pattern)):
                    continue
                if sym.section in kmodule.REFUSED_SECTIONS:
                    if not _WILD.search(pattern):
                        raise error(f"'{sym.name}' is in {sym.section} of {ko.name}: "
                                    'kprobes cannot probe it in a running module',
                                    fcomp.pos)
                    continue
                anchor, offset = ko.anchor(sym)
                loc = ko.decl(sym) if family == 'module' else None
                where = f'@{loc.file}:{loc.line}' if loc else ''
                shown = (f'{family}("{ko.name}").function("{base}{where}")' +
                         ('.return' if sx.ret else ''))
                out.append(Resolved(handler, 'kretprobe' if sx.ret else 'kprobe', shown,
                                    func=base, symbol=f'{ko.name}:{anchor}',
                                    offset=offset, target=sym.name,
                                    target_size=sym.size, target_module=ko.name,
                                    maxactive=sx.maxactive,
                                    why=f'{anchor} is unique in module {ko.name}',
                                    pc=sym.offset, func_entry=sym.offset,
                                    # (the .ko's DWARF addresses are offsets in
                                    # their section: only .text is unambiguous)
                                    dwarf_path=str(path) if sym.section == '.text' else ''))
        if not out:
            raise error(f'no function "{pattern}" in module "{spec}"', fcomp.pos)
        return out

    # -- kernel.statement("FUNC@FILE:LINES") -----------------------------------------
    def _statement(self, handler: int, comp: n.Component, family: str) -> List[Resolved]:
        spec = comp.arg
        m = re.fullmatch(r'([^@]+)@([^:+]+)(?::(\*|\d+|\d+-\d+)|\+(\d+))', spec) \
            if isinstance(spec, str) else None
        if m is None:
            raise error(f'{family} needs "FUNC@FILE:LINE" (LINE may be N, N-M or *) '
                        'or "FUNC@FILE+N" (N lines after the declaration)', comp.pos)
        func_pat, file_pat, lines, rel = m.groups()
        assert self.symbols is not None and self.dwarf is not None
        self._syms(comp.pos)
        index = self.index()
        names = set()
        for f in expand_braces(func_pat):
            names.update(self._entry_names(f))
            if index is not None:
                names.update(index.names(f) if _WILD.search(f) else
                             [f] if index.inlines(f) else [])
        if not names:
            self._no_function(func_pat, comp.pos)
        if rel is not None:
            lines = rel
        elif lines == '*':
            first, last = 0, 1 << 30
        else:
            first, _, end = lines.partition('-')
            first, last = int(first), int(end or first)
        out: List[Resolved] = []
        with_code: List[int] = []
        for name in sorted(names):
            for host, decl, spans in self._bodies(name):
                if rel is not None:
                    if decl is None:
                        continue
                    first = last = decl.line + int(rel)
                rows = sorted({r for lo, hi in spans for r in self.dwarf.line_rows(lo, hi)
                               if any(fnmatch.fnmatchcase(r[1], f)
                                      for f in expand_braces(file_pat))})
                with_code += [r[2] for r in rows]
                seen = set()
                prev_line = None
                for addr, file, line in rows:
                    # the first address of each run of rows for a line
                    if first <= line <= last and line != prev_line and \
                            (lines == '*' and line not in seen or lines != '*'):
                        seen.add(line)
                        anchor, offset = self.symbols.anchor(addr)
                        out.append(Resolved(
                            handler, 'kprobe', f'{family}("{name}@{file}:{line}")',
                            func=name, symbol=anchor, offset=offset,
                            target='|'.join(self.symbols.aliases(host)),
                            target_size=host.size, pc=addr, func_entry=host.addr,
                            why=f'line {line} of {file} in {host.name}+{addr - host.addr:#x}'))
                    prev_line = line
        if not out:
            near = sorted(set(with_code), key=lambda x: (abs(x - first), x))[:4]
            what = f'{file_pat}:{first}' if rel is not None else f'{file_pat}:{lines}'
            raise error(f'no code for {what} in {func_pat}', comp.pos,
                        hint=f'lines with code there: {", ".join(map(str, sorted(near)))}'
                        if near else f'{func_pat} has no line information for {file_pat}')
        return out

    def _bodies(self, name: str) -> List[Tuple[Symbol, Optional[SourceLoc],
                                                List[Tuple[int, int]]]]:
        """Where name's code is: (function symbol holding it, name's
        declaration, address ranges) for each out-of-line copy and each
        inlined instance that kprobes can reach."""
        assert self.symbols is not None
        out = []
        for sym in self._entries(name):
            if self._refused(sym) is None and \
                    (sym.name == name or not self._not_a_clone_of(sym, name)):
                out.append((sym, self._decl(sym.addr), [(sym.addr, sym.addr + sym.size)]))
        from ..elf.scopes import DwarfFile, Unavailable
        index = self.index()
        for inl in index.inlines(name) if index is not None else []:
            host = self.symbols.function_at(inl.entry)
            if host is None or self._refused(host) is not None:
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

    def _anchor_in(self, host: Symbol, addr: int) -> tuple:
        """anchor(addr) for an address inside host, computed once per host."""
        assert self.symbols is not None
        base = self._host_anchors.get(host.addr)
        if base is None:
            base = self._host_anchors[host.addr] = self.symbols.anchor(host.addr)
        return base[0], base[1] + (addr - host.addr)

    def _timer(self, handler: int, comp: n.Component) -> Resolved:
        """timer.s/ms/us/ns(N), timer.hz(N), timer.jiffies(N): an hrtimer."""
        unit, value = comp.name, comp.arg
        if not isinstance(value, int) or value <= 0:
            raise error(f'timer.{unit} needs a positive number', comp.pos)
        pp = f'timer.{unit}({value})'
        if unit == 'jiffies':       # the tree's HZ decides: the C says N * TICK_NSEC
            return Resolved(handler, 'timer', pp, period_c=f'{value}ULL * TICK_NSEC')
        ns = 1_000_000_000 // value if unit == 'hz' else value * TIMER_UNITS[unit]
        if ns < MIN_TIMER_NS:
            raise error(f'{pp} fires every {ns} ns; the runtime allows no less than '
                        f'{MIN_TIMER_NS // 1000} us', comp.pos,
                        hint='a shorter period would keep a CPU in the handler')
        return Resolved(handler, 'timer', pp, period_ns=ns, period_c=f'{ns}ULL')

    # -- kernel.trace("[GROUP:]NAME") ---------------------------------------------------
    def _trace(self, handler: int, comp: n.Component) -> List[Resolved]:
        """A tracepoint, registered by name at load time.

        The tree says which exist (a __tracepoint_NAME symbol each) and what
        they pass (the parameters of __traceiter_NAME in DWARF).  The group
        is the name of the header under include/trace/events/ that defines
        the event (sched for sched_switch, syscalls for sys_enter).
        """
        spec = comp.arg
        if not isinstance(spec, str) or not spec:
            raise error('kernel.trace needs a tracepoint name in quotes, '
                        'optionally with its group: "sched:sched_switch"', comp.pos)
        group_pat, _, name_pat = spec.rpartition(':')
        syms = self._syms(comp.pos)
        index = self.index()
        out: List[Resolved] = []
        names = []
        for full in syms.names_with_prefix('__tracepoint_'):
            name = full[len('__tracepoint_'):]
            names.append(name)
            if not any(fnmatch.fnmatchcase(name, p) for p in expand_braces(name_pat)):
                continue
            it = index.functions('__traceiter_' + name) if index is not None else []
            if not it:
                if self.verbose:
                    print(f'stap-gen: tracepoint {name} has no DWARF for its arguments; '
                          'skipped', file=sys.stderr)
                continue
            group = Path(it[0].file).stem
            if group_pat and not any(fnmatch.fnmatchcase(group, p)
                                     for p in expand_braces(group_pat)):
                continue
            out.append(Resolved(handler, 'tracepoint', f'kernel.trace("{group}:{name}")',
                                func=name, pc=it[0].addr, func_entry=it[0].addr,
                                why=f'__traceiter_{name} in {it[0].file}'))
        if not out:
            near = close_matches(name_pat, names)
            raise error(f'no tracepoint matches "{spec}"', comp.pos,
                        hint=f"did you mean {', '.join(near)}?" if near else
                        "list them with -l 'kernel.trace(\"*\")'")
        return out

    # -- kernel.statement(ADDR).absolute (guru mode) ----------------------------------
    def _absolute(self, handler: int, comp: n.Component) -> List[Resolved]:
        if not self.guru:
            raise error('kernel.statement(ADDR).absolute needs guru mode (-g)', comp.pos,
                        hint='an address ties the script to one build; prefer '
                             'kernel.statement("func@file:line")')
        if not isinstance(comp.arg, int):
            raise error('kernel.statement(ADDR).absolute takes a number', comp.pos)
        addr = comp.arg & ((1 << 64) - 1)
        syms = self._syms(comp.pos)
        host = syms.function_at(addr)
        if host is None:
            raise error(f'{addr:#x} is in no function of {syms.path}', comp.pos)
        why = self._refused(host)
        if why is not None:
            raise error(f'{addr:#x} is in {host.name}, which {why}', comp.pos)
        assert self.dwarf is not None
        rows = self.dwarf.line_rows(host.addr, host.addr + host.size)
        if addr != host.addr and addr not in {r[0] for r in rows}:
            raise error(f'{addr:#x} ({host.name}+{addr - host.addr:#x}) is not the start of '
                        'a source line: it may not be an instruction boundary', comp.pos,
                        hint='use kernel.statement("func@file:line")')
        anchor, offset = syms.anchor(addr)
        # the address is turned into symbol+offset like every other probe
        return [Resolved(handler, 'kprobe', f'kernel.statement({addr:#x}).absolute',
                         func=host.name, symbol=anchor, offset=offset,
                         target='|'.join(syms.aliases(host)), target_size=host.size,
                         pc=addr, func_entry=host.addr,
                         why=f'{host.name}+{addr - host.addr:#x}')]

    def _bulk(self) -> '_Bulk':
        if self._bulk_tables is None:
            assert self.symbols is not None
            self._bulk_tables = _Bulk(self.symbols, self.index())
        return self._bulk_tables

    def _listed_inlines(self, bulk: '_Bulk', name: str, sx: 'Suffixes') -> List[Inline]:
        """For a listing: one probeable instance of each inlined declaration
        site of name (a listing shows sites, not instances)."""
        out = []
        for file, line, low, count in bulk.sites.get(name, []):
            first = Inline(name, low, file, line, '?', 0, 0)
            if count == 1 or sx.ret or not isinstance(self._place_inline(0, first, sx), str):
                out.append(first)
                continue
            index = self.index()
            assert index is not None
            rest = [i for i in index.inlines(name) if (i.file, i.line) == (file, line)]
            out.append(next((i for i in rest if not isinstance(
                self._place_inline(0, i, sx), str)), first))
        return out

    def _place_inline(self, handler: int, inl: Inline, sx: 'Suffixes') -> Any:
        """An inlined instance at its entry pc, or why it cannot be probed."""
        assert self.symbols is not None
        host = self.symbols.function_at(inl.entry)
        where = f'{inl.name} inlined at {inl.call_file}:{inl.call_line}'
        if host is None:
            return f'{where}: its address is in no function symbol'
        why = self._refused(host)
        if why is not None:
            return f'{where}: {host.name} {why}'
        pp = f'kernel.function("{inl.name}@{inl.file}:{inl.line}")'
        if self.listing:
            return Resolved(handler, 'kprobe', pp, func=inl.name, pc=inl.entry,
                            func_entry=host.addr, inline=True)
        anchor, offset = self._anchor_in(host, inl.entry)
        return Resolved(handler, 'kprobe', pp, func=inl.name, symbol=anchor,
                        pc=inl.entry, func_entry=host.addr, inline=True,
                        offset=offset, target='|'.join(self.symbols.aliases(host)),
                        target_size=host.size,
                        why=f'inlined into {host.name} at {inl.call_file}:{inl.call_line};'
                            f' {anchor} is the nearest unique symbol before it')

    def _refused(self, sym: Symbol) -> Optional[str]:
        assert self.symbols is not None
        region = self.symbols.refused_region(sym.addr)
        if region:
            return f'is in {region}: kprobes refuse it'
        if sym.addr in self.symbols.blacklist:
            return 'is marked NOKPROBE_SYMBOL: kprobes refuse it'
        return None

    def _decl(self, addr: int) -> Optional[SourceLoc]:
        index = self.index()
        if self._bulk_tables is not None:
            f = self._bulk_tables.functions.get(addr)
            return SourceLoc(f.file, f.line) if f and f.line else None
        if index is not None:
            f = index.function_at(addr)
            return SourceLoc(f.file, f.line) if f and f.line else None
        return self.dwarf.function_decl(addr) if self.dwarf else None

    def _dwarf_name(self, addr: int) -> Optional[str]:
        index = self.index()
        if self._bulk_tables is not None:
            f = self._bulk_tables.functions.get(addr)
            return f.name if f else None
        if index is not None:
            f = index.function_at(addr)
            return f.name if f else None
        g = self.dwarf.function_at(addr) if self.dwarf else None
        return g.name if g else None

    def _not_a_clone_of(self, sym: Symbol, name: str) -> Optional[str]:
        """A clone symbol counts as name's entry only if its DWARF says so."""
        f = self._dwarf_name(sym.addr)
        if f is None:
            return 'has no DWARF to show it is a copy of the function'
        if f != name:
            return f"is DWARF's {f}, not {name}"
        return None

    def _place(self, handler: int, family: str, name: str, sym: Symbol,
               loc: Optional[SourceLoc], sx: 'Suffixes') -> Resolved:
        assert self.symbols is not None
        where = f'@{loc.file}:{loc.line}' if loc else ''
        shown = f'{family}("{name}{where}")' + ('.return' if sx.ret else '')
        if self.listing:
            return Resolved(handler, 'kprobe', shown, func=name, pc=sym.addr,
                            func_entry=sym.addr)
        anchor, offset = self.symbols.anchor(sym.addr)
        if anchor == sym.name:
            why = f'{sym.name} is unique in kallsyms'
        else:
            why = (f'{sym.name} names {self.symbols.count(sym.name)} symbols; '
                   f'{anchor} is the nearest unique symbol before it')
        return Resolved(handler, 'kretprobe' if sx.ret else 'kprobe', shown, func=name,
                        maxactive=sx.maxactive, pc=sym.addr, func_entry=sym.addr,
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
        r = self._place(handler, 'kprobe.function', name, funcs[0], None, Suffixes(ret=ret))
        r.pp = f'kprobe.function("{name}")' + ('.return' if ret else '')
        r.pc = r.func_entry = 0         # symbol-table probes have no target variables
        return [r]

    def _no_function(self, name: str, pos: Pos) -> None:
        assert self.symbols is not None
        pieces = [s for s in self.symbols.names_with_prefix(name + '.')
                  if entry_name(s) is None]
        if pieces:
            raise error(f"'{name}' has no entry of its own in this kernel: only "
                        f"{', '.join(sorted(pieces)[:4])}", pos,
                        hint='.part and .cold are pieces of a function that was '
                             'inlined into its callers; probe the callers')
        first = ''.join(f'[{c}]' if c in '*?[' else c for c in name[:1])
        candidates = [s for s in self._entry_names(first + '*')
                      if abs(len(s) - len(name)) <= 3]
        near = close_matches(name, candidates)
        raise error(f"no function '{name}' in {self.symbols.path}", pos,
                    hint=f"did you mean {', '.join(near)}?" if near else
                    'check the name in System.map')
