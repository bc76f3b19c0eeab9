# SPDX-License-Identifier: GPL-2.0
"""netfilter.hook("HOOK")[.pf("PF")][.priority(N)]: a netfilter hook in the
initial network namespace (nf_register_net_hook).

    probe netfilter.hook("NF_INET_LOCAL_IN").pf("NFPROTO_IPV4") {
        if ($indev_name == "lo") n++
    }

HOOK and PF are the tree's own names (enum nf_inet_hooks and the
NFPROTO_* of its include/uapi/linux/netfilter.h) or numbers; pf defaults
to NFPROTO_IPV4 and the priority to 0.  The handler sees $hooknum, $pf,
$skb, $indev, $outdev (pointers), $indev_name and $outdev_name; under -g
it may set $verdict to 0 (drop) or 1 (accept, the default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from ..diag import close_matches, error
from ..frontend import nodes as n
from ..frontend.semantic import FamilyVar
from .base import Family, Generation, Kconfig, Probe

if TYPE_CHECKING:
    from .resolve import Resolver

VARS = {
    'hooknum': FamilyVar(n.LONG, 'stp_nf_hooknum'),
    'pf': FamilyVar(n.LONG, 'stp_nf_pf'),
    'skb': FamilyVar(n.LONG, 'stp_nf_skb'),
    'indev': FamilyVar(n.LONG, 'stp_nf_indev'),
    'outdev': FamilyVar(n.LONG, 'stp_nf_outdev'),
    'in': FamilyVar(n.LONG, 'stp_nf_indev'),
    'out': FamilyVar(n.LONG, 'stp_nf_outdev'),
    'indev_name': FamilyVar(n.STRING, 'stp_nf_indev_name'),
    'outdev_name': FamilyVar(n.STRING, 'stp_nf_outdev_name'),
    'verdict': FamilyVar(n.LONG, 'stp_nf_verdict', 'stp_nf_set_verdict', guru=True),
}


@dataclass
class NetfilterProbe(Probe):
    hook: str = ''          # C: the hook (a name of the tree's, or a number)
    pf: str = ''
    priority: int = 0

    family = 'netfilter'

    def kconfig(self) -> Kconfig:
        return [('CONFIG_NETFILTER', 'netfilter probes are netfilter hooks')]

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'hook': self.hook, 'pf': self.pf,
                'priority': self.priority}


def tree_names(srctree: Optional[Path]) -> Tuple[Set[str], Set[str]]:
    """The hook and protocol family names the tree's uapi header defines."""
    try:
        text = (srctree / 'include/uapi/linux/netfilter.h').read_text() if srctree else ''
    except OSError:
        text = ''
    m = re.search(r'enum nf_inet_hooks \{(.*?)\}', text, re.S)
    hooks = set(re.findall(r'\b(NF_INET_[A-Z_]+)\b', m.group(1))) if m else set()
    hooks.discard('NF_INET_NUMHOOKS')
    pfs = set(re.findall(r'\b(NFPROTO_[A-Z0-9]+)\s*=', text)) - {'NFPROTO_NUMPROTO'}
    return hooks, pfs


class Netfilter(Family):
    name = 'netfilter'
    points = ('netfilter.hook("HOOK")[.pf("PF")][.priority(N)]',)

    def matches(self, names: List[str]) -> bool:
        return names[0] == 'netfilter' and len(names) > 1 and \
            names[1] in ('hook', 'pf', 'priority')

    def variables(self, names: List[str]) -> Optional[Dict[str, FamilyVar]]:
        return VARS

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        hooks, pfs = tree_names(r.srctree)
        got: Dict[str, object] = {}
        for c in pp.components[1:]:
            if c.name not in ('hook', 'pf', 'priority') or c.name in got or c.arg is None:
                raise error(f"netfilter takes .hook(\"HOOK\"), .pf(\"PF\") and "
                            f".priority(N) once each, not '.{c.name}'", c.pos,
                            hint=self.points[0])
            got[c.name] = self._value(c, hooks if c.name == 'hook' else pfs)
        if 'hook' not in got:
            raise error('a netfilter probe needs .hook("HOOK")', pp.pos,
                        hint='one of ' + ', '.join(sorted(hooks)))
        pf = str(got.get('pf', 'NFPROTO_IPV4'))
        prio = got.get('priority', 0)
        assert isinstance(prio, int)
        text = f'netfilter.hook("{got["hook"]}").pf("{pf}")' + \
            (f'.priority({prio})' if prio else '')
        return [NetfilterProbe(handler, text, hook=str(got['hook']), pf=pf, priority=prio)]

    @staticmethod
    def _value(c: n.Component, names: Set[str]) -> object:
        if c.name == 'priority':
            v = c.arg
            if isinstance(v, str) and re.fullmatch(r'-?\d+', v):
                v = int(v)
            if not isinstance(v, int) or not -(1 << 31) <= v < 1 << 31:
                raise error('.priority(N) takes a number (lower runs first)', c.pos)
            return v
        if isinstance(c.arg, int) and 0 <= c.arg < 256:
            return str(c.arg)
        if isinstance(c.arg, str) and c.arg in names:
            return c.arg
        near = close_matches(str(c.arg), sorted(names))
        raise error(f'this tree has no netfilter {c.name} "{c.arg}"', c.pos,
                    hint=f'did you mean {" or ".join(near)}?' if near else
                    'its include/uapi/linux/netfilter.h has ' + ', '.join(sorted(names)))
