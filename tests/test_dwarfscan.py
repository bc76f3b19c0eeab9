"""The scan that answers one name without the whole DWARF index must give
the index's answer: every out-of-line copy and every inlined instance, for
unique names, duplicated static names, clones and inline-only functions of
the real test trees."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List

from stapgen import dwarfindex, symbols


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
