# SPDX-License-Identifier: GPL-2.0
"""A whole-vmlinux index of functions and their inlined instances.

Answering "where is every copy of foo's code" needs every compilation unit:
a static function may be inlined into callers in a hundred files.  Walking
all of a kernel's DWARF is done once per vmlinux build-id, in parallel (one
worker per CPU, each taking every Nth unit, DIEs read by rawdwarf), and
stored in an SQLite file in the kit's cache.  Queries by name or glob
pattern then cost milliseconds.  Until a question needs every name,
ScanIndex answers single names by walking only the units that can hold
them (dwarfscan).

Only what placement needs is indexed: for each out-of-line function its
name (through DW_AT_abstract_origin/specification), entry address and
declaration file:line; for each DW_TAG_inlined_subroutine the inlined
function's name, its entry pc (DW_AT_entry_pc, else the low end of
DW_AT_low_pc or DW_AT_ranges), its declaration, the call site, and the
out-of-line function it was inlined into.  For @cast, the first complete
definition of each named struct, union, enum and typedef, by DIE offset.
"""

from __future__ import annotations

import mmap
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Optional, Protocol, Tuple

from . import dwarfscan
from .. import paths
from . import rawdwarf
from ..diag import error
from .symbols import MappedELF

FORMAT = 4
_U64 = 1 << 64


def _s64(v: int) -> int:
    return v - _U64 if v >= 1 << 63 else v


def _u64(v: int) -> int:
    return v + _U64 if v < 0 else v


@dataclass(frozen=True)
class Func:
    name: str
    addr: int
    file: str
    line: int


@dataclass(frozen=True)
class Inline:
    name: str
    entry: int
    file: str
    line: int
    call_file: str
    call_line: int
    caller: int           # entry address of the out-of-line function containing it


# -- building --------------------------------------------------------------------

_TYPE_TAGS = {0x13: 'struct ', 0x17: 'union ', 0x04: 'enum ', 0x16: ''}
TAG_lexical_block, TAG_inlined_subroutine, TAG_call_site, TAG_GNU_call_site = \
    0x0b, 0x1d, 0x48, 0x4109


