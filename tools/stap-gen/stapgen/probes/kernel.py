# SPDX-License-Identifier: GPL-2.0
"""kernel.function, kernel.statement and kprobe.function: kernel code.

A kernel.function probe becomes a kprobe on symbol+offset where the symbol
is unique in the kernel's kallsyms namespace: register_kprobe() resolves a
name through kallsyms and takes the first match, so a duplicated name
would silently probe the wrong function.  Every out-of-line copy (clones,
duplicated statics) and every inlined instance is probed; a point that
cannot be placed exactly is refused with the reason.  The placement
services these share (anchors, refused regions, inlined instances) are
the Resolver's, since they are facts of the tree.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional

from ..diag import error
from ..elf.symbols import SourceLoc
from ..frontend import nodes as n
from .base import Family, Probe
from .kprobe import KprobeProbe
from .names import WILD, expand_braces

if TYPE_CHECKING:
    from .resolve import Resolver

NO_DWARF = ('has no DWARF description (assembly, or code the compiler shares with '
            'another function)')


@dataclass
class Suffixes:
    call: bool = False
    inline: bool = False
    ret: bool = False
    exported: bool = False
    maxactive: int = 0
    label: str = ''             # .label("NAME"): a label of the function


class KernelFunction(Family):
    name = 'kernel.function'
    points = ('kernel.function("PATTERN")[.SUFFIX]',)

    def matches(self, names: List[str]) -> bool:
        return names[0] == 'kernel' and len(names) >= 2 and names[1] == 'function'

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        comps = pp.components
        arg = comps[1].arg
        if isinstance(arg, str) and re.search(r'@[^:+]*[:+]', arg):
            if len(comps) > 2:
                raise error('a function probe at a line takes no suffix', comps[2].pos)
            return _statement(r, handler, comps[1], 'kernel.function')
        return _function(r, handler, comps[1], parse_suffixes(comps[2:]))


class KernelStatement(Family):
    name = 'kernel.statement'
    points = ('kernel.statement("F@FILE:LINE")',)

    def matches(self, names: List[str]) -> bool:
        return names[:2] == ['kernel', 'statement'] and len(names) == 2

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        return _statement(r, handler, pp.components[1], 'kernel.statement')


class KernelAbsolute(Family):
    """kernel.statement(ADDR).absolute, guru mode only (not in the hint)."""
    name = 'kernel.statement.absolute'

    def matches(self, names: List[str]) -> bool:
        return names == ['kernel', 'statement', 'absolute']

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        return _absolute(r, handler, pp.components[1])


class KprobeFunction(Family):
    name = 'kprobe.function'
    points = ('kprobe.function("SYMBOL")',)

    def matches(self, names: List[str]) -> bool:
        return names[0] == 'kprobe' and len(names) in (2, 3) and names[1] == 'function'

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        comps = pp.components
        ret = len(comps) == 3
        if ret and comps[2].name != 'return':
            raise error(f"unknown probe point suffix '.{comps[2].name}'", comps[2].pos,
                        hint="kprobe.function(...) takes '.return'")
        return _kprobe_function(r, handler, comps[1], ret)


def parse_suffixes(comps: List[n.Component]) -> Suffixes:
    """.call, .inline, .return, .exported, .maxactive(N), .label("NAME") of a
    function probe."""
    sx = Suffixes()
    for c in comps:
        if c.name in ('call', 'inline', 'return', 'exported') and c.arg is None:
            setattr(sx, 'ret' if c.name == 'return' else c.name, True)
        elif c.name == 'maxactive' and isinstance(c.arg, int) and c.arg > 0:
            sx.maxactive = c.arg
        elif c.name == 'label' and isinstance(c.arg, str) and c.arg and len(comps) == 1:
            sx.label = c.arg
        else:
            raise error(f"unknown probe point suffix '.{c}'", c.pos,
                        hint="kernel.function(...) takes .call, .inline, .return, "
                             '.exported, .maxactive(N), or .label("NAME") alone')
    if sx.call and sx.inline:
        raise error('.call and .inline exclude each other', comps[0].pos)
    if sx.maxactive and not sx.ret:
        raise error('.maxactive(N) goes with .return', comps[0].pos)
    if sx.ret and sx.inline:
        raise error('.return cannot be placed on inlined instances: an inlined '
                    'copy has no return of its own', comps[0].pos)
    return sx


# -- kernel.function("NAME[@FILE]") ----------------------------------------
def _function(r: 'Resolver', handler: int, comp: n.Component, sx: 'Suffixes') -> List[Probe]:
    pattern = comp.arg
    if not isinstance(pattern, str) or not pattern:
        raise error('kernel.function needs a function name in quotes', comp.pos)
    func_pat, _, file_pat = pattern.partition('@')
    if '+' in file_pat:
        raise error(f'kernel.function("{pattern}"): relative lines (+N) are not '
                    'supported yet; use FUNC@FILE:LINE', comp.pos)
    r.syms(comp.pos)
    index = r.index()
    wild = bool(WILD.search(func_pat)) or '{' in func_pat
    bulk = r.bulk() if r.listing and wild else None
    names: List[str] = []
    for alt in expand_braces(func_pat):
        if not WILD.search(alt):
            names.append(alt)
        elif bulk is not None:
            names += fnmatch.filter(bulk.entries, alt)
            if not sx.call:
                names += fnmatch.filter(bulk.names, alt)
        else:
            names.extend(r.entry_names(alt))
            if index is not None and not sx.call:
                names.extend(index.names(alt))
    names = sorted(set(names))
    if sx.exported:
        assert r.symbols is not None
        names = [x for x in names if r.symbols.is_exported(x)]
    if sx.label:
        return _labels(r, handler, comp, names, sx.label, wild)
    out: List[Probe] = []
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
            bulk.entries.get(name, []) if bulk else r.entries(name)
        inlines = [] if index is None or sx.call else \
            r.listed_inlines(bulk, name, sx) if bulk else index.inlines(name)
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
            why = r.refused(sym)
            if why is None and sym.name != name:
                why = r.not_a_clone_of(sym, name)
            elif why is None and r.dwarf_name(sym.addr) is None:
                why = NO_DWARF
            if why is not None:
                if not wild:
                    raise error(f"'{name}' ({sym.name}) {why}", comp.pos,
                                hint=f'kprobe.function("{sym.name}") probes it by its '
                                     'symbol alone' if why == NO_DWARF else None)
                skipped.append(f'{sym.name}: {why}')
                continue
            loc = r.decl(sym.addr)
            if want_file(loc):
                out.append(r.place(handler, 'kernel.function', name, sym, loc, sx))
        for inl in inlines:
            loc = SourceLoc(inl.file, inl.line)
            if not want_file(loc):
                continue
            placed = r.place_inline(handler, inl, sx)
            if isinstance(placed, str):
                skipped.append(placed)
            else:
                out.append(placed)
    if skipped and r.verbose:
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
        if sx.inline and not wild:
            out_of_line = [x for x in names or [func_pat]
                           if (bulk.entries.get(x) if bulk else r.entries(x))]
            if out_of_line:
                raise error(f"'{out_of_line[0]}' has no inlined copies in this tree: "
                            'it is only out of line, so .inline matches nothing', comp.pos,
                            hint=f'drop .inline to probe its entry: '
                                 f'kernel.function("{out_of_line[0]}")')
        if wild:
            raise error(f'no function matches "{func_pat}"', comp.pos)
        r.no_function(func_pat, comp.pos)
    raise error(f'kernel.function("{pattern}"): no match can be probed', comp.pos,
                hint='; '.join(skipped[:5]))


# -- kernel.function("NAME").label("LABEL") ---------------------------------------
def _labels(r: 'Resolver', handler: int, comp: n.Component, names: List[str],
            label: str, wild: bool) -> List[Probe]:
    """A probe at each label matching label in the out-of-line bodies of
    names (a label of an inlined copy is not looked for)."""
    from ..elf.scopes import DwarfFile, Unavailable
    assert r.symbols is not None and r.dwarf is not None
    scopes = DwarfFile(r.dwarf, r.index)
    out: List[Probe] = []
    have: List[str] = []
    bodies = 0
    for name in names:
        for sym in r.entries(name):
            if r.refused(sym) is not None or (sym.name != name and r.not_a_clone_of(sym, name)):
                continue
            bodies += 1
            try:
                found = scopes.labels(sym.addr, name)
            except Unavailable:
                continue
            have += [x for x, _ in found]
            for lab, addr in found:
                if not fnmatch.fnmatchcase(lab, label) or not sym.addr <= addr < sym.addr + sym.size:
                    continue
                anchor, offset = r.symbols.anchor(addr)
                out.append(KprobeProbe(
                    handler, f'kernel.function("{name}").label("{lab}")',
                    func=name, symbol=anchor, offset=offset,
                    target='|'.join(r.symbols.aliases(sym)), target_size=sym.size,
                    pc=addr, func_entry=sym.addr,
                    why=f'label {lab} in {sym.name}+{addr - sym.addr:#x}'))
    if out:
        return out
    if not bodies:
        if wild:
            raise error(f'no function matches "{comp.arg}"', comp.pos)
        r.no_function(str(comp.arg), comp.pos)
    raise error(f'no label "{label}" with code in {comp.arg} on this tree', comp.pos,
                hint=f'its labels with code: {", ".join(sorted(set(have)))}' if have else
                'the compiler kept no label of it (a label nothing jumps to, or one '
                'merged away, has no address)')


# -- kernel.statement("FUNC@FILE:LINES") -----------------------------------------
def _statement(r: 'Resolver', handler: int, comp: n.Component, family: str) -> List[Probe]:
    spec = comp.arg
    m = re.fullmatch(r'([^@]+)@([^:+]+)(?::(\*|\d+|\d+-\d+)|\+(\d+))', spec) \
        if isinstance(spec, str) else None
    if m is None:
        raise error(f'{family} needs "FUNC@FILE:LINE" (LINE may be N, N-M or *) '
                    'or "FUNC@FILE+N" (N lines after the declaration)', comp.pos)
    func_pat, file_pat, lines, rel = m.groups()
    assert r.symbols is not None and r.dwarf is not None
    r.syms(comp.pos)
    index = r.index()
    names = set()
    for f in expand_braces(func_pat):
        names.update(r.entry_names(f))
        if index is not None:
            names.update(index.names(f) if WILD.search(f) else
                         [f] if index.inlines(f) else [])
    if not names:
        r.no_function(func_pat, comp.pos)
    if rel is not None:
        lines = rel
    elif lines == '*':
        first, last = 0, 1 << 30
    else:
        low, _, high = lines.partition('-')
        first, last = int(low), int(high or low)
    out: List[Probe] = []
    with_code: List[int] = []
    for name in sorted(names):
        for host, decl, spans in r.bodies(name):
            if rel is not None:
                if decl is None:
                    continue
                first = last = decl.line + int(rel)
            rows = sorted({row for lo, hi in spans for row in r.dwarf.line_rows(lo, hi)
                           if any(fnmatch.fnmatchcase(row[1], f)
                                  for f in expand_braces(file_pat))})
            with_code += [r[2] for r in rows]
            seen = set()
            prev_line = None
            for addr, file, line in rows:
                # the first address of each run of rows for a line
                if first <= line <= last and line != prev_line and \
                        (lines == '*' and line not in seen or lines != '*'):
                    seen.add(line)
                    anchor, offset = r.symbols.anchor(addr)
                    out.append(KprobeProbe(
                        handler, f'{family}("{name}@{file}:{line}")',
                        func=name, symbol=anchor, offset=offset,
                        target='|'.join(r.symbols.aliases(host)),
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


# -- kernel.statement(ADDR).absolute (guru mode) ----------------------------------
def _absolute(r: 'Resolver', handler: int, comp: n.Component) -> List[Probe]:
    if not r.guru:
        raise error('kernel.statement(ADDR).absolute needs guru mode (-g)', comp.pos,
                    hint='an address ties the script to one build; prefer '
                         'kernel.statement("func@file:line")')
    if not isinstance(comp.arg, int):
        raise error('kernel.statement(ADDR).absolute takes a number', comp.pos)
    addr = comp.arg & ((1 << 64) - 1)
    syms = r.syms(comp.pos)
    host = syms.function_at(addr)
    if host is None:
        raise error(f'{addr:#x} is in no function of {syms.path}', comp.pos)
    why = r.refused(host)
    if why is not None:
        raise error(f'{addr:#x} is in {host.name}, which {why}', comp.pos)
    assert r.dwarf is not None
    rows = r.dwarf.line_rows(host.addr, host.addr + host.size)
    if addr != host.addr and addr not in {r[0] for r in rows}:
        raise error(f'{addr:#x} ({host.name}+{addr - host.addr:#x}) is not the start of '
                    'a source line: it may not be an instruction boundary', comp.pos,
                    hint='use kernel.statement("func@file:line")')
    anchor, offset = syms.anchor(addr)
    # the address is turned into symbol+offset like every other probe
    return [KprobeProbe(handler, f'kernel.statement({addr:#x}).absolute',
                     func=host.name, symbol=anchor, offset=offset,
                     target='|'.join(syms.aliases(host)), target_size=host.size,
                     pc=addr, func_entry=host.addr,
                     why=f'{host.name}+{addr - host.addr:#x}')]


# -- kprobe.function("SYMBOL"): the symbol table only ---------------------
def _kprobe_function(r: 'Resolver', handler: int, comp: n.Component, ret: bool) -> List[Probe]:
    name = comp.arg
    if not isinstance(name, str) or not name:
        raise error('kprobe.function needs a symbol name in quotes', comp.pos)
    syms = r.syms(comp.pos)
    funcs = syms.functions(name)
    if not funcs:
        r.no_function(name, comp.pos)
    if syms.count(name) > 1:
        raise error(f"'{name}' names {syms.count(name)} symbols in this kernel; "
                    'kprobe.function takes the symbol table at its word', comp.pos,
                    hint=f'use kernel.function("{name}"), which probes each one')
    why = r.refused(funcs[0])
    if why:
        raise error(f"'{name}' {why}", comp.pos)
    probe = r.place(handler, 'kprobe.function', name, funcs[0], None, Suffixes(ret=ret))
    probe.pp = f'kprobe.function("{name}")' + ('.return' if ret else '')
    probe.pc = probe.func_entry = 0     # symbol-table probes have no target variables
    return [probe]
