# SPDX-License-Identifier: GPL-2.0
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
import fnmatch
import mmap
import os
import re
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from elftools.elf.elffile import ELFFile

SHF_COMPRESSED = 0x800

from .. import paths
from ..diag import error

CACHE_FORMAT = 4

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


_CLONE = re.compile(r'^(?P<base>.+?)\.(?:isra|constprop|llvm)\.\d+(?:\.\d+)*$')
_NOT_ENTRY = re.compile(r'\.(?:cold|part)(?:\.\d+)*(?:$|\.)')
_U64 = 1 << 64


def entry_name(symbol: str) -> Optional[str]:
    """The function a symbol is the entry of; None for padding and fragments.

    foo.isra.0 and foo.constprop.1 are out-of-line copies of foo whose entry
    is foo's entry; foo.part.0 and foo.cold are pieces of foo's body that
    are jumped to, never entered as foo.
    """
    if symbol.startswith(('__pfx_', '__cfi_')) or _NOT_ENTRY.search(symbol):
        return None
    m = _CLONE.match(symbol)
    return m.group('base') if m else symbol


def _s64(v: int) -> int:
    return v - _U64 if v >= 1 << 63 else v


def _u64(v: int) -> int:
    return v + _U64 if v < 0 else v


class SymbolTable:
    """A vmlinux symbol table, queried from its SQLite cache.

    Each question (how many symbols have this name, which function holds
    this address, which unique symbol precedes it) is one indexed query,
    so a probe on one function costs milliseconds even on a distro kernel.
    """

    def __init__(self, path: Path, build_id: str, db: Path) -> None:
        self.path = path
        self.build_id = build_id
        self.con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)
        self.blacklist = {_u64(a) for (a,) in self.con.execute('SELECT addr FROM blacklist')}
        self.regions: List[Tuple[int, int, str]] = []
        for start, end, why in REFUSED_REGIONS:
            a, b = self._first(start), self._first(end)
            if a is not None and b is not None:
                self.regions.append((a, b, why))
        self._funcs: Optional[List[Symbol]] = None

    def _first(self, name: str) -> Optional[int]:
        row = self.con.execute('SELECT addr FROM syms WHERE name = ? LIMIT 1',
                               (name,)).fetchone()
        return _u64(row[0]) if row else None

    def _symbols(self, sql: str, args: tuple = ()) -> List[Symbol]:
        return [Symbol(n, _u64(a), sz, bool(f)) for n, a, sz, f in
                self.con.execute(f'SELECT name, addr, size, func FROM syms {sql}', args)]

    # -- the whole table, for listings and tests (slow on big kernels) --------
    @property
    def funcs(self) -> List[Symbol]:
        if self._funcs is None:
            self._funcs = self._symbols('WHERE func = 1 ORDER BY addr')
            self._func_addrs = [f.addr for f in self._funcs]
        return self._funcs

    @property
    def by_name(self) -> Dict[str, List[Symbol]]:
        out: Dict[str, List[Symbol]] = {}
        for sym in self._symbols(''):
            out.setdefault(sym.name, []).append(sym)
        return out

    def names(self) -> List[str]:
        return [n for (n,) in self.con.execute('SELECT DISTINCT name FROM syms WHERE func = 1')]

    # -- queries ----------------------------------------------------------------
    def functions(self, name: str) -> List[Symbol]:
        return self._symbols('WHERE name = ? AND func = 1', (name,))

    def entries(self, name: str) -> List[Symbol]:
        """The function symbols whose code is an entry of function `name`:
        name itself and its clones (name.isra.0, name.constprop.1)."""
        return [s for s in self._symbols("WHERE func = 1 AND (name = ?1 OR name >= ?1 || '.' "
                                         "AND name < ?1 || '/') ORDER BY addr", (name,))
                if entry_name(s.name) == name]

    def entry_names(self, pattern: str) -> List[str]:
        """The functions matching a glob that have an entry symbol."""
        out = set()
        for (sym,) in self.con.execute("SELECT DISTINCT name FROM syms WHERE func = 1 AND "
                                       "(name GLOB ?1 OR name GLOB ?1 || '.*')", (pattern,)):
            entry = entry_name(sym)
            if entry is not None and fnmatch.fnmatchcase(entry, pattern):
                out.add(entry)
        return sorted(out)

    def names_with_prefix(self, prefix: str) -> List[str]:
        glob = ''.join(f'[{c}]' if c in '*?[' else c for c in prefix) + '*'
        return [n for (n,) in self.con.execute(
            'SELECT DISTINCT name FROM syms WHERE name GLOB ?', (glob,))]

    def count(self, name: str) -> int:
        """How many symbols kallsyms will hold under this name."""
        return int(self.con.execute('SELECT COUNT(*) FROM syms WHERE name = ?',
                                    (name,)).fetchone()[0])

    def refused_region(self, addr: int) -> Optional[str]:
        for start, end, why in self.regions:
            if start <= addr < end:
                return why
        return None

    def symbol_before(self, addr: int) -> Optional[Symbol]:
        """The nearest symbol at or before addr, of any type (entry code
        such as entry_SYSCALL_64 has no function symbol)."""
        got = self._symbols('WHERE addr <= ? ORDER BY addr DESC LIMIT 1', (_s64(addr),))
        return got[0] if got else None

    def function_at(self, addr: int) -> Optional[Symbol]:
        if self._funcs is not None:         # bulk work loaded the table: bisect
            i = bisect.bisect_right(self._func_addrs, addr) - 1
            got = self._funcs[i:i + 1] if i >= 0 else []
        else:
            got = self._symbols('WHERE func = 1 AND addr <= ? ORDER BY addr DESC LIMIT 1',
                                (_s64(addr),))
        if got and got[0].addr <= addr < got[0].addr + max(1, got[0].size):
            return got[0]
        return None

    def named(self, name: str) -> List[Symbol]:
        """Every symbol (function or object) called name."""
        return self._symbols('WHERE name = ?', (name,))

    def is_exported(self, name: str) -> bool:
        """EXPORT_SYMBOL*() leaves a __ksymtab_NAME entry in vmlinux."""
        return self.count(f'__ksymtab_{name}') > 0

    def aliases(self, sym: Symbol) -> List[str]:
        """sym's name first, then other function names at its address."""
        names = [sym.name]
        for (n,) in self.con.execute('SELECT name FROM syms WHERE func = 1 AND addr = ?',
                                     (_s64(sym.addr),)):
            if n not in names:
                names.append(n)
        return names

    def anchor(self, addr: int) -> Tuple[str, int]:
        """A symbol unique in kallsyms at or before addr, and addr's offset from it.

        register_kprobe() resolves a name to its first kallsyms match, so a
        duplicated name must never be an anchor; neither may __pfx_/__cfi_
        padding symbols, which kprobes refuse.
        """
        at = _s64(addr)
        while True:
            rows = self.con.execute('SELECT name, addr FROM syms WHERE func = 1 AND addr <= ? '
                                    'ORDER BY addr DESC LIMIT 32', (at,)).fetchall()
            if not rows:
                raise error(f'no symbol unique in the kernel\'s namespace precedes {addr:#x}: '
                            'a probe there cannot be placed by symbol+offset')
            for name, a in rows:
                if not name.startswith(('__pfx_', '__cfi_')) and self.count(name) == 1:
                    return str(name), addr - _u64(a)
            at = rows[-1][1] - 1