class _CUWalker:
    """What the index keeps from one compilation unit.

    DIEs come from the raw reader; the unit's line program (its file
    names) and range lists from pyelftools."""

    def __init__(self, raw: rawdwarf.RawDwarf, info: Any, offset: int) -> None:
        self.info = info
        self.unit = raw.unit(offset)
        self.top = self.unit.top
        self.comp_dir = str(self.top.attrs.get(rawdwarf.AT_comp_dir, '')).rstrip('/')
        self._cu: Any = None
        self._files: Optional[List[str]] = None
        self._decl_cache: dict = {}

    def cu(self) -> Any:
        if self._cu is None:
            self._cu = self.info.get_CU_at(self.unit.offset)
        return self._cu

    def files(self) -> List[str]:
        if self._files is None:
            lp = self.info.line_program_for_CU(self.cu())
            out: List[str] = []
            if lp is not None:
                dirs = [d.decode(errors='replace') if isinstance(d, bytes) else str(d)
                        for d in lp['include_directory']]
                v5 = lp.header['version'] >= 5
                for fe in lp['file_entry']:
                    name = fe.name.decode(errors='replace') if isinstance(fe.name, bytes) \
                        else str(fe.name)
                    di = fe.dir_index
                    d = dirs[di] if v5 and di < len(dirs) else (
                        dirs[di - 1] if 0 < di <= len(dirs) else '')
                    full = os.path.normpath(os.path.join(self.comp_dir, d, name))
                    if self.comp_dir and full.startswith(self.comp_dir + '/'):
                        full = full[len(self.comp_dir) + 1:]
                    out.append(full)
                if not v5:
                    out.insert(0, '?')
            self._files = out
        return self._files

    def file(self, index: int) -> str:
        files = self.files()
        return files[index] if 0 <= index < len(files) else '?'

    def decl(self, die: rawdwarf.Die) -> Tuple[str, str, int]:
        """(name, decl file, decl line), following origins to the declaration."""
        key = die.offset
        if key in self._decl_cache:
            return self._decl_cache[key]
        name, file, line = '', '?', 0
        d: Optional[rawdwarf.Die] = die
        unit = self.unit
        for _ in range(4):
            assert d is not None
            a = d.attrs
            if not name:
                name = a.get(rawdwarf.AT_name) or ''
            if line == 0 and rawdwarf.AT_decl_line in a:
                line = a[rawdwarf.AT_decl_line]
                fa = a.get(rawdwarf.AT_decl_file)
                file = self.file(fa) if fa is not None else '?'
            origin = a.get(rawdwarf.AT_abstract_origin, a.get(rawdwarf.AT_specification))
            if origin is None or (name and line) or \
                    not unit.offset <= origin < unit.end:
                break
            d = unit.die_at(origin)
            if d is None:
                break
        self._decl_cache[key] = (name, file, line)
        return name, file, line

    def entry_pc(self, die: rawdwarf.Die) -> Optional[int]:
        a, forms = die.attrs, die.forms
        if forms.get(rawdwarf.AT_entry_pc) == rawdwarf.FORM_addr:
            return int(a[rawdwarf.AT_entry_pc])
        if forms.get(rawdwarf.AT_low_pc) == rawdwarf.FORM_addr:
            return int(a[rawdwarf.AT_low_pc])
        if forms.get(rawdwarf.AT_ranges) == rawdwarf.FORM_sec_offset:
            try:
                rl = self.info.range_lists()
                entries = rl.get_range_list_at_offset(a[rawdwarf.AT_ranges], cu=self.cu())
            except Exception:       # a form pyelftools cannot follow
                return None
            base_addr = self.top.attrs.get(rawdwarf.AT_low_pc, 0)
            starts = []
            for e in entries:
                if hasattr(e, 'base_address'):
                    base_addr = e.base_address
                elif hasattr(e, 'begin_offset') and e.begin_offset != e.end_offset:
                    absolute = getattr(e, 'is_absolute', False)
                    starts.append(e.begin_offset if absolute else base_addr + e.begin_offset)
            return min(starts) if starts else None
        return None

    def walk(self) -> Tuple[List[tuple], List[tuple], List[tuple]]:
        funcs: List[tuple] = []
        inlines: List[tuple] = []
        types: List[tuple] = []
        unit = self.unit
        for die in unit.children(self.top):
            tag = die.tag
            a = die.attrs
            if tag in _TYPE_TAGS:
                name = a.get(rawdwarf.AT_name)
                if name and rawdwarf.AT_declaration not in a and \
                        (rawdwarf.AT_byte_size in a or tag == 0x16):
                    types.append((_TYPE_TAGS[tag] + name, die.offset))
                continue
            if tag != rawdwarf.DW_TAG_subprogram or \
                    die.forms.get(rawdwarf.AT_low_pc) != rawdwarf.FORM_addr:
                continue
            name, file, line = self.decl(die)
            if not name:
                continue
            low = a[rawdwarf.AT_low_pc]
            funcs.append((name, _s64(low), file, line))
            self._inlines(die, low, inlines)
        return funcs, inlines, types

    def _inlines(self, parent: rawdwarf.Die, caller: int, out: List[tuple]) -> None:
        for die in self.unit.children(parent):
            tag = die.tag
            if tag == TAG_inlined_subroutine:
                entry = self.entry_pc(die)
                name, file, line = self.decl(die)
                if entry is not None and name:
                    cf = die.attrs.get(rawdwarf.AT_call_file)
                    out.append((name, _s64(entry), file, line,
                                self.file(cf) if cf is not None else '?',
                                die.attrs.get(rawdwarf.AT_call_line, 0), _s64(caller)))
                self._inlines(die, caller, out)
            elif tag == TAG_lexical_block or die.children and \
                    tag in (TAG_GNU_call_site, TAG_call_site):
                self._inlines(die, caller, out)


