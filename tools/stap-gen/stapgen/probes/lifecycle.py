# SPDX-License-Identifier: GPL-2.0
"""begin, end and error: probes of the script's own life, not the kernel's;
and never, which is checked and compiled but never runs.

begin(N), end(N) and error(N) run in the order of N (default 0; negative
first), probes of the same N in the order of the script."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List

from ..diag import error
from ..frontend import nodes as n
from .base import Family, Generation, Probe

if TYPE_CHECKING:
    from .resolve import Resolver


@dataclass
class LifecycleProbe(Probe):
    when: str = 'begin'     # begin, end or error
    priority: int = 0

    family = 'lifecycle'

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'when': self.when, 'priority': self.priority}


class Lifecycle(Family):
    name = 'begin/end/error'
    points = ('begin', 'end', 'error', 'begin(N)', 'end(N)', 'error(N)', 'never')

    def matches(self, names: List[str]) -> bool:
        return names in (['begin'], ['end'], ['error'], ['never'])

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        c = pp.components[0]
        if c.name == 'never':
            r.no_arg(c)
            return []
        if isinstance(c.arg, str):
            raise error(f"{c.name}(N) takes a number: the order it runs in", c.pos,
                        hint=f'{c.name}(-1) runs before {c.name}, {c.name}(1) after')
        pp_text = c.name if c.arg is None else f'{c.name}({c.arg})'
        return [LifecycleProbe(handler, pp_text, when=c.name, priority=c.arg or 0)]
