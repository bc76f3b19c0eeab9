# SPDX-License-Identifier: GPL-2.0
"""The middle of the pipeline, without a kernel: resolve, targets,
translate and codegen against a small ELF with DWARF.

tests/fixture/fixture.c and fixture2.c are compiled with the system gcc
(-O2 -g -gdwarf-5) and linked into one executable with a .symtab, a
build-id and DWARF: duplicated static names, a function inlined into two
callers and also kept out of line, one inlined everywhere, a clone, a
struct with nested members behind a pointer, a local live at a line.  What
a test expects is read from that ELF with pyelftools (or from the C's
struct layout through ctypes), not from stap-gen.

Generated modules are compared with tests/golden/NAME.c; after a change
that is meant to alter them, run tests/golden/regen and review the diff.
"""

from __future__ import annotations

import ctypes
import difflib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from elftools.elf.elffile import ELFFile

from conftest import TOP
from stapgen.codegen import generate as codegen
from stapgen.codegen.generate import Sites
from stapgen.codegen.targets import Binder, type_list
from stapgen.diag import Source, StapError
from stapgen.elf import dwarfindex, symbols
from stapgen.elf.scopes import Site
from stapgen.frontend import nodes as n
from stapgen.frontend import parser, semantic
from stapgen.pipeline import Options, Pipeline
from stapgen.probes.base import Probe
from stapgen.probes.kprobe import KprobeProbe
from stapgen.probes.resolve import Resolver

FIXTURE = TOP / 'tests' / 'fixture'
GOLDEN = TOP / 'tests' / 'golden'
SOURCES = ('fixture.c', 'fixture2.c')
CFLAGS = ['-O2', '-g', '-gdwarf-5', '-fno-pie']
TEMPLATES = TOP / 'kernel-templates'
TEMPLATE_SET = '6.12'
# what a tree would give generate(); fixed, so the golden files are too
RELEASE = '6.12.0-stapgen-fixture'
BUILD_ID = '00112233445566778899aabbccddeeff00112233'
REGEN = os.environ.get('STAPGEN_REGEN_GOLDEN') == '1'

# The System V x86-64 ABI's first two integer arguments, as DWARF numbers them.
DW_RDI, DW_RSI = 5, 4


# -- the struct layout of fixture.c, as the C compiler lays it out -----------------------

class Inner(ctypes.Structure):
    _fields_ = [('tag', ctypes.c_char), ('value', ctypes.c_long),
                ('flags', ctypes.c_ushort * 3)]


class Outer(ctypes.Structure):
    _fields_ = [('id', ctypes.c_int), ('body', Inner), ('link', ctypes.POINTER(Inner)),
                ('name', ctypes.c_char_p)]


# -- the fixture ELF and what pyelftools says of it ----------------------------------------