def _forget(raw: rawdwarf.RawDwarf, elf: MappedELF) -> None:
    """Drop the mapped pages walked so far from this process's memory."""
    for m in (raw.map, elf.map):
        m.madvise(mmap.MADV_DONTNEED)


def _worker(args: Tuple[str, List[int]]) -> Tuple[List[tuple], List[tuple], List[tuple]]:
    path, offsets = args
    raw = rawdwarf.RawDwarf(Path(path))
    with open(path, 'rb') as f:
        elf = MappedELF(f)
        info = elf.get_dwarf_info()
        funcs: List[tuple] = []
        inlines: List[tuple] = []
        types: dict = {}
        for off in offsets:
            a, b, t = _CUWalker(raw, info, off).walk()
            _forget(raw, elf)
            funcs += a
            inlines += b
            for name, die in t:
                types.setdefault(name, die)
    raw.close()
    return funcs, inlines, list(types.items())


def _cu_offsets(path: Path) -> List[int]:
    raw = rawdwarf.RawDwarf(path)
    raw.close()
    return raw.units


def build(vmlinux: Path, db: Path, jobs: int) -> None:
    start = time.monotonic()
    offsets = _cu_offsets(vmlinux)
    chunks = [offsets[i::jobs * 8] for i in range(jobs * 8)]
    tty = sys.stderr.isatty()
    print(f'  INDEX   {vmlinux} ({len(offsets)} compilation units, {jobs} jobs)',
          file=sys.stderr, flush=True)
    tmp = db.with_suffix(f'.tmp{os.getpid()}')
    tmp.unlink(missing_ok=True)
    con = sqlite3.connect(tmp)
    con.executescript('''
        CREATE TABLE funcs (name TEXT, addr INTEGER, file TEXT, line INTEGER);
        CREATE TABLE inlines (name TEXT, entry INTEGER, file TEXT, line INTEGER,
                              call_file TEXT, call_line INTEGER, caller INTEGER);
        CREATE TABLE types (name TEXT PRIMARY KEY, die INTEGER);
    ''')
    import multiprocessing
    ctx = multiprocessing.get_context('fork')
    with ctx.Pool(jobs) as pool:
        for done, (funcs, inlines, types) in enumerate(
                pool.imap_unordered(_worker, [(str(vmlinux), c) for c in chunks]), 1):
            con.executemany('INSERT INTO funcs VALUES (?,?,?,?)', funcs)
            con.executemany('INSERT INTO inlines VALUES (?,?,?,?,?,?,?)', inlines)
            con.executemany('INSERT OR IGNORE INTO types VALUES (?,?)', types)
            if tty:
                print(f'\r  INDEX   {done}/{len(chunks)}', end='', file=sys.stderr,
                      flush=True)
    if tty:
        print(file=sys.stderr)
    con.executescript('''
        CREATE INDEX funcs_name ON funcs(name);
        CREATE INDEX funcs_addr ON funcs(addr);
        CREATE INDEX inlines_name ON inlines(name);
        CREATE TABLE sites AS SELECT name, file, line, MIN(entry) AS low, COUNT(*) AS count
            FROM inlines GROUP BY name, file, line;
    ''')
    con.commit()
    con.close()
    os.replace(tmp, db)
    print(f'  INDEX   done in {time.monotonic() - start:.0f} s: {db}', file=sys.stderr)


# -- querying --------------------------------------------------------------------

