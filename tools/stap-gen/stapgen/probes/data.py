# SPDX-License-Identifier: GPL-2.0
"""kernel.data("SYMBOL").write / .rw [.length(N)], and kernel.data(ADDR)
under -g: a hardware watchpoint on every CPU (register_wide_hw_breakpoint).

    probe kernel.data("jiffies").write { n++ }

SYMBOL must be exported by the kernel: the module names it, and the
linker resolves it, as with @var; stap-gen never embeds a kernel address
to reach the others.  A bare ADDR is the user's own address and needs -g,
as kernel.statement(ADDR).absolute does.  The length (1, 2, 4 or 8 bytes)
defaults to the symbol's size, at most 8; x86 watches writes, or reads and
writes, never reads alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List

from ..diag import error
from ..frontend import nodes as n
from .base import Family, Generation, Kconfig, Probe

if TYPE_CHECKING:
    from .resolve import Resolver


@dataclass
class DataProbe(Probe):
    symbol: str = ''        # the exported symbol, or '' with addr
    addr: int = 0
    length: int = 8
    rw: bool = False        # .rw: reads and writes; else writes only

    family = 'data'

    def kconfig(self) -> Kconfig:
        return [('CONFIG_HAVE_HW_BREAKPOINT', 'kernel.data probes are hardware watchpoints')]

    def template(self, gen: Generation) -> Dict[str, object]:
        return {'index': self.index, 'symbol': self.symbol, 'addr': f'{self.addr:#x}',
                'length': self.length, 'rw': self.rw}


class KernelData(Family):
    name = 'kernel.data'
    points = ('kernel.data("SYMBOL").write', 'kernel.data("SYMBOL").rw',
              'kernel.data(ADDR).write.length(N)')

    def matches(self, names: List[str]) -> bool:
        return names[:2] == ['kernel', 'data']

    def resolve(self, r: 'Resolver', handler: int, pp: n.ProbePoint) -> List[Probe]:
        comp = pp.components[1]
        rest = pp.components[2:]
        if not rest or rest[0].name not in ('write', 'rw') or rest[0].arg is not None:
            raise error('kernel.data(...) is .write or .rw', (rest[0] if rest else comp).pos,
                        hint='x86 watchpoints see writes, or reads and writes; not reads '
                             'alone')
        rw = rest[0].name == 'rw'
        length = 0
        for c in rest[1:]:
            if c.name != 'length' or c.arg not in (1, 2, 4, 8):
                raise error('kernel.data(...).write takes .length(N), N 1, 2, 4 or 8 bytes',
                            c.pos)
            assert isinstance(c.arg, int)
            length = c.arg
        symbol, addr = '', 0
        if isinstance(comp.arg, str):
            symbol = comp.arg
            syms = r.syms(comp.pos)
            found = [s for s in syms.named(symbol) if not s.is_func]
            if not found:
                raise error(f'kernel.data("{symbol}"): the kernel has no data symbol '
                            f"'{symbol}'", comp.pos)
            if not syms.is_exported(symbol):
                raise error(f'kernel.data("{symbol}"): \'{symbol}\' is not exported by the '
                            'kernel', comp.pos,
                            hint='a module can only name exported symbols; stap-gen never '
                                 'embeds a kernel address to reach the others')
            if not length:
                size = found[0].size
                length = next((x for x in (1, 2, 4, 8) if x >= size), 8) if size else 8
            if found[0].addr % length:
                raise error(f"kernel.data(\"{symbol}\"): '{symbol}' is not aligned to "
                            f'{length} bytes; a watchpoint must be', comp.pos,
                            hint='watch fewer bytes with .length(N)')
        elif isinstance(comp.arg, int):
            if not r.guru:
                raise error('kernel.data(ADDR) needs guru mode (-g)', comp.pos,
                            hint='an address ties the script to one boot of one build; '
                                 'prefer kernel.data("SYMBOL") of an exported symbol')
            addr, length = comp.arg & ((1 << 64) - 1), length or 1
            if addr % length:
                raise error(f'kernel.data({comp.arg:#x}): not aligned to {length} bytes',
                            comp.pos)
        else:
            raise error('kernel.data takes an exported symbol in quotes, or an address (-g)',
                        comp.pos)
        what = f'"{symbol}"' if symbol else f'{addr:#x}'
        text = f'kernel.data({what}).{"rw" if rw else "write"}.length({length})'
        return [DataProbe(handler, text, symbol=symbol, addr=addr, length=length, rw=rw)]