def _build_id(elf: ELFFile) -> str:
    for sec in elf.iter_sections():
        if sec['sh_type'] == 'SHT_NOTE':
            for note in sec.iter_notes():  # type: ignore[attr-defined]
                # other owners (Xen, Linux) reuse the number of NT_GNU_BUILD_ID
                if note['n_name'] == 'GNU' and note['n_type'] == 'NT_GNU_BUILD_ID' \
                        and isinstance(note['n_desc'], str):
                    return note['n_desc']
    return ''


def build_id(path: Path) -> str:
    """The GNU build-id of an ELF file, '' if it has none."""
    with path.open('rb') as f:
        return _build_id(ELFFile(f))


def _read(path: Path) -> SymbolTable:
    with path.open('rb') as f:
        elf = ELFFile(f)
        build_id = _build_id(elf)
        key = build_id or f'nobuildid-{path.stat().st_size}-{int(path.stat().st_mtime)}'
        db = paths.cache_dir() / 'symbols' / f'{key}-{CACHE_FORMAT}.sqlite'
        if db.exists():
            return SymbolTable(path, build_id, db)
        symtab = elf.get_section_by_name('.symtab')
        if symtab is None:
            raise OSError(f'{path} has no symbol table')
        symbols = list(_symbols_of(elf, symtab))
        blacklist = _kprobe_blacklist(elf, symbols)
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_suffix(f'.tmp{os.getpid()}')
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.executescript('PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; '
                      'CREATE TABLE syms (name TEXT, addr INTEGER, size INTEGER, func INTEGER);'
                      'CREATE TABLE blacklist (addr INTEGER);')
    con.executemany('INSERT INTO syms VALUES (?,?,?,?)',
                    ((name, _s64(addr), size, func) for name, addr, size, func in symbols))
    con.executemany('INSERT INTO blacklist VALUES (?)', ((_s64(a),) for a in blacklist))
    con.executescript('CREATE INDEX syms_name ON syms(name); '
                      'CREATE INDEX syms_addr ON syms(func, addr); '
                      'CREATE INDEX syms_any_addr ON syms(addr); '
                      'ANALYZE;')     # the planner then prefers the name index
    con.commit()
    con.close()
    os.replace(tmp, db)
    return SymbolTable(path, build_id, db)


