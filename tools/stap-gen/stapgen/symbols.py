"""vmlinux symbols and the DWARF facts a probe point needs.

The symbol table says which names exist, how often, and where each
function starts and ends; the kernel's own section markers say which text
kprobes refuse (init, noinstr, entry, kprobes text) and `_kprobe_blacklist`
lists the NOKPROBE_SYMBOL functions.  The table is read once per vmlinux
build-id and cached; DWARF is read lazily, one compilation unit at a time,
found through .debug_aranges.
"""

from __future__ import annotations

import bisect
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

from . import paths

CACHE_FORMAT = 1

# Text regions kprobes refuse, as (start marker, end marker, why).
REFUSED_REGIONS = (
    ('_sinittext', '_einittext', '.init.text (freed after boot)'),
    ('__noinstr_text_start', '__noinstr_text_end', '.noinstr.text (noinstr code)'),
    ('__entry_text_start', '__entry_text_end', '.entry.text (kernel entry code)'),
    ('__kprobes_text_start', '__kprobes_text_end', '.kprobes.text (kprobes itself)'),
    ('__irqentry_text_start', '__irqentry_text_end', '.irqentry.text'),
    ('__softirqentry_text_start', '__softirqentry_text_end', '.softirqentry.text'),
)


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int
    is_func: bool


@dataclass(frozen=True)
class SourceLoc:
    file: str
    line: int


class SymbolTable:
    def __init__(self, path: Path, build_id: str, symbols: List[Symbol],
                 blacklist: List[int]) -> None:
        self.path = path
        self.build_id = build_id
        self.by_name: Dict[str, List[Symbol]] = {}
        for s in symbols:
            self.by_name.setdefault(s.name, []).append(s)
        self.funcs = sorted((s for s in symbols if s.is_func), key=lambda s: s.addr)
        self._func_addrs = [s.addr for s in self.funcs]
        self.blacklist = set(blacklist)
        self.regions: List[Tuple[int, int, str]] = []
        for start, end, why in REFUSED_REGIONS:
            a, b = self.by_name.get(start), self.by_name.get(end)
            if a and b:
                self.regions.append((a[0].addr, b[0].addr, why))

    def functions(self, name: str) -> List[Symbol]:
        return [s for s in self.by_name.get(name, []) if s.is_func]

    def count(self, name: str) -> int:
        """How many symbols kallsyms will hold under this name."""
        return len(self.by_name.get(name, []))

    def refused_region(self, addr: int) -> Optional[str]:
        for start, end, why in self.regions:
            if start <= addr < end:
                return why
        return None

    def function_at(self, addr: int) -> Optional[Symbol]:
        i = bisect.bisect_right(self._func_addrs, addr) - 1
        if i >= 0 and self.funcs[i].addr <= addr < self.funcs[i].addr + max(1, self.funcs[i].size):
            return self.funcs[i]
        return None

    def names(self) -> List[str]:
        return [s.name for s in self.funcs]

    def is_exported(self, name: str) -> bool:
        """EXPORT_SYMBOL*() leaves a __ksymtab_NAME entry in vmlinux."""
        return f'__ksymtab_{name}' in self.by_name

    def aliases(self, sym: Symbol) -> List[str]:
        """sym's name first, then other function names at its address."""
        i = bisect.bisect_left(self._func_addrs, sym.addr)
        names = [sym.name]
        while i < len(self.funcs) and self.funcs[i].addr == sym.addr:
            if self.funcs[i].name not in names:
                names.append(self.funcs[i].name)
            i += 1
        return names

    def anchor(self, addr: int) -> Tuple[str, int]:
        """A symbol unique in kallsyms at or before addr, and addr's offset from it.

        register_kprobe() resolves a name to its first kallsyms match, so a
        duplicated name must never be an anchor; neither may __pfx_/__cfi_
        padding symbols, which kprobes refuse.
        """
        i = bisect.bisect_right(self._func_addrs, addr) - 1
        while i >= 0:
            s = self.funcs[i]
            if self.count(s.name) == 1 and not s.name.startswith(('__pfx_', '__cfi_')):
                return s.name, addr - s.addr
            i -= 1
        raise LookupError(f'no unique symbol at or before {addr:#x}')


