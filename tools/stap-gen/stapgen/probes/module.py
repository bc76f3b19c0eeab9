# SPDX-License-Identifier: GPL-2.0
"""module("M").function("F") and kprobe.module("M").function("F").

The module's own .ko gives the symbols (and, for module(...), the DWARF);
each probe is a kprobe on "module:symbol"+offset.
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, List

from ..diag import error
from ..frontend import nodes as n
from ..elf.symbols import entry_name
from ..tree import kmodule
from .base import Family, Probe
from .kernel import parse_suffixes
from .kprobe import KprobeProbe
from .names import WILD, expand_braces

if TYPE_CHECKING:
    from .resolve import Resolver


class ModuleFunction(Family):
    name = 'module.function'
    points = ('module("M").function("F")',)

    def matches(self, names: List[str]) -> bool:
        return names[:1] == ['module'] and len(names) >= 2 and names[1] == 'function'

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        return _module_function(r, handler, pp.components[0], pp.components, 'module')


class KprobeModuleFunction(Family):
    name = 'kprobe.module.function'
    points = ('kprobe.module("M").function("F")',)

    def matches(self, names: List[str]) -> bool:
        return names[:2] == ['kprobe', 'module'] and len(names) >= 3 and names[2] == 'function'

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        return _module_function(r, handler, pp.components[1], pp.components[1:],
                                'kprobe.module')


# -- module("M").function("PATTERN") ---------------------------------------------
def _module_function(r: 'Resolver', handler: int, mod: n.Component, comps: List[n.Component],
                     family: str) -> List[Probe]:
    spec = mod.arg
    if not isinstance(spec, str) or not spec:
        raise error(f'{mod.name}(...) needs a module name or a .ko path in quotes',
                    mod.pos)
    fcomp = comps[1]
    sx = parse_suffixes(comps[2:])
    if sx.call or sx.inline or sx.exported or sx.label:
        raise error(f'{family} probes take only .return and .maxactive(N) for now',
                    comps[2].pos)
    paths_ = kmodule.find(spec, r.objtree)
    if not paths_:
        raise error(f'no module "{spec}" found' +
                    (f' in {r.objtree}' if r.objtree else ''), mod.pos,
                    hint='give the .ko path, or build the module in the tree')
    pattern = fcomp.arg
    if not isinstance(pattern, str) or not pattern or '@' in pattern:
        raise error('the function of a module probe is a name or a pattern '
                    '(no @file yet)', fcomp.pos)
    out: List[Probe] = []
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
                if not WILD.search(pattern):
                    raise error(f"'{sym.name}' is in {sym.section} of {ko.name}: "
                                'kprobes cannot probe it in a running module',
                                fcomp.pos)
                continue
            anchor, offset = ko.anchor(sym)
            loc = ko.decl(sym) if family == 'module' else None
            where = f'@{loc.file}:{loc.line}' if loc else ''
            shown = (f'{family}("{ko.name}").function("{base}{where}")' +
                     ('.return' if sx.ret else ''))
            out.append(KprobeProbe(handler, shown, ret=sx.ret,
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