class DwarfIndex:
    def __init__(self, db: Path) -> None:
        self.db = db
        self.con = sqlite3.connect(f'file:{db}?mode=ro', uri=True)

    def functions(self, name: str) -> List[Func]:
        rows = self.con.execute('SELECT name, addr, file, line FROM funcs WHERE name = ?',
                                (name,))
        return [Func(n, _u64(a), f, ln) for n, a, f, ln in rows]

    def function_at(self, addr: int) -> Optional[Func]:
        row = self.con.execute('SELECT name, addr, file, line FROM funcs WHERE addr = ?',
                               (_s64(addr),)).fetchone()
        return Func(row[0], _u64(row[1]), row[2], row[3]) if row else None

    def function_in_file(self, file: str) -> Optional[int]:
        """The address of some function defined in a file ending in file."""
        row = self.con.execute("SELECT addr FROM funcs WHERE file = ?1 OR file LIKE '%/' || ?1 "
                               'LIMIT 1', (file,)).fetchone()
        return _u64(row[0]) if row else None

    def inlines(self, name: str) -> List[Inline]:
        rows = self.con.execute('SELECT name, entry, file, line, call_file, call_line, '
                                'caller FROM inlines WHERE name = ? ORDER BY entry', (name,))
        return [Inline(r[0], _u64(r[1]), r[2], r[3], r[4], r[5], _u64(r[6])) for r in rows]

    def names(self, pattern: str) -> List[str]:
        """Function names (out-of-line or inlined) matching a glob."""
        rows = self.con.execute(
            'SELECT name FROM funcs WHERE name GLOB ?1 UNION '
            'SELECT name FROM inlines WHERE name GLOB ?1', (pattern,))
        return sorted(r[0] for r in rows)

    def type_die(self, name: str) -> Optional[int]:
        """The DIE offset of a complete definition of 'struct x', 'union x',
        'enum x' or a typedef name."""
        row = self.con.execute('SELECT die FROM types WHERE name = ?', (name,)).fetchone()
        return row[0] if row else None

    def iter_all_names(self) -> Iterator[str]:
        for (name,) in self.con.execute('SELECT DISTINCT name FROM funcs'):
            yield name

    # -- in bulk, for listings of many functions ---------------------------------
    def all_functions(self) -> dict:
        """Every out-of-line function, by entry address."""
        return {_u64(a): Func(n, _u64(a), f, ln) for n, a, f, ln in
                self.con.execute('SELECT name, addr, file, line FROM funcs')}

    def inline_sites(self) -> dict:
        """name -> [(decl file, decl line, lowest entry, instances)]: each
        inlined function's instances grouped by the declaration they show."""
        out: dict = {}
        for n, f, ln, low, count in self.con.execute('SELECT * FROM sites'):
            out.setdefault(n, []).append((f, ln, _u64(low), count))
        return out