def _build_id(elf: ELFFile) -> str:
    for sec in elf.iter_sections():
        if sec['sh_type'] == 'SHT_NOTE':
            for note in sec.iter_notes():
                if note['n_type'] == 'NT_GNU_BUILD_ID':
                    return str(note['n_desc'])
    return ''


def _read(path: Path) -> SymbolTable:
    with path.open('rb') as f:
        elf = ELFFile(f)
        build_id = _build_id(elf)
        cache = paths.cache_dir() / 'symbols' / f'{build_id or "none"}-{CACHE_FORMAT}.json'
        if build_id:
            try:
                data = json.loads(cache.read_text())
                return SymbolTable(path, build_id,
                                   [Symbol(*s) for s in data['symbols']],
                                   data['blacklist'])
            except (OSError, ValueError, KeyError, TypeError):
                pass
        symtab = elf.get_section_by_name('.symtab')
        if symtab is None:
            raise OSError(f'{path} has no symbol table')
        symbols = []
        for sym in symtab.iter_symbols():
            typ = sym['st_info']['type']
            if not sym.name or typ in ('STT_SECTION', 'STT_FILE'):
                continue
            symbols.append(Symbol(sym.name, sym['st_value'], sym['st_size'],
                                  typ == 'STT_FUNC'))
        blacklist = _kprobe_blacklist(elf, symbols)
    if build_id:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f'.tmp{os.getpid()}')
        tmp.write_text(json.dumps({'symbols': [[s.name, s.addr, s.size, s.is_func]
                                               for s in symbols],
                                   'blacklist': blacklist}))
        os.replace(tmp, cache)
    return SymbolTable(path, build_id, symbols, blacklist)


