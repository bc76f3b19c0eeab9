# SPDX-License-Identifier: GPL-2.0
"""timer.s/ms/us/ns/hz/jiffies(N) and timer.profile: hrtimers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List

from ..diag import error
from ..frontend import nodes as n
from .base import Family, Generation, Probe

if TYPE_CHECKING:
    from .resolve import Resolver

# nanoseconds per unit of timer.UNIT(N); hz and jiffies are computed
# (timer.sec, .msec, .usec and .nsec are SystemTap's longer spellings)
TIMER_UNITS = {'s': 1_000_000_000, 'ms': 1_000_000, 'us': 1_000, 'ns': 1,
               'sec': 1_000_000_000, 'msec': 1_000_000, 'usec': 1_000, 'nsec': 1,
               'hz': 0, 'jiffies': 0}
MIN_TIMER_NS = 100_000


@dataclass
class TimerProbe(Probe):
    period_ns: int = 0
    jiffies: int = 0        # timer.jiffies(N): the tree's HZ decides the period

    family = 'timer'

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'period_ns': self.period_ns, 'jiffies': self.jiffies}


@dataclass
class ProfileProbe(Probe):
    family = 'profile'


class Timer(Family):
    name = 'timer'
    points = ('timer.s/ms/us/ns/hz/jiffies(N)', 'timer.sec/msec/usec/nsec(N)')

    def matches(self, names: List[str]) -> bool:
        return names[0] == 'timer' and len(names) == 2 and names[1] in TIMER_UNITS

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        return [_timer(r, handler, pp.components[1])]


class Profile(Family):
    name = 'timer.profile'
    points = ('timer.profile',)

    def matches(self, names: List[str]) -> bool:
        return names == ['timer', 'profile']

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        r.no_arg(pp.components[1])
        return [ProfileProbe(handler, 'timer.profile')]


def _timer(r: 'Resolver', handler: int, comp: n.Component) -> Probe:
    """timer.s/ms/us/ns(N), timer.hz(N), timer.jiffies(N): an hrtimer."""
    unit, value = comp.name, comp.arg
    if not isinstance(value, int) or value <= 0:
        raise error(f'timer.{unit} needs a positive number', comp.pos)
    pp = f'timer.{unit}({value})'
    if unit == 'jiffies':       # the tree's HZ decides: the C says N * TICK_NSEC
        return TimerProbe(handler, pp, jiffies=value)
    ns = 1_000_000_000 // value if unit == 'hz' else value * TIMER_UNITS[unit]
    if ns < MIN_TIMER_NS:
        raise error(f'{pp} fires every {ns} ns; the runtime allows no less than '
                    f'{MIN_TIMER_NS // 1000} us', comp.pos,
                    hint='a shorter period would keep a CPU in the handler')
    return TimerProbe(handler, pp, period_ns=ns)