STT_FUNC, STT_SECTION, STT_FILE = 2, 3, 4


def _symbols_of(elf: ELFFile,
                symtab: Any) -> Iterator[Tuple[str, int, int, bool]]:
    """(name, address, size, is a function) of the named symbols of a
    symbol table, minus sections and files.

    A distro vmlinux has 190k symbols: 64-bit little-endian tables are
    unpacked directly (Elf64_Sym), others through pyelftools.
    """
    if elf.elfclass != 64 or not elf.little_endian:
        for sym in symtab.iter_symbols():
            typ = sym['st_info']['type']
            if sym.name and typ not in ('STT_SECTION', 'STT_FILE'):
                yield sym.name, sym['st_value'], sym['st_size'], typ == 'STT_FUNC'
        return
    strtab = elf.get_section(symtab['sh_link']).data()
    for name, info, _, _, value, size in struct.iter_unpack('<IBBHQQ', symtab.data()):
        typ = info & 0xf
        if name == 0 or typ in (STT_SECTION, STT_FILE):
            continue
        text = strtab[name:strtab.index(b'\0', name)].decode(errors='replace')
        if text:
            yield text, value, size, typ == STT_FUNC


def _kprobe_blacklist(elf: ELFFile, symbols: List[Tuple[str, int, int, bool]]) -> List[int]:
    """Addresses NOKPROBE_SYMBOL() put between the blacklist markers."""
    marks = {s[0]: s[1] for s in symbols
             if s[0] in ('__start_kprobe_blacklist', '__stop_kprobe_blacklist')}
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


class _Window:
    """A read-only stream over one section of a mapped file."""

    def __init__(self, data: mmap.mmap, base: int, size: int) -> None:
        self._data = data
        self._base = base
        self._size = size
        self._pos = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = pos if whence == 0 else self._pos + pos if whence == 1 \
            else self._size + pos
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        start = self._pos
        end = start + n
        if n < 0 or end > self._size:
            end = self._size if start < self._size else start
        self._pos = end
        return self._data[self._base + start:self._base + end]


