# SPDX-License-Identifier: GPL-2.0
"""kernel.trace("[GROUP:]NAME"): the kernel's tracepoints."""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from ..diag import close_matches, error
from ..elf.scopes import Site, Unavailable
from ..frontend import nodes as n
from ..frontend.semantic import FamilyVar
from .base import Family, Generation, Kconfig, Probe, SiteSource
from .names import expand_braces

if TYPE_CHECKING:
    from .resolve import Resolver


@dataclass
class TracepointProbe(Probe):
    pc: int = 0             # __traceiter_NAME, whose parameters the event passes
    func_entry: int = 0

    family = 'tracepoint'

    def kconfig(self) -> Kconfig:
        return [('CONFIG_TRACEPOINTS', 'kernel.trace probes join the kernel\'s '
                 'tracepoints')]

    def site(self, dwarf: SiteSource) -> Site:
        return dwarf.trace_site(self.pc, self.func)

    def template(self, gen: Generation) -> Dict[str, object]:
        """The probe function's C prototype, from __traceiter_NAME's DWARF."""
        try:
            proto = gen.trace_prototype(self)
        except Unavailable as u:
            raise error(f'{self.pp}: {u}') from None
        return {'name': self.func, 'probe_index': self.index,
                'params': [t for t, _ in proto], 'args': [a for _, a in proto] or ['0']}


class Trace(Family):
    name = 'kernel.trace'
    points = ('kernel.trace("[GROUP:]NAME")',)

    def matches(self, names: List[str]) -> bool:
        return names[:2] == ['kernel', 'trace'] and len(names) == 2

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        return _trace(r, handler, pp.components[1])

    def variables(self, names: List[str]) -> Optional[Dict[str, FamilyVar]]:
        # $$name: the tracepoint's name (its arguments are DWARF targets)
        return {'$name': FamilyVar(n.STRING, 'stp_probe_name')}


_SYSTEMS: Dict[Tuple[Optional[Path], str], str] = {}
_TRACE_SYSTEM = re.compile(r'^#define\s+TRACE_SYSTEM\s+(\w+)', re.M)


def _trace_system(r: 'Resolver', header: str) -> str:
    """The TRACE_SYSTEM a tracepoint header of the tree defines."""
    key = (r.srctree, header)
    if key not in _SYSTEMS:
        path = Path(header)
        if not path.is_absolute() and r.srctree is not None:
            path = r.srctree / path
        try:
            m = _TRACE_SYSTEM.search(path.read_text(errors='replace'))
        except OSError:
            m = None
        _SYSTEMS[key] = m.group(1) if m else Path(header).stem
    return _SYSTEMS[key]


# -- kernel.trace("[GROUP:]NAME") ---------------------------------------------------
def _trace(r: 'Resolver', handler: int, comp: n.Component) -> List[Probe]:
    """A tracepoint, registered by name at load time.

    The tree says which exist (a __tracepoint_NAME symbol each) and what
    they pass (the parameters of __traceiter_NAME in DWARF).  The group
    is the TRACE_SYSTEM of the header that defines the event, as in
    tracefs (raw_syscalls for sys_enter); the header's name (syscalls)
    is taken too.
    """
    spec = comp.arg
    if not isinstance(spec, str) or not spec:
        raise error('kernel.trace needs a tracepoint name in quotes, '
                    'optionally with its group: "sched:sched_switch"', comp.pos)
    group_pat, _, name_pat = spec.rpartition(':')
    syms = r.syms(comp.pos)
    index = r.index()
    out: List[Probe] = []
    names = []
    for full in syms.names_with_prefix('__tracepoint_'):
        name = full[len('__tracepoint_'):]
        names.append(name)
        if not any(fnmatch.fnmatchcase(name, p) for p in expand_braces(name_pat)):
            continue
        it = index.functions('__traceiter_' + name) if index is not None else []
        if not it:
            if r.verbose:
                print(f'stap-gen: tracepoint {name} has no DWARF for its arguments; '
                      'skipped', file=sys.stderr)
            continue
        group = _trace_system(r, it[0].file)
        if group_pat and not any(fnmatch.fnmatchcase(g, p) for p in expand_braces(group_pat)
                                 for g in (group, Path(it[0].file).stem)):
            continue
        out.append(TracepointProbe(handler, f'kernel.trace("{group}:{name}")',
                            func=name, pc=it[0].addr, func_entry=it[0].addr,
                            why=f'__traceiter_{name} in {it[0].file}'))
    if not out:
        near = close_matches(name_pat, names)
        raise error(f'no tracepoint matches "{spec}"', comp.pos,
                    hint=f"did you mean {', '.join(near)}?" if near else
                    "list them with -l 'kernel.trace(\"*\")'")
    return out
