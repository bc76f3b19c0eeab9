# SPDX-License-Identifier: GPL-2.0
"""Kernel modules (.ko) as probe targets.

A module's functions are probed with kprobes' "module:symbol" syntax, so a
module symbol can never bind to a vmlinux symbol of the same name.  In a
.ko every section starts at address 0, so a symbol's value is its offset
in its own section and an anchor must be in the same section as the code
it anchors.
"""

from __future__ import annotations

import bisect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from ..elf.symbols import SourceLoc, _attr_str, _file_name

# kprobes refuse module init code once it is freed, and exit code is only
# run at unload: neither is a place to probe a running module.
REFUSED_SECTIONS = ('.init.text', '.exit.text')


@dataclass(frozen=True)
class ModSymbol:
    name: str
    section: str
    offset: int
    size: int


class ModuleFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.symbols: List[ModSymbol] = []
        self.counts: Dict[str, int] = {}
        self._decls: Optional[Dict[Tuple[str, int], SourceLoc]] = None
        with path.open('rb') as f:
            elf = ELFFile(f)
            self.name = self._modinfo_name(elf) or path.name[:-3].replace('-', '_')
            symtab = elf.get_section_by_name('.symtab')
            if symtab is None:
                raise OSError(f'{path} has no symbol table')
            for sym in symtab.iter_symbols():  # type: ignore[attr-defined]
                if not sym.name or sym['st_info']['type'] in ('STT_SECTION', 'STT_FILE'):
                    continue
                self.counts[sym.name] = self.counts.get(sym.name, 0) + 1
                shndx = sym['st_shndx']
                if sym['st_info']['type'] != 'STT_FUNC' or not isinstance(shndx, int):
                    continue
                sec = elf.get_section(shndx).name
                self.symbols.append(ModSymbol(sym.name, sec, sym['st_value'], sym['st_size']))
        self.symbols.sort(key=lambda s: (s.section, s.offset))

    @staticmethod
    def _modinfo_name(elf: ELFFile) -> Optional[str]:
        sec = elf.get_section_by_name('.modinfo')
        if sec is None:
            return None
        for item in sec.data().split(b'\0'):
            if item.startswith(b'name='):
                return item[5:].decode()
        return None

    def functions(self, name: str) -> List[ModSymbol]:
        return [s for s in self.symbols if s.name == name]

    def anchor(self, sym: ModSymbol) -> Tuple[str, int]:
        """A symbol unique in the module, at or before sym in its section."""
        same = [s for s in self.symbols if s.section == sym.section]
        i = bisect.bisect_right([s.offset for s in same], sym.offset) - 1
        while i >= 0:
            s = same[i]
            if self.counts.get(s.name) == 1 and not s.name.startswith(('__pfx_', '__cfi_')):
                return s.name, sym.offset - s.offset
            i -= 1
        raise LookupError(f'no unique symbol before {sym.name} in {self.path}')

    def decl(self, sym: ModSymbol) -> Optional[SourceLoc]:
        if self._decls is None:
            self._decls = self._read_decls()
        return self._decls.get((sym.name, sym.offset))

    def _read_decls(self) -> Dict[Tuple[str, int], SourceLoc]:
        out: Dict[Tuple[str, int], SourceLoc] = {}
        with self.path.open('rb') as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return out
            info = elf.get_dwarf_info()
            for cu in info.iter_CUs():
                top = cu.get_top_DIE()
                comp_dir = _attr_str(top, 'DW_AT_comp_dir') or ''
                for die in top.iter_children():
                    low = die.attributes.get('DW_AT_low_pc')
                    line = die.attributes.get('DW_AT_decl_line')
                    fidx = die.attributes.get('DW_AT_decl_file')
                    name = _attr_str(die, 'DW_AT_name')
                    if die.tag != 'DW_TAG_subprogram' or low is None or line is None or \
                            fidx is None or name is None:
                        continue
                    out[(str(name), low.value)] = SourceLoc(
                        _file_name(info, cu, fidx.value, comp_dir), line.value)
        return out


def find(spec: str, objtree: Optional[Path]) -> List[Path]:
    """The .ko files a module("spec") names: a path, or names in the tree."""
    if spec.endswith('.ko') or '/' in spec:
        p = Path(spec)
        return [p] if p.exists() else []
    if objtree is None:
        return []
    import fnmatch
    want = spec.replace('-', '_')
    out = []
    for root, _dirs, files in os.walk(objtree):
        for f in files:
            if f.endswith('.ko') and fnmatch.fnmatchcase(f[:-3].replace('-', '_'), want):
                out.append(Path(root) / f)
    return sorted(out)