@dataclass
class Fixture:
    elf: Path
    build_dir: Path
    build_id: str
    symtab: List[Tuple[str, int, int, str]]    # (name, address, size, type)

    def source_line(self, file: str, pattern: str) -> int:
        """The line of a fixture source file matching a regular expression."""
        lines = (FIXTURE / file).read_text().splitlines()
        found = [i for i, text in enumerate(lines, 1) if re.search(pattern, text)]
        assert len(found) == 1, (file, pattern, found)
        return found[0]

    def funcs(self, name: str) -> List[Tuple[str, int, int, str]]:
        return [s for s in self.symtab if s[0] == name and s[3] == 'STT_FUNC']

    def only(self, name: str) -> Tuple[str, int, int, str]:
        found = self.funcs(name)
        assert len(found) == 1, (name, found)
        return found[0]

    def unique_anchor(self, addr: int) -> Tuple[str, int]:
        """The kprobe anchor rule, restated: the nearest function symbol at or
        before addr whose name no other symbol has."""
        count: Dict[str, int] = {}
        for name, _, _, _ in self.symtab:
            count[name] = count.get(name, 0) + 1
        best = max((s for s in self.symtab if s[3] == 'STT_FUNC' and s[1] <= addr and
                    count[s[0]] == 1), key=lambda s: s[1])
        return best[0], addr - best[1]

    def dwarf(self) -> Iterator[Tuple[Any, Any]]:
        """(unit, DIE) for every DIE of the fixture."""
        with self.elf.open('rb') as f:
            info = ELFFile(f).get_dwarf_info()
            for cu in info.iter_CUs():
                for die in cu.iter_DIEs():
                    yield cu, die

    def inlined_entries(self, name: str) -> Dict[int, str]:
        """entry pc -> the function it is inlined into, for each inlined
        instance of name."""
        out = {}
        for _, die in self.dwarf():
            if die.tag != 'DW_TAG_inlined_subroutine':
                continue
            origin = die.get_DIE_from_attribute('DW_AT_abstract_origin')
            if origin.attributes['DW_AT_name'].value.decode() != name:
                continue
            host = die.get_parent()
            while host.tag != 'DW_TAG_subprogram':
                host = host.get_parent()
            hname = host.get_DIE_from_attribute('DW_AT_abstract_origin') \
                if 'DW_AT_abstract_origin' in host.attributes else host
            out[die.attributes['DW_AT_entry_pc'].value] = \
                hname.attributes['DW_AT_name'].value.decode()
        return out

    def line_starts(self, file: str, line: int, lo: int, hi: int) -> List[int]:
        """The first address of each run of is_stmt rows for file:line in [lo, hi)."""
        with self.elf.open('rb') as f:
            info = ELFFile(f).get_dwarf_info()
            rows = []
            for cu in info.iter_CUs():
                lp = info.line_program_for_CU(cu)
                names = [fe.name.decode() for fe in lp['file_entry']]
                rows += [(e.state.address, names[e.state.file], e.state.line)
                         for e in lp.get_entries()
                         if e.state is not None and not e.state.end_sequence and
                         e.state.is_stmt and lo <= e.state.address < hi]
        out, prev = [], None
        for addr, fname, ln in sorted(set(rows)):
            if fname == file and ln == line and ln != prev:
                out.append(addr)
            prev = ln
        return out

    def register_of(self, func: str, var: str, pc: int) -> int:
        """The DWARF register a variable of func is in at pc, from its
        location list (DW_OP_regN)."""
        from elftools.dwarf.locationlists import LocationParser
        with self.elf.open('rb') as f:
            info = ELFFile(f).get_dwarf_info()
            parser_ = LocationParser(info.location_lists())
            for cu in info.iter_CUs():
                for die in cu.iter_DIEs():
                    if die.tag != 'DW_TAG_subprogram' or \
                            die.attributes.get('DW_AT_name') is None or \
                            die.attributes['DW_AT_name'].value.decode() != func:
                        continue
                    for d in _descendants(die):
                        a = d.attributes
                        if d.tag != 'DW_TAG_variable' or 'DW_AT_name' not in a or \
                                a['DW_AT_name'].value.decode() != var:
                            continue
                        base = cu.get_top_DIE().attributes['DW_AT_low_pc'].value
                        for e in parser_.parse_from_attribute(a['DW_AT_location'],
                                                              cu['version'], d):
                            if hasattr(e, 'base_address'):
                                base = e.base_address
                                continue
                            absolute = getattr(e, 'is_absolute', False)
                            lo = e.begin_offset if absolute else base + e.begin_offset
                            hi = e.end_offset if absolute else base + e.end_offset
                            if lo <= pc < hi:
                                assert len(e.loc_expr) == 1 and \
                                    0x50 <= e.loc_expr[0] <= 0x6f, e.loc_expr
                                return e.loc_expr[0] - 0x50     # DW_OP_reg0..31
        raise AssertionError(f'no location of {var} in {func} at {pc:#x}')


def _descendants(die: Any) -> Iterator[Any]:
    for d in die.iter_children():
        yield d
        yield from _descendants(d)


