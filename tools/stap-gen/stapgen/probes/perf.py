# SPDX-License-Identifier: GPL-2.0
"""perf.sw.NAME / perf.hw.NAME / perf.type(T).config(C), with .sample(N):
a kernel perf counter on every online CPU, the probe running each N
events (perf_event_create_kernel_counter, an overflow handler).

    probe perf.sw.cpu_clock.sample(10000000) { n[cpu()]++ }
    probe perf.sw("cpu-clock").sample(1000000) { ... }

The counters a name stands for are the tree's own: NAME is a
PERF_COUNT_SW_* or PERF_COUNT_HW_* of its include/uapi/linux/perf_event.h,
lower case (SystemTap's spelling; '-' may stand for '_').  A hardware
counter the CPU does not have (any, under QEMU's TCG) is refused when the
module loads, with the kernel's error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional

from ..diag import close_matches, error
from ..frontend import nodes as n
from .base import Family, Generation, Kconfig, Probe

if TYPE_CHECKING:
    from .resolve import Resolver

DEFAULT_SAMPLE = 1_000_000      # SystemTap's
KINDS = ('sw', 'hw')


@dataclass
class PerfProbe(Probe):
    kind: str = ''          # 'sw' or 'hw' (the template names the type), or '' with type
    type: int = 0           # perf.type(T)
    config: str = ''        # C: the counter (PERF_COUNT_..., or a number)
    sample: int = DEFAULT_SAMPLE

    family = 'perf'

    def kconfig(self) -> Kconfig:
        return [('CONFIG_PERF_EVENTS', 'perf.* probes are kernel perf counters')]

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'kind': self.kind, 'type': self.type, 'config': self.config,
                'sample': self.sample, 'pp': self.pp}


def tree_counters(srctree: Optional[Path]) -> Dict[str, Dict[str, str]]:
    """{'sw': {'cpu_clock': 'PERF_COUNT_SW_CPU_CLOCK', ...}, 'hw': {...}} as
    the tree's uapi header defines them."""
    out: Dict[str, Dict[str, str]] = {'sw': {}, 'hw': {}}
    if srctree is None:
        return out
    try:
        text = (srctree / 'include/uapi/linux/perf_event.h').read_text()
    except OSError:
        return out
    for kind, name in re.findall(r'^\s*PERF_COUNT_(SW|HW)_([A-Z0-9_]+)\s*=\s*\d+', text, re.M):
        out[kind.lower()][name.lower()] = f'PERF_COUNT_{kind}_{name}'
    return out


class Perf(Family):
    name = 'perf'
    points = ('perf.sw.NAME[.sample(N)]', 'perf.hw.NAME[.sample(N)]',
              'perf.sw("NAME")[.sample(N)]', 'perf.type(T).config(C)[.sample(N)]')

    def matches(self, names: List[str]) -> bool:
        return names[0] == 'perf'

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        comps = list(pp.components[1:])
        if not comps:
            raise error('perf needs a counter', pp.pos, hint=', '.join(self.points))
        head = comps.pop(0)
        if head.name in KINDS:
            kind = head.name
            if isinstance(head.arg, str):
                name = head.arg
            elif head.arg is None and comps and comps[0].arg is None and \
                    comps[0].name != 'sample':
                name = comps.pop(0).name
            else:
                raise error(f'perf.{kind} needs a counter name', head.pos,
                            hint=f'perf.{kind}.NAME or perf.{kind}("NAME")')
            known = tree_counters(r.srctree)[kind]
            key = name.replace('-', '_').lower()
            if key not in known:
                near = close_matches(key, list(known))
                raise error(f"this tree has no {kind} perf counter '{name}'", head.pos,
                            hint=f'did you mean {" or ".join(near)}?' if near else
                            'its include/uapi/linux/perf_event.h lists them: ' +
                            ', '.join(sorted(known)))
            ptype, config, shown = 0, known[key], f'perf.{kind}.{key}'
        elif head.name == 'type':
            if not isinstance(head.arg, int) or head.arg < 0 or not comps or \
                    comps[0].name != 'config' or not isinstance(comps[0].arg, int) or \
                    comps[0].arg < 0:
                raise error('perf.type(T).config(C) takes two numbers', head.pos)
            c = comps.pop(0)
            assert isinstance(c.arg, int)
            kind, ptype, config = '', head.arg, f'{c.arg:#x}'
            shown = f'perf.type({head.arg}).config({c.arg})'
        else:
            raise error(f"unknown perf probe 'perf.{head.name}'", head.pos,
                        hint=', '.join(self.points))
        sample = DEFAULT_SAMPLE
        if comps and comps[0].name == 'sample':
            c = comps.pop(0)
            if not isinstance(c.arg, int) or c.arg <= 0:
                raise error('.sample(N) takes a positive count of events', c.pos)
            sample = c.arg
        if comps:
            raise error(f"unknown perf probe suffix '.{comps[0].name}'", comps[0].pos,
                        hint='.sample(N) is the only one')
        return [PerfProbe(handler, f'{shown}.sample({sample})', kind=kind, type=ptype,
                          config=config,
                          sample=sample)]