class MappedELF(ELFFile):
    """An ELFFile whose DWARF is read in place through mmap.

    pyelftools copies every DWARF section into memory, 300 MB for a distro
    vmlinux, to look at a few compilation units.  A linked vmlinux's
    sections need no rewriting (no relocations, not compressed), so they
    are read where they lie; relocatable objects go the usual way.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.map = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)

    def _read_dwarf_section(self, section: Any, relocate_dwarf_sections: bool) -> Any:
        if self['e_type'] == 'ET_REL' or section['sh_flags'] & SHF_COMPRESSED or \
                section['sh_type'] == 'SHT_NOBITS':
            return super()._read_dwarf_section(section, relocate_dwarf_sections)
        from elftools.dwarf.dwarfinfo import DebugSectionDescriptor
        return DebugSectionDescriptor(
            stream=_Window(self.map, section['sh_offset'],  # type: ignore[arg-type]
                           section['sh_size']),
            name=section.name, global_offset=section['sh_offset'],
            size=section['sh_size'], address=section['sh_addr'])


def follow_origin(die: Any, need: Tuple[str, ...] = ('DW_AT_name',)) -> Any:
    """The DIE that describes a concrete one: through DW_AT_abstract_origin
    (an inlined or out-of-line instance) and DW_AT_specification (a
    definition of a declaration), until one carries every attribute of need."""
    for _ in range(4):
        a = die.attributes
        if all(k in a for k in need):
            return die
        key = 'DW_AT_abstract_origin' if 'DW_AT_abstract_origin' in a else \
            'DW_AT_specification' if 'DW_AT_specification' in a else None
        if key is None:
            return die
        die = die.get_DIE_from_attribute(key)
    return die


def address_entries(cu: Any, entries: Any) -> Iterator[Tuple[int, int, Any]]:
    """(lo, hi, entry) of each entry of a range or location list, its base
    address the unit's low_pc until a base-address entry changes it."""
    low = cu.get_top_DIE().attributes.get('DW_AT_low_pc')
    base = low.value if low is not None else 0
    for e in entries:
        if hasattr(e, 'base_address'):
            base = e.base_address
        elif hasattr(e, 'begin_offset'):
            absolute = getattr(e, 'is_absolute', False)
            lo = e.begin_offset if absolute else base + e.begin_offset
            hi = e.end_offset if absolute else base + e.end_offset
            yield lo, hi, e


class Dwarf:
    """The DWARF of one ELF file through pyelftools, read lazily: the units
    by address (.debug_aranges), their functions, line rows and the address
    ranges of a DIE.  The whole-file index (dwarfindex) and the one-name
    scan (dwarfscan) answer name queries; this answers address queries."""

    def __init__(self, path: Path) -> None:
        self._file = path.open('rb')
        self._elf = MappedELF(self._file)
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

    def info(self) -> Any:
        """pyelftools' DWARFInfo, or None for a file without DWARF."""
        return self._dwarf()

    def unit_at(self, addr: int) -> Any:
        """The compilation unit whose code holds addr, or None."""
        info = self._dwarf()
        if info is None or self._aranges is None:
            return None
        off = self._aranges.cu_offset_at_addr(addr)
        return info.get_CU_at(off) if off is not None else None

    def die_ranges(self, cu: Any, die: Any) -> List[Tuple[int, int]]:
        """The [lo, hi) address ranges of a DIE (low/high pc or DW_AT_ranges)."""
        a = die.attributes
        if 'DW_AT_low_pc' in a and 'DW_AT_high_pc' in a:
            lo = a['DW_AT_low_pc'].value
            hi = a['DW_AT_high_pc']
            return [(lo, hi.value if hi.form == 'DW_FORM_addr' else lo + hi.value)]
        if 'DW_AT_ranges' not in a:
            return []
        entries = self._dwarf().range_lists().get_range_list_at_offset(
            a['DW_AT_ranges'].value, cu=cu)
        return [(lo, hi) for lo, hi, _ in address_entries(cu, entries)]

    def function_decl(self, addr: int) -> Optional[SourceLoc]:
        """decl_file:decl_line of the subprogram whose code starts at addr."""
        f = self.function_at(addr)
        return f.loc if f else None

    def function_at(self, addr: int) -> Optional['DwarfFunction']:
        """The out-of-line subprogram whose code starts at addr, from DWARF."""
        cu = self.unit_at(addr)
        if cu is None:
            return None
        funcs = self._cu_cache.get(cu.cu_offset)
        if funcs is None:
            funcs = self._cu_cache[cu.cu_offset] = self._cu_functions(self._dwarf(), cu)
        return funcs.get(addr)

    def _cu_functions(self, info, cu) -> Dict[int, 'DwarfFunction']:  # type: ignore[no-untyped-def]
        top = cu.get_top_DIE()
        comp_dir = _attr_str(top, 'DW_AT_comp_dir') or ''
        out: Dict[int, DwarfFunction] = {}
        for die in top.iter_children():
            if die.tag != 'DW_TAG_subprogram':
                continue
            low = die.attributes.get('DW_AT_low_pc')
            if low is None:
                continue
            decl = follow_origin(die, ('DW_AT_decl_line', 'DW_AT_name'))
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
        cu = self.unit_at(lo)
        if cu is None:
            return []
        info = self._dwarf()
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