def _kprobe_blacklist(elf: ELFFile, symbols: List[Symbol]) -> List[int]:
    """Addresses NOKPROBE_SYMBOL() put between the blacklist markers."""
    marks = {s.name: s.addr for s in symbols
             if s.name in ('__start_kprobe_blacklist', '__stop_kprobe_blacklist')}
    if len(marks) != 2:
        return []
    start, stop = marks['__start_kprobe_blacklist'], marks['__stop_kprobe_blacklist']
    for sec in elf.iter_sections():
        base = sec['sh_addr']
        if sec['sh_type'] == 'SHT_PROGBITS' and base <= start and stop <= base + sec['sh_size']:
            data = sec.data()[start - base:stop - base]
            return [v for (v,) in struct.iter_unpack('<Q', data[:len(data) // 8 * 8])]
    return []


def load(vmlinux: Path) -> SymbolTable:
    return _read(vmlinux)


class Dwarf:
    """Lazy DWARF lookups in one ELF file."""

    def __init__(self, path: Path) -> None:
        self._file = path.open('rb')
        self._elf = ELFFile(self._file)
        self._info = None
        self._aranges = None
        self._cu_cache: Dict[int, Dict[int, DwarfFunction]] = {}

    def close(self) -> None:
        self._file.close()

    def _dwarf(self):  # type: ignore[no-untyped-def]
        if self._info is None:
            if not self._elf.has_dwarf_info():
                return None
            self._info = self._elf.get_dwarf_info()
            self._aranges = self._info.get_aranges()
        return self._info

    def function_decl(self, addr: int) -> Optional[SourceLoc]:
        """decl_file:decl_line of the subprogram whose code starts at addr."""
        f = self.function_at(addr)
        return f.loc if f else None

    def function_at(self, addr: int) -> Optional['DwarfFunction']:
        """The out-of-line subprogram whose code starts at addr, from DWARF."""
        info = self._dwarf()
        if info is None or self._aranges is None:
            return None
        off = self._aranges.cu_offset_at_addr(addr)
        if off is None:
            return None
        funcs = self._cu_cache.get(off)
        if funcs is None:
            funcs = self._cu_cache[off] = self._cu_functions(info, off)
        return funcs.get(addr)

    def _cu_functions(self, info, off: int) -> Dict[int, 'DwarfFunction']:  # type: ignore[no-untyped-def]
        cu = info.get_CU_at(off)
        top = cu.get_top_DIE()
        comp_dir = _attr_str(top, 'DW_AT_comp_dir') or ''
        out: Dict[int, DwarfFunction] = {}
        for die in top.iter_children():
            if die.tag != 'DW_TAG_subprogram':
                continue
            low = die.attributes.get('DW_AT_low_pc')
            if low is None:
                continue
            decl = die
            for _ in range(3):      # concrete -> abstract -> declaration
                origin = decl.attributes.get('DW_AT_abstract_origin') or \
                    decl.attributes.get('DW_AT_specification')
                if origin is None or ('DW_AT_decl_line' in decl.attributes and
                                      'DW_AT_name' in decl.attributes):
                    break
                decl = decl.get_DIE_from_attribute(origin.name)
            name = _attr_str(decl, 'DW_AT_name') or ''
            line = decl.attributes.get('DW_AT_decl_line')
            fidx = decl.attributes.get('DW_AT_decl_file')
            loc = None
            if line is not None and fidx is not None:
                loc = SourceLoc(_file_name(info, cu, fidx.value, comp_dir), line.value)
            out[low.value] = DwarfFunction(name, loc)
        return out


    def line_rows(self, lo: int, hi: int) -> List[Tuple[int, str, int]]:
        """(address, file, line) of the is_stmt rows in [lo, hi), by address."""
        info = self._dwarf()
        if info is None or self._aranges is None:
            return []
        off = self._aranges.cu_offset_at_addr(lo)
        if off is None:
            return []
        cu = info.get_CU_at(off)
        lp = info.line_program_for_CU(cu)
        if lp is None:
            return []
        comp_dir = _attr_str(cu.get_top_DIE(), 'DW_AT_comp_dir') or ''
        names: Dict[int, str] = {}
        rows = []
        for entry in lp.get_entries():
            st = entry.state
            if st is None or st.end_sequence or not st.is_stmt:
                continue
            if lo <= st.address < hi:
                if st.file not in names:
                    names[st.file] = _file_name(info, cu, st.file, comp_dir)
                rows.append((st.address, names[st.file], st.line))
        rows.sort()
        return rows


@dataclass(frozen=True)
class DwarfFunction:
    name: str
    loc: Optional[SourceLoc]


def _attr_str(die, name: str) -> Optional[str]:  # type: ignore[no-untyped-def]
    a = die.attributes.get(name)
    if a is None:
        return None
    v = a.value
    return v.decode(errors='replace') if isinstance(v, bytes) else str(v)


def _file_name(info, cu, index: int, comp_dir: str) -> str:  # type: ignore[no-untyped-def]
    lp = info.line_program_for_CU(cu)
    files = lp['file_entry']
    dirs = lp['include_directory']
    if lp.header['version'] < 5:
        index -= 1
    if not 0 <= index < len(files):
        return '?'
    fe = files[index]
    name = fe.name.decode(errors='replace') if isinstance(fe.name, bytes) else str(fe.name)
    d = dirs[fe.dir_index] if fe.dir_index < len(dirs) else b''
    d = d.decode(errors='replace') if isinstance(d, bytes) else str(d)
    full = os.path.normpath(os.path.join(comp_dir, d, name))
    if comp_dir and full.startswith(comp_dir.rstrip('/') + '/'):
        return full[len(comp_dir.rstrip('/')) + 1:]
    return full