class ScanIndex:
    """The index's answers for a few names, without building the index.

    functions() and inlines() of a name walk only the units that can hold
    it (dwarfscan), and remember the answer on disk; anything that needs
    every name (a glob, a type by name) builds the whole index once and
    asks it.  So does a name found in too many units to be worth walking
    one by one (a header inline used everywhere), and a run that asks for
    many names.
    """

    MAX_UNITS = 48
    MAX_NAMES = 16

    def __init__(self, vmlinux: Path, db: Path, jobs: int) -> None:
        self.vmlinux = vmlinux
        self.db = db
        self.jobs = jobs
        self._whole: Optional[DwarfIndex] = None
        self._raw: Any = None
        self._info: Any = None
        self._aranges: Any = None
        self._units: dict = {}                  # unit offset -> (funcs, inlines)
        self._names: dict = {}                  # name -> (funcs, inlines)
        self._by_addr: dict = {}
        self._memo = sqlite3.connect(db.with_name(db.stem + '-names.sqlite'), timeout=60,
                                     isolation_level=None)
        self._memo.executescript('''
            CREATE TABLE IF NOT EXISTS scanned (name TEXT PRIMARY KEY);
            CREATE TABLE IF NOT EXISTS funcs (name TEXT, addr INTEGER, file TEXT,
                                              line INTEGER);
            CREATE TABLE IF NOT EXISTS inlines (name TEXT, entry INTEGER, file TEXT,
                line INTEGER, call_file TEXT, call_line INTEGER, caller INTEGER);
            CREATE INDEX IF NOT EXISTS funcs_name ON funcs(name);
            CREATE INDEX IF NOT EXISTS inlines_name ON inlines(name);
        ''')

    def whole(self) -> DwarfIndex:
        if self._whole is None:
            if not self.db.exists():
                try:
                    build(self.vmlinux, self.db, self.jobs)
                except (OSError, ValueError) as e:
                    raise error(f'cannot index the DWARF of {self.vmlinux}: {e}',
                                hint='kernel.function and kernel.statement need the '
                                     "tree's DWARF (CONFIG_DEBUG_INFO); kprobe.function "
                                     'probes by the symbol table alone') from None
            self._whole = DwarfIndex(self.db)
        return self._whole

    def _dwarf(self) -> Any:
        if self._info is None:
            self._file = self.vmlinux.open('rb')
            self._info = MappedELF(self._file).get_dwarf_info()
        return self._info

    def _scanner(self) -> dwarfscan.NameScan:
        if self._raw is None:
            self._raw = dwarfscan.NameScan(rawdwarf.RawDwarf(self.vmlinux))
        return self._raw

    def _walk(self, unit: int) -> Tuple[List[tuple], List[tuple]]:
        if unit not in self._units:
            funcs, inlines, _ = _CUWalker(self._scanner().raw, self._dwarf(), unit).walk()
            self._units[unit] = (funcs, inlines)
            for f in funcs:
                self._by_addr.setdefault(_u64(f[1]), f)
        return self._units[unit]

    def _scan(self, name: str) -> Optional[Tuple[List[tuple], List[tuple]]]:
        """(funcs, inlines) rows of name, or None when the whole index is the
        better way to answer."""
        if self._whole is not None:
            return None
        if name in self._names:
            return self._names[name]
        _join_prefetch(self.db)
        con = self._memo
        if con.execute('SELECT 1 FROM scanned WHERE name = ?', (name,)).fetchone():
            found = (con.execute('SELECT * FROM funcs WHERE name = ?', (name,)).fetchall(),
                     con.execute('SELECT * FROM inlines WHERE name = ?', (name,)).fetchall())
            self._names[name] = found
            return found
        if len(self._names) >= self.MAX_NAMES:
            return None
        try:
            units = self._scanner().units_naming(name)
        except dwarfscan.Unsupported:
            return None
        if len(units) > self.MAX_UNITS:
            print(f'  INDEX   {name} is in {len(units)} compilation units: indexing them all',
                  file=sys.stderr)
            return None
        funcs: List[tuple] = []
        inlines: List[tuple] = []
        for unit in units:
            f, i = self._walk(unit)
            funcs += [r for r in f if r[0] == name]
            inlines += [r for r in i if r[0] == name]
        con.execute('BEGIN IMMEDIATE')      # another run may be remembering it too
        try:
            if not con.execute('SELECT 1 FROM scanned WHERE name = ?', (name,)).fetchone():
                con.executemany('INSERT INTO funcs VALUES (?,?,?,?)', funcs)
                con.executemany('INSERT INTO inlines VALUES (?,?,?,?,?,?,?)', inlines)
                con.execute('INSERT INTO scanned VALUES (?)', (name,))
            con.execute('COMMIT')
        except BaseException:
            con.execute('ROLLBACK')
            raise
        self._names[name] = (funcs, inlines)
        return funcs, inlines

    def functions(self, name: str) -> List[Func]:
        found = self._scan(name)
        if found is None:
            return self.whole().functions(name)
        return [Func(n, _u64(a), f, ln) for n, a, f, ln in found[0]]

    def inlines(self, name: str) -> List[Inline]:
        found = self._scan(name)
        if found is None:
            return self.whole().inlines(name)
        return [Inline(r[0], _u64(r[1]), r[2], r[3], r[4], r[5], _u64(r[6]))
                for r in sorted(found[1], key=lambda r: _u64(r[1]))]

    def function_at(self, addr: int) -> Optional[Func]:
        """The out-of-line function starting at addr: among the names asked
        so far, else in the unit .debug_aranges places addr in."""
        if self._whole is not None:
            return self._whole.function_at(addr)
        for funcs, _ in self._names.values():
            for n, a, f, ln in funcs:
                if _u64(a) == addr:
                    return Func(n, addr, f, ln)
        if addr not in self._by_addr:
            info = self._dwarf()
            if self._aranges is None:
                self._aranges = info.get_aranges()
            unit = self._aranges.cu_offset_at_addr(addr) if self._aranges else None
            if unit is None:
                return self.whole().function_at(addr)
            self._walk(unit)
        row = self._by_addr.get(addr)
        return Func(row[0], addr, row[2], row[3]) if row else None

    def function_in_file(self, file: str) -> Optional[int]:
        return self.whole().function_in_file(file)

    def names(self, pattern: str) -> List[str]:
        return self.whole().names(pattern)

    def type_die(self, name: str) -> Optional[int]:
        return self.whole().type_die(name)

    def iter_all_names(self) -> Iterator[str]:
        return self.whole().iter_all_names()

    def all_functions(self) -> dict:
        return self.whole().all_functions()

    def inline_sites(self) -> dict:
        return self.whole().inline_sites()