@pytest.fixture(scope='module')
def fx(tmp_path_factory: pytest.TempPathFactory) -> Fixture:
    """The fixture ELF, built once per session run of this module."""
    for tool in ('gcc', 'ld'):
        assert shutil.which(tool), f'{tool} is needed to build tests/fixture/'
    build = tmp_path_factory.mktemp('fixture')
    objs = []
    for src in SOURCES:
        shutil.copy(FIXTURE / src, build / src)
        obj = src.replace('.c', '.o')
        subprocess.run(['gcc', *CFLAGS, '-c', src, '-o', obj], cwd=build, check=True)
        objs.append(obj)
    subprocess.run(['gcc', '-nostdlib', '-no-pie', '-Wl,--build-id', '-o', 'fixture.elf',
                    *objs], cwd=build, check=True)
    elf = build / 'fixture.elf'
    with elf.open('rb') as f:
        e = ELFFile(f)
        symtab = [(s.name, s['st_value'], s['st_size'], s['st_info']['type'])
                  for s in e.get_section_by_name('.symtab').iter_symbols()
                  if s.name and s['st_info']['type'] not in ('STT_SECTION', 'STT_FILE')]
    bid = symbols.build_id(elf)
    assert bid, 'the fixture must carry a build-id: the caches are keyed by it'
    return Fixture(elf, build, bid, symtab)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of its own for each test: the symbol table and the DWARF
    index are built from the fixture every time, never found stale."""
    d = tmp_path / 'cache'
    monkeypatch.setenv('STAPGEN_CACHE', str(d))
    return d


def resolver(fx: Fixture, whole: bool = False) -> Resolver:
    """A Resolver on the fixture: its DWARF index answering one name at a
    time (a ScanIndex: nothing cached yet), or the whole index built first."""
    if whole:
        first = dwarfindex.open_index(fx.elf, fx.build_id, jobs=1)
        if isinstance(first, dwarfindex.ScanIndex):
            first.whole()

    def index() -> dwarfindex.Index:
        i = dwarfindex.open_index(fx.elf, fx.build_id, jobs=1)
        assert isinstance(i, dwarfindex.DwarfIndex if whole else dwarfindex.ScanIndex)
        return i

    return Resolver(load=lambda: (symbols.load(fx.elf), symbols.Dwarf(fx.elf)), index=index)


def parse(text: str, name: str = 'test.stp') -> n.Script:
    return parser.parse(Source(name, text))


def place(r: Resolver, point: str) -> List[KprobeProbe]:
    probes = r.resolve(parse(f'probe {point} {{}}'))
    assert all(isinstance(p, KprobeProbe) for p in probes), probes
    return probes  # type: ignore[return-value]


def refusal(r: Resolver, point: str) -> StapError:
    with pytest.raises(StapError) as e:
        r.resolve(parse(f'probe {point} {{}}'))
    assert len(e.value.diagnostics) == 1
    return e.value


INDEX = pytest.mark.parametrize('whole', [False, True], ids=['scan', 'whole-index'])


# -- resolve -------------------------------------------------------------------------------

@INDEX
def test_duplicated_static_name_gives_one_probe_per_copy(fx: Fixture, whole: bool) -> None:
    copies = fx.funcs('dup')
    assert len(copies) == 2
    lines = {'fixture.c': fx.source_line('fixture.c', r'static int dup\('),
             'fixture2.c': fx.source_line('fixture2.c', r'static int dup\(')}
    probes = place(resolver(fx, whole), 'kernel.function("dup")')
    assert sorted(p.pc for p in probes) == sorted(s[1] for s in copies)
    assert len({p.symbol for p in probes}) == 2
    for p in probes:
        sym = next(s for s in copies if s[1] == p.pc)
        assert (p.symbol, p.offset) == fx.unique_anchor(p.pc)
        assert p.symbol != 'dup' and len([s for s in fx.symtab if s[0] == p.symbol]) == 1
        assert (p.func, p.target, p.target_size, p.func_entry) == ('dup', 'dup', sym[2], p.pc)
        assert not p.ret and not p.inline
    assert sorted(p.pp for p in probes) == sorted(
        f'kernel.function("dup@{f}:{ln}")' for f, ln in lines.items())
    # @FILE keeps the copy defined there
    only = place(resolver(fx, whole), 'kernel.function("dup@fixture2.c")')
    assert [p.pp for p in only] == [f'kernel.function("dup@fixture2.c:{lines["fixture2.c"]}")']


@INDEX
def test_inlined_function_gives_its_body_and_every_instance(fx: Fixture,
                                                          whole: bool) -> None:
    body = fx.only('shared_inl')
    inlined = fx.inlined_entries('shared_inl')
    assert sorted(inlined.values()) == ['caller_a', 'caller_b']
    probes = place(resolver(fx, whole), 'kernel.function("shared_inl")')
    outline = [p for p in probes if not p.inline]
    assert [(p.pc, p.symbol, p.offset, p.target) for p in outline] == \
        [(body[1], 'shared_inl', 0, 'shared_inl')]
    instances = {p.pc: p for p in probes if p.inline}
    assert set(instances) == set(inlined)
    for pc, host in inlined.items():
        p = instances[pc]
        assert (p.target, p.func_entry, p.func) == (host, fx.only(host)[1], 'shared_inl')
        assert (p.symbol, p.offset) == fx.unique_anchor(pc)
    decl = fx.source_line('fixture.c', r'static inline int shared_inl\(')
    assert {p.pp for p in probes} == {f'kernel.function("shared_inl@fixture.c:{decl}")'}
    # .call: the out-of-line copy alone; .inline: the instances alone
    assert [p.pc for p in place(resolver(fx, whole), 'kernel.function("shared_inl").call')] \
        == [body[1]]
    assert sorted(p.pc for p in place(resolver(fx, whole),
                                      'kernel.function("shared_inl").inline')) == sorted(inlined)


@INDEX
def test_inline_only_function_and_return(fx: Fixture, whole: bool) -> None:
    assert not [s for s in fx.symtab if s[0].startswith('only_inl')]
    inlined = fx.inlined_entries('only_inl')
    assert len(inlined) == 2
    probes = place(resolver(fx, whole), 'kernel.function("only_inl")')
    assert sorted(p.pc for p in probes) == sorted(inlined)
    assert all(p.inline for p in probes)
    e = refusal(resolver(fx, whole), 'kernel.function("only_inl").return')
    d = e.diagnostics[0]
    assert d.message == ("'only_inl' is only inlined (2 instances): .return needs a real "
                         'function entry')
    assert d.hint == 'probe the callers, or kernel.function("only_inl").inline for its entries'
    assert (d.pos.line, d.pos.col) == (1, len('probe kernel.') + 1)    # at function(...)
    e = refusal(resolver(fx, whole), 'kernel.function("only_inl").call')
    assert "'only_inl' is inlined everywhere" in e.diagnostics[0].message
    # a function with a body too: .return probes the body, never an instance
    ret = place(resolver(fx, whole), 'kernel.function("shared_inl").return')
    assert [(p.pc, p.ret, p.inline) for p in ret] == [(fx.only('shared_inl')[1], True, False)]


@INDEX
def test_clone_is_found_under_the_plain_name(fx: Fixture, whole: bool) -> None:
    assert not fx.funcs('scale')
    clones = [s for s in fx.symtab if re.fullmatch(r'scale\.(constprop|isra)\.\d+', s[0])]
    assert len(clones) == 1, 'gcc no longer clones scale(): adjust tests/fixture/fixture.c'
    decl = fx.source_line('fixture.c', r'static int scale\(')
    probes = place(resolver(fx, whole), 'kernel.function("scale")')
    assert [(p.pp, p.func, p.symbol, p.offset, p.pc, p.target) for p in probes] == \
        [(f'kernel.function("scale@fixture.c:{decl}")', 'scale', clones[0][0], 0,
          clones[0][1], clones[0][0])]


@INDEX
def test_wrong_name_gets_a_suggestion(fx: Fixture, whole: bool) -> None:
    d = refusal(resolver(fx, whole), 'kernel.function("use_outr")').diagnostics[0]
    assert d.message == f"no function 'use_outr' in {fx.elf}"
    assert d.hint == 'did you mean use_outer?'
    d = refusal(resolver(fx, whole), 'kernel.function("zzz_nothing_like_it")').diagnostics[0]
    assert d.hint == 'check the name in System.map'
    d = refusal(resolver(fx, whole), 'kernel.function("dup@nowhere.c")').diagnostics[0]
    assert d.message == 'no function "dup" is defined in "nowhere.c"'
    assert d.hint == 'it is defined in fixture.c, fixture2.c'


@INDEX
def test_statement_is_placed_at_the_line(fx: Fixture, whole: bool) -> None:
    name, addr, size, _ = fx.only('with_local')
    line = fx.source_line('fixture.c', r'LINE: acc live')
    want = fx.line_starts('fixture.c', line, addr, addr + size)
    assert want and all(pc != addr for pc in want)
    probes = place(resolver(fx, whole), f'kernel.statement("with_local@fixture.c:{line}")')
    assert [(p.pc, p.symbol, p.offset, p.target) for p in probes] == \
        [(pc, 'with_local', pc - addr, 'with_local') for pc in want]
    assert {p.pp for p in probes} == {f'kernel.statement("with_local@fixture.c:{line}")'}
    # the same through kernel.function("F@FILE:LINE")
    assert [p.pc for p in place(resolver(fx, whole),
                                f'kernel.function("with_local@fixture.c:{line}")')] == want
    # a line without code: refused, with the lines that have some
    blank = line + 1        # the closing brace of the loop
    assert not fx.line_starts('fixture.c', blank, addr, addr + size)
    d = refusal(resolver(fx, whole),
                f'kernel.statement("with_local@fixture.c:{blank}")').diagnostics[0]
    assert d.message == f'no code for fixture.c:{blank} in with_local'
    assert str(line) in d.hint.split(': ')[1].split(', ')


def test_pipeline_resolves_against_a_bare_elf(fx: Fixture) -> None:
    """Pipeline(--vmlinux) places the same probes as the Resolver alone."""
    text = 'probe kernel.function("dup"), kernel.function("shared_inl") {}'
    pipe = Pipeline(Options(vmlinux=fx.elf))
    placed = pipe.resolve(pipe.parse(Source('t.stp', text)))
    direct = resolver(fx).resolve(parse(text))
    assert [p.describe(True) for p in placed.probes] == [p.describe(True) for p in direct]
    assert len(direct) == 5


# -- targets -------------------------------------------------------------------------------

def site_of(fx: Fixture, point: str) -> Tuple[List[Site], Resolver]:
    r = resolver(fx)
    probes = r.resolve(parse(f'probe {point} {{}}'))
    sites = Sites(probes, r.dwarf, r.index)
    return [sites.site(p) for p in probes], r


def bind(site: Site, expr: str) -> str:
    """C for a target expression at a site."""
    script = parse(f'probe begin {{ x = {expr} }}')
    target = script.probes[0].body.body[0].expr.value  # type: ignore[attr-defined]
    assert isinstance(target, n.Target)
    temps = iter(f'l->t{i}' for i in range(100))
    return Binder(site, lambda: next(temps), lambda e: 'INDEX').value(target)


def deref(addr: str, size: int, signed: bool) -> str:
    return f'(s64)stp_deref(c, {addr}, {size}, {int(signed)})'


def test_member_chain_compiles_to_derefs_at_the_struct_offsets(fx: Fixture) -> None:
    [site], _ = site_of(fx, 'kernel.function("use_outer")')
    assert type_list(site) == '$o:struct outer* $n:int'
    o = f'(s64)stp_trunc(stp_dwreg(c, {DW_RDI}), 8, 0)'    # $o, a pointer in a register
    link = deref(f'((u64){o} + {Outer.link.offset})', ctypes.sizeof(ctypes.c_void_p), False)
    long_ = ctypes.sizeof(ctypes.c_long)
    assert bind(site, '$o->link->value') == \
        deref(f'((u64){link} + {Inner.value.offset})', long_, True)
    assert bind(site, '$o->body->value') == \
        deref(f'(((u64){o} + {Outer.body.offset}) + {Inner.value.offset})',
              long_, True)
    assert bind(site, '$o->body->tag') == \
        deref(f'(((u64){o} + {Outer.body.offset}) + {Inner.tag.offset})', 1, True)
    short = ctypes.sizeof(ctypes.c_ushort)
    assert bind(site, '$o->link->flags[2]') == \
        deref(f'(((u64){link} + {Inner.flags.offset}) + (u64)(INDEX) * {short})', short,
              False)
    assert bind(site, '$n') == f'(s64)stp_trunc(stp_dwreg(c, {DW_RSI}), 4, 1)'
    assert bind(site, '&$o->link->value') == f'(s64)(((u64){link} + {Inner.value.offset}))'


def test_member_errors_name_what_is_there(fx: Fixture) -> None:
    [site], _ = site_of(fx, 'kernel.function("use_outer")')
    with pytest.raises(StapError) as e:
        bind(site, '$o->nosuch')
    d = e.value.diagnostics[0]
    assert (d.message, d.hint) == ("struct outer has no member 'nosuch'",
                                   'its members: ' + ', '.join(f[0] for f in Outer._fields_))
    with pytest.raises(StapError) as e:
        bind(site, '$n->x')
    assert e.value.diagnostics[0].message == \
        "'->x' on int, which is not a struct, a union or a pointer to one"
    with pytest.raises(StapError) as e:
        bind(site, '$nope')
    assert e.value.diagnostics[0].hint == 'available here: $o $n'


def test_member_named_like_a_keyword(fx: Fixture) -> None:
    """After '->' a name is a member, even one spelled like a keyword."""
    from stapgen.frontend import unparse
    text = unparse.script(parse('probe begin { x = $p->next; y = $q->in->delete }'))
    assert '$p->next' in text and '$q->in->delete' in text, text


def test_local_is_readable_at_its_line(fx: Fixture) -> None:
    line = fx.source_line('fixture.c', r'LINE: acc live')
    sites, _ = site_of(fx, f'kernel.statement("with_local@fixture.c:{line}")')
    assert sites
    for site in sites:
        assert type_list(site) == '$n:int $acc:int $i:int'
        reg = fx.register_of('with_local', 'acc', site.pc)
        assert bind(site, '$acc') == f'(s64)stp_trunc(stp_dwreg(c, {reg}), 4, 1)'


def test_inlined_instance_and_clone_scopes(fx: Fixture) -> None:
    sites, r = site_of(fx, 'kernel.function("shared_inl")')
    inlined = fx.inlined_entries('shared_inl')
    assert len(sites) == 3
    for site in sites:
        top = site.scopes[0].tag
        assert top == ('DW_TAG_inlined_subroutine' if site.pc in inlined
                       else 'DW_TAG_subprogram')
        assert type_list(site) == '$x:int'
    # the clone: every caller passes k = 3, so DWARF gives $k as that constant
    [site], _ = site_of(fx, 'kernel.function("scale")')
    assert bind(site, '$k') == '(s64)stp_trunc(0x3ULL, 4, 1)'


def test_target_outside_dwarf_code_is_refused() -> None:
    script = parse('probe begin { println($x) }')
    probes = Resolver(None).resolve(script)
    with pytest.raises(StapError) as e:
        codegen.generate(semantic.check(script), probes, 't.stp', 't',
                         codegen.TreeFacts(template_dirs(), RELEASE, BUILD_ID))
    d = e.value.diagnostics[0]
    assert d.message == ('target variables are not available at this probe point: begin is '
                         'not in code with DWARF (target variables work in kernel.function, '
                         'kernel.statement, module(...).function and kernel.trace probes)')
    assert (d.pos.line, d.pos.col) == (1, 23)


# -- translate and codegen: golden modules -------------------------------------------------

def template_dirs() -> List[Path]:
    return [TEMPLATES / TEMPLATE_SET, TEMPLATES / 'common']


SCRIPTS: Dict[str, str] = {
    'begin_end': '''\
global counts, total, lat, by_key
global top = 3

function square(x) { return x * x }

probe begin {
	counts["read"] = 3
	counts["write"] += 2
	total = 10
	for (i = 0; i < 5; i++)
		lat <<< square(i)
	by_key["a", 1] <<< 7
	by_key["b", 2] <<< 9
}

probe end {
	foreach (k in counts- limit top)
		printf("%s %d\\n", k, counts[k])
	printf("n=%d avg=%d max=%d\\n", @count(lat), @avg(lat), @max(lat))
	print(@hist_log(lat))
	foreach ([s, v] in by_key)
		printf("%s %d %d\\n", s, v, @sum(by_key[s, v]))
	if (["read"] in counts)
		delete counts["read"]
	delete counts
	try {
		error("boom")
	} catch (msg) {
		printf("caught %s\\n", msg)
	}
}
''',
    'function_args': '''\
probe kernel.function("use_outer") {
	printf("%d %d %d %d %s\\n", $o->link->value, $o->body->tag, $o->link->flags[$n - 3], $n,
	       $$parms)
	if (@defined($o->nosuch))
		println("never")
}

probe kernel.function("use_outer").return {
	printf("%d %d %s\\n", $return, @entry($n), probefunc())
}
''',
    'placement': '''\
global hits

probe kernel.function("shared_inl") { hits[pp(), $x] <<< 1 }
probe kernel.statement("with_local@fixture.c:@LINE@") { printf("acc=%d i=%d\\n", $acc, $i) }
probe kernel.function("scale"), kernel.function("dup").return { println(probefunc()) }

probe end {
	foreach ([p, x] in hits)
		printf("%s %d %d\\n", p, x, @count(hits[p, x]))
}
''',
    'timer': '''\
global ticks, prof

probe timer.ms(100) {
	ticks++
	if (ticks >= 10)
		exit()
}
probe timer.profile { prof[cpu()] <<< 1 }
probe timer.s(2), timer.jiffies(50) { printf("%s\\n", pp()) }
probe end {
	printf("ticks=%d\\n", ticks)
	foreach (c in prof)
		printf("cpu%d %d\\n", c, @count(prof[c]))
}
''',
}


def generate(fx: Fixture, name: str) -> str:
    text = SCRIPTS[name].replace('@LINE@', str(fx.source_line('fixture.c', r'LINE: acc live')))
    source = Source(f'{name}.stp', text)
    script = parser.parse(source)
    program = semantic.check(script)
    r = resolver(fx)
    probes: List[Probe] = r.resolve(script)
    facts = codegen.TreeFacts(template_dirs(), RELEASE, BUILD_ID, r.dwarf, r.symbols, r.index)
    return codegen.generate(program, probes, source.name, name, facts,
                            line_directives=True).text


def host_paths(fx: Fixture, cache: Path) -> List[str]:
    return [str(p) for p in (TOP, fx.build_dir, cache, Path.home(), Path('/tmp'))]


@pytest.mark.parametrize('name', sorted(SCRIPTS))
def test_golden_module(fx: Fixture, cache: Path, name: str) -> None:
    text = generate(fx, name)
    for path in host_paths(fx, cache):
        assert path not in text, f'the generated C holds the host path {path}'
    for m in re.finditer(r'^#line \d+ "([^"]*)"$', text, re.M):
        assert not m.group(1).startswith('/'), m.group(0)
    assert re.search(rf'^#line \d+ "{name}\.stp"$', text, re.M), 'no #line for the script'
    golden = GOLDEN / f'{name}.c'
    if REGEN:
        golden.write_text(text)
        return
    assert golden.exists(), f'{golden} is missing: run tests/golden/regen'
    want = golden.read_text()
    if text != want:
        diff = ''.join(difflib.unified_diff(
            want.splitlines(True), text.splitlines(True),
            f'tests/golden/{name}.c', f'generated {name}.c'))
        gcc = subprocess.run(['gcc', '--version'], capture_output=True,
                             text=True).stdout.split('\n')[0]
        pytest.fail(f'the generated C of {name}.stp differs from tests/golden/{name}.c '
                    f'(built with {gcc}):\n{diff[:20000]}\n'
                    'If the change is meant, regenerate with tests/golden/regen and '
                    'review the diff (git diff tests/golden).', pytrace=False)


def test_golden_files_have_scripts() -> None:
    """No golden file outlives its script."""
    if not REGEN:
        assert sorted(p.stem for p in GOLDEN.glob('*.c')) == sorted(SCRIPTS)
