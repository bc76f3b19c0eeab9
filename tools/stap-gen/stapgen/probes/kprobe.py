# SPDX-License-Identifier: GPL-2.0
"""The placed kprobe: what every family that probes kernel code makes.

kernel.function, kernel.statement, kprobe.function and module(...)
probes all become a kprobe (a kretprobe for .return) on symbol+offset,
the symbol unique in the kernel's (or the module's) kallsyms namespace;
probes/kprobe.h.j2 registers them and checks where each landed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from ..elf.scopes import Site, Unavailable
from .base import Generation, Kconfig, Probe, SiteSource


@dataclass
class KprobeProbe(Probe):
    symbol: str = ''        # the kprobe's anchor: unique in kallsyms
    offset: int = 0
    ret: bool = False       # a kretprobe (.return)
    target: str = ''        # the function symbol the probe must land in
    target_size: int = 0
    maxactive: int = 0      # kretprobe instances (0: the kernel's default)
    target_module: str = ''  # the module the target function is in
    # for target variables only (never in the generated C): the link-time
    # address of the probed instruction, the entry of the function holding
    # it, and whether it is an inlined instance of func
    pc: int = 0
    func_entry: int = 0
    inline: bool = False
    dwarf_path: str = ''    # the .ko whose DWARF describes pc (module probes;
                            # pc is then an offset in its .text)

    family = 'kprobe'

    def describe(self, verbose: bool = False) -> str:
        text = f'{self.pp} /* pc=<{self.symbol}+{self.offset:#x}> */'
        if verbose and self.why:
            text += f' /* {self.why} */'
        return text

    def kconfig(self) -> Kconfig:
        need = [('CONFIG_KPROBES', 'kernel.function probes are kprobes')]
        if self.ret:
            need.append(('CONFIG_KRETPROBES', '.return probes are kretprobes'))
        return need

    def site(self, dwarf: SiteSource) -> Site:
        if self.target_module:
            if not self.dwarf_path:
                raise Unavailable(f'{self.target} is outside .text of {self.target_module}: '
                                  'its DWARF addresses are ambiguous there')
            try:
                return dwarf.module_site(self.dwarf_path, self.pc, self.func,
                                         self.func_entry, self.ret)
            except Unavailable as u:
                raise Unavailable(f'{u} (in {self.dwarf_path})') from None
        if not self.pc:
            return super().site(dwarf)
        return dwarf.vmlinux_site(self.pc, self.func, self.inline, self.func_entry, self.ret)

    def template(self, gen: Generation) -> Dict[str, object]:
        handler = gen.handler(self)
        return {'symbol': self.symbol, 'offset_hex': f'{self.offset:#x}',
                'probe_index': self.index, 'handler': handler, 'ret': self.ret,
                'entry_slots': gen.entry_slots(handler), 'maxactive': self.maxactive,
                'target': self.target, 'target_size_hex': f'{self.target_size:#x}',
                'target_module': self.target_module}
