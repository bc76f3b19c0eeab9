# SPDX-License-Identifier: GPL-2.0
"""Probe families: one class per kind of probe point.

A family knows which probe points are its own (`matches`), how to place
them against the tree (`resolve`, giving one `Probe` per placed point),
and each `Probe` it makes knows the rest: the Kconfig symbols the module
then needs, where its DWARF scope is (for target variables), what -p2
prints, and the context its template (kernel-templates/*/probes/NAME.h.j2)
renders it from.  Adding a family is one class here and one template.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Protocol, Tuple

from ..elf.scopes import Site, Unavailable

if TYPE_CHECKING:
    from ..frontend import nodes as n
    from ..frontend.semantic import FamilyVar
    from .resolve import Resolver

Kconfig = List[Tuple[str, str]]         # (CONFIG_X, why the module needs it)


class SiteSource(Protocol):
    """Where a probe's DWARF scope comes from (codegen's view of the tree)."""

    def vmlinux_site(self, pc: int, func: str, inline: bool, func_entry: int,
                     ret: bool) -> Site: ...

    def module_site(self, path: str, pc: int, func: str, func_entry: int,
                    ret: bool) -> Site: ...

    def trace_site(self, pc: int, name: str) -> Site: ...


class Generation(Protocol):
    """What a probe's template context needs from the translated script."""

    def handler(self, probe: 'Probe') -> str: ...

    def entry_slots(self, handler: str) -> Optional[str]:
        """The s64 slots a .return handler's entry saving takes (C), or None."""

    def trace_prototype(self, probe: 'Probe') -> List[Tuple[str, str]]: ...


@dataclass
class Probe:
    """One probe point, placed."""
    handler: int            # index of the script probe whose body runs
    pp: str                 # what pp() returns and -p2 prints
    func: str = ''          # probefunc()
    why: str = ''           # why it is placed so (-p2 -v)
    index: int = 0          # position in the module's probe table

    family = ''             # its template: probes/<family>.h.j2

    def describe(self, verbose: bool = False) -> str:
        return self.pp

    def kconfig(self) -> Kconfig:
        return []

    def site(self, dwarf: SiteSource) -> Site:
        """The DWARF scope target variables are read in, or Unavailable."""
        raise Unavailable(f'{self.pp} is not in code with DWARF (target variables work '
                          'in kernel.function, kernel.statement, module(...).function '
                          'and kernel.trace probes)')

    def template(self, gen: Generation) -> Dict[str, object]:
        """What the family's template renders this probe from."""
        return {'index': self.index, 'pp': self.pp}


class Family(ABC):
    """A kind of probe point."""
    name = ''               # for --dump-probe-types and messages
    points: Tuple[str, ...] = ()    # the probe points it takes, as help shows them

    @abstractmethod
    def matches(self, names: List[str]) -> bool:
        """Is a probe point with these component names this family's?"""

    @abstractmethod
    def resolve(self, r: 'Resolver', handler: int, pp: 'n.ProbePoint') -> List[Probe]:
        """Place the point: one Probe per place, or a StapError saying why not."""

    def variables(self, names: List[str]) -> Optional[Dict[str, 'FamilyVar']]:
        """The variables the family gives its handlers ($value, ...), if any."""
        return None