class Index(Protocol):
    """The name side of the DWARF layer (symbols.Dwarf is the address side):
    what the whole index (DwarfIndex) and the one-name scan (ScanIndex)
    both answer, the scan building the whole index when a question needs it."""

    def functions(self, name: str) -> List[Func]:
        """The out-of-line definitions of name."""

    def function_at(self, addr: int) -> Optional[Func]:
        """The out-of-line function starting at addr."""

    def function_in_file(self, file: str) -> Optional[int]:
        """The address of some function of a source file (to find its unit)."""

    def inlines(self, name: str) -> List[Inline]:
        """Every inlined instance of name."""

    def names(self, pattern: str) -> List[str]:
        """The function names matching a glob."""

    def type_die(self, name: str) -> Optional[int]:
        """The DIE offset of a complete type ('struct x', a typedef)."""

    def iter_all_names(self) -> Iterator[str]:
        """Every function name."""

    def all_functions(self) -> dict:
        """Every out-of-line function, by address (listings)."""

    def inline_sites(self) -> dict:
        """Every inlined declaration site, by name (listings)."""

# scans started ahead of need, by index file: their answers land in its memo
_prefetching: dict = {}


def _db_path(vmlinux: Path, build_id: str) -> Path:
    key = build_id or f'nobuildid-{vmlinux.stat().st_size}-{int(vmlinux.stat().st_mtime)}'
    return paths.cache_dir() / 'dwarf' / f'{key}-{FORMAT}.sqlite'


def open_index(vmlinux: Path, build_id: str, jobs: Optional[int] = None) -> Index:
    """The index of vmlinux: the whole one when it is cached (by build-id),
    else one that answers single names by scanning and builds the whole
    index when a question needs it."""
    db = _db_path(vmlinux, build_id)
    if db.exists():
        return DwarfIndex(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    return ScanIndex(vmlinux, db, jobs or os.cpu_count() or 1)


def prefetch(vmlinux: Path, build_id: str, names: List[str]) -> None:
    """Scan for names in a child process, while the caller reads the symbol
    table: on a cold cache the two take about as long, and there are two
    CPUs.  The index opened later waits for the child and finds the answers
    in its memo."""
    db = _db_path(vmlinux, build_id)
    if not names or len(names) > ScanIndex.MAX_NAMES or db.exists() or db in _prefetching:
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            index = ScanIndex(vmlinux, db, 1)
            for name in names:
                if index._scan(name) is None:
                    break
        except BaseException:           # the parent scans again and reports
            code = 1
        finally:
            os._exit(code)
    _prefetching[db] = pid


def _join_prefetch(db: Path) -> None:
    pid = _prefetching.pop(db, None)
    if pid is not None:
        os.waitpid(pid, 0)
