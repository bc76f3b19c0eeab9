# SPDX-License-Identifier: GPL-2.0
"""begin, end and error: probes of the script's own life, not the kernel's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List

from ..frontend import nodes as n
from .base import Family, Generation, Probe

if TYPE_CHECKING:
    from .resolve import Resolver


@dataclass
class LifecycleProbe(Probe):
    when: str = 'begin'     # begin, end or error

    family = 'lifecycle'

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'when': self.when}


class Lifecycle(Family):
    name = 'begin/end/error'
    points = ('begin', 'end', 'error')

    def matches(self, names: List[str]) -> bool:
        return names in (['begin'], ['end'], ['error'])

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        c = pp.components[0]
        r.no_arg(c)
        return [LifecycleProbe(handler, c.name, when=c.name)]
