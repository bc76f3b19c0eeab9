# SPDX-License-Identifier: GPL-2.0
"""The scan that answers one name without the whole DWARF index must give
the index's answer: every out-of-line copy and every inlined instance, for
unique names, duplicated static names, clones and inline-only functions of
the real test trees."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List

from stapgen.elf import dwarfindex
from stapgen.elf import symbols


def _names(whole: dwarfindex.DwarfIndex, syms: symbols.SymbolTable) -> List[str]:
    q = whole.con.execute
    dups = [n for (n,) in q('SELECT name FROM funcs GROUP BY name HAVING COUNT(*) > 1 '
                            'ORDER BY name LIMIT 12')]
    inlined = [n for (n,) in q('SELECT name FROM inlines GROUP BY name '
                               'HAVING COUNT(*) BETWEEN 3 AND 40 ORDER BY name LIMIT 12')]
    only_inlined = [n for (n,) in q('SELECT DISTINCT name FROM inlines WHERE name NOT IN '
                                    '(SELECT name FROM funcs) ORDER BY name LIMIT 8')]
    every = [n for (n,) in q('SELECT DISTINCT name FROM funcs ORDER BY name')]
    clones = sorted({symbols.entry_name(s.name) or '' for s in syms.funcs
                     if '.isra.' in s.name or '.constprop.' in s.name} - {''})[:8]
    return sorted(set(dups + inlined + only_inlined + clones + every[::max(1, len(every) // 24)]))


def test_scan_agrees_with_the_whole_index(kdir: Path, tmp_path: Path) -> None:
    vmlinux = kdir / 'vmlinux'
    syms = symbols.load(vmlinux)
    whole = dwarfindex.open_index(vmlinux, syms.build_id)
    if not isinstance(whole, dwarfindex.DwarfIndex):
        whole = whole.whole()
    names = _names(whole, syms)
    scan = dwarfindex.ScanIndex(vmlinux, tmp_path / 'index.sqlite', 1)
    scan.MAX_NAMES = len(names)
    compared = 0
    for name in names:
        if scan._scan(name) is None:        # in too many units: the index answers
            continue
        compared += 1
        assert Counter(scan.functions(name)) == Counter(whole.functions(name)), name
        assert Counter(scan.inlines(name)) == Counter(whole.inlines(name)), name
    assert compared >= len(names) * 3 // 4, (compared, len(names))
    assert not (tmp_path / 'index.sqlite').exists(), 'a single name built the whole index'

    # answers are remembered: a new run asks the memo, not the DWARF
    again = dwarfindex.ScanIndex(vmlinux, tmp_path / 'index.sqlite', 1)
    for name in names[:10]:
        assert Counter(again.inlines(name)) == Counter(whole.inlines(name)), name
    assert again._raw is None

    # an address no name was asked for: through .debug_aranges
    fresh = dwarfindex.ScanIndex(vmlinux, tmp_path / 'other.sqlite', 1)
    for f in whole.functions(names[len(names) // 2]) + whole.functions('vfs_read'):
        assert fresh.function_at(f.addr) == whole.function_at(f.addr)


# -- the raw DIE reader against pyelftools -----------------------------------------

def _pyelftools_walk(info, offset: int) -> tuple:  # type: ignore[no-untyped-def]
    """What the index keeps from a unit, read the plain pyelftools way: out-of-line
    functions (name, low_pc, decl line) and inlined instances (name, call line)."""
    cu = info.get_CU_at(offset)

    def decl(die):  # type: ignore[no-untyped-def]
        name, line = '', 0
        for _ in range(4):
            a = die.attributes
            name = name or (a['DW_AT_name'].value.decode() if 'DW_AT_name' in a else '')
            line = line or (a['DW_AT_decl_line'].value if 'DW_AT_decl_line' in a else 0)
            origin = a.get('DW_AT_abstract_origin') or a.get('DW_AT_specification')
            if origin is None or (name and line):
                break
            die = die.get_DIE_from_attribute(origin.name)
        return name, line

    def inlines(parent, out):  # type: ignore[no-untyped-def]
        for die in parent.iter_children():
            if die.tag == 'DW_TAG_inlined_subroutine':
                a = die.attributes
                if ('DW_AT_entry_pc' in a and a['DW_AT_entry_pc'].form == 'DW_FORM_addr') or \
                        ('DW_AT_low_pc' in a and a['DW_AT_low_pc'].form == 'DW_FORM_addr') \
                        or 'DW_AT_ranges' in a:
                    line = a['DW_AT_call_line'].value if 'DW_AT_call_line' in a else 0
                    out.append((decl(die)[0], line))
                inlines(die, out)
            elif die.tag == 'DW_TAG_lexical_block' or die.has_children and \
                    die.tag in ('DW_TAG_GNU_call_site', 'DW_TAG_call_site'):
                inlines(die, out)

    funcs: list = []
    inl: list = []
    for die in cu.get_top_DIE().iter_children():
        low = die.attributes.get('DW_AT_low_pc')
        if die.tag == 'DW_TAG_subprogram' and low is not None and low.form == 'DW_FORM_addr':
            name, line = decl(die)
            if name:
                funcs.append((name, low.value, line))
                inlines(die, inl)
    return funcs, inl


def test_raw_reader_reads_what_pyelftools_reads(kdir: Path) -> None:
    from elftools.elf.elffile import ELFFile
    from stapgen.elf import rawdwarf
    vmlinux = kdir / 'vmlinux'
    raw = rawdwarf.RawDwarf(vmlinux)
    with vmlinux.open('rb') as f:
        info = ELFFile(f).get_dwarf_info()
        for offset in raw.units[::20]:
            funcs, inlines, _ = dwarfindex._CUWalker(raw, info, offset).walk()
            got = ([(n, dwarfindex._u64(a), ln) for n, a, _, ln in funcs],
                   [(r[0], r[5]) for r in inlines if r[0]])
            assert got == _pyelftools_walk(info, offset), f'unit at {offset:#x}'
