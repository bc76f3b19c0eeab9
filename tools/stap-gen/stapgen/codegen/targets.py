# SPDX-License-Identifier: GPL-2.0
"""Target expressions of a script ($var, $p->field, @cast, @var, $$parms)
bound to a probe point's DWARF scope (elf.scopes) and turned into C over
the runtime's fault-safe helpers."""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

from ..diag import Pos, StapError, error
from ..elf.locexpr import Loc, Unavailable
from ..elf.scopes import DwarfFile, Site
from ..elf.types import CType, Member, Types, _name, _type_die
from ..frontend import nodes as n

MAX_PRETTY_MEMBERS = 24


# -- target expressions ------------------------------------------------------------

@dataclass
class Bound:
    """A target expression bound at one site: C for its value and its type."""
    c: str
    ctype: CType
    is_string: bool = False
    temps: int = 0
    entry: List[str] = field(default_factory=list)


class Binder:
    """Target expressions of one probe point, as C."""

    def __init__(self, site: Optional[Site], temp: Callable[[], str],
                 index_c: Callable[[n.Expr], str], symbols: Any = None,
                 file: Optional[DwarfFile] = None) -> None:
        self.site = site
        self.file = site.file if site is not None else file
        self.types = self.file.types if self.file is not None else Types()
        self.temp = temp
        self.index_c = index_c
        self.symbols = symbols
        self.var_refs: set = set()      # exported globals @var refers to

    def fail(self, msg: str, pos: Pos, hint: Optional[str] = None) -> StapError:
        return error(msg, pos, hint=hint)

    def _need_site(self, e: n.Target) -> Site:
        if self.site is None:
            raise self.fail(f"'{e.text()}' needs a probe in the kernel's code with DWARF",
                            e.pos, hint='target variables work in kernel.function, '
                            'kernel.statement and module(...).function probes')
        return self.site

    def defined(self, e: n.Target) -> bool:
        try:
            self.value(e)
            return True
        except StapError:
            return False

    def value(self, e: n.Target) -> str:
        """C for the expression's value: an s64, or a string buffer if pretty."""
        if e.base.startswith('$$'):
            return self._list(e)
        loc, t = self._walk(e)
        if e.pretty:
            return self._pretty_value(loc, t, e)
        if e.address_of:
            if loc.kind != 'mem':
                raise self.fail(f"'{e.text()}' is in a register: it has no address",
                                e.pos)
            return f'(s64)({loc.c})'
        return self._scalar(loc, t, e)

    def assign(self, e: n.Target, value: str) -> str:
        """C that writes value (an s64) to the expression (guru mode)."""
        if e.base.startswith('$$') or e.pretty or e.address_of:
            raise self.fail(f"cannot assign to '{e.text()}'", e.pos)
        loc, t = self._walk(e)
        if t.composite or t.kind in ('array', 'void', 'func') or t.size not in (1, 2, 4, 8):
            raise self.fail(f"'{e.text()}' has type {t.name}: only a number can be written",
                            e.pos)
        if loc.kind == 'mem':
            return f'({{ s64 w_ = {value}; stp_poke(c, {loc.c}, {t.size}, w_); w_; }})'
        if loc.c == 'stp_return_value(c)':
            return f'({{ s64 w_ = {value}; stp_set_return_value(c, w_); w_; }})'
        m = re.fullmatch(r'stp_dwreg\(c, (\d+)\)', loc.c)
        if m:
            return f'({{ s64 w_ = {value}; stp_set_dwreg(c, {m.group(1)}, w_); w_; }})'
        raise self.fail(f"'{e.text()}' is not in memory or a register of its own here: "
                        'it cannot be written', e.pos,
                        hint='write the memory it came from, through a pointer member')

    # -- the walk: base, then members and elements -----------------------------------
    def _walk(self, e: n.Target) -> Tuple[Loc, CType]:
        site = self._need_site(e) if e.base not in ('@cast', '@var') else self.site
        if e.base == '$return':
            assert site is not None
            if not site.ret:
                raise self.fail('$return is only available in .return probes', e.pos)
            t = site.return_type()
            if t.kind == 'void':
                raise self.fail(f'{site.func} returns void: there is no $return', e.pos)
            loc = Loc('value', 'stp_return_value(c)')
        elif e.base == '@cast':
            loc, t = self._cast(e)
        elif e.base == '@var':
            loc, t = self._global(e)
        else:
            assert site is not None
            loc, t = self._variable(site, e)
        bits: Tuple[int, int] = (0, 0)
        for st in e.steps:
            loc, t, bits = self._step(loc, t, st, e)
        if bits[0]:
            if e.address_of:
                raise self.fail(f"'{e.text()}' is a bitfield: it has no address", e.pos)
            return Loc('value', f'stp_bitfield(c, {loc.c}, {bits[1]}, {bits[0]}, '
                                f'{int(t.signed)})'), t
        return loc, t

    def _variable(self, site: Site, e: n.Target) -> Tuple[Loc, CType]:
        name = e.base[1:]
        v = next((x for x in site.variables() if x.name == name), None)
        if v is None:
            have = ' '.join('$' + x.name for x in site.variables())
            raise self.fail(f'no variable ${name} in {site.func}', e.pos,
                            hint=f'available here: {have}' if have else
                            f'{site.func} has no parameters or locals here')
        try:
            return site.location(v), v.ctype
        except Unavailable as u:
            have = ' '.join('$' + x.name for x in site.variables() if site.readable(x))
            raise self.fail(str(u), e.pos,
                            hint=f'test for it with @defined(${name}); readable here: '
                                 f'{have or "none"}') from None

    def _global(self, e: n.Target) -> Tuple[Loc, CType]:
        """@var("name[@file]"): an exported global, by its exported name."""
        name, _, file = e.type_name.partition('@')
        if self.symbols is None or not self.symbols.is_exported(name):
            raise self.fail(f"@var(\"{e.type_name}\"): '{name}' is not exported by the "
                            'kernel', e.pos,
                            hint='a module can only refer to exported symbols; stap-gen '
                                 'never embeds a kernel address to reach the others')
        # its type: from the probed function's unit, or from FILE's
        if file and (self.site is None or not _name(self.site.cu.get_top_DIE()).endswith(file)):
            cu = self.file.unit_of_file(file) if self.file is not None else None
            if cu is None:
                raise self.fail(f'@var("{e.type_name}"): no compilation unit {file} with '
                                'DWARF', e.pos)
        elif self.site is not None:
            cu = self.site.cu
        else:
            raise self.fail(f'@var("{e.type_name}") outside a function probe needs the file '
                            'whose DWARF gives its type', e.pos,
                            hint=f'@var("{name}@FILE.c"), FILE.c a source file that uses it')
        cu_name = _name(cu.get_top_DIE())
        for d in cu.get_top_DIE().iter_children():
            if d.tag == 'DW_TAG_variable' and _name(d) == name and 'DW_AT_type' in d.attributes:
                self.var_refs.add(name)
                return Loc('mem', f'(u64)(unsigned long)stp_var_{name}'), \
                    self.types.of(_type_die(d))
        raise self.fail(f'@var("{e.type_name}"): {cu_name} does not declare {name}', e.pos,
                        hint='the type comes from the DWARF of the probed file; probe a '
                             'function in a file that uses it')

    def _cast(self, e: n.Target) -> Tuple[Loc, CType]:
        assert e.operand is not None
        tname = e.type_name.strip()
        ptr = tname.endswith('*')
        base = tname.rstrip('* ').strip()
        t = self._find_type(base, e)
        addr = self.index_c(e.operand)
        if ptr:     # @cast(p, "struct x *") is p as a pointer to struct x
            return Loc('value', f'(u64)({addr})'), CType('pointer', t.name + '*', 8, target=t)
        return Loc('mem', f'(u64)({addr})'), t

    def _find_type(self, name: str, e: n.Target) -> CType:
        """The type, from the probed function's unit first, then from any
        unit.  A bare name that is no typedef is a struct or union tag, as
        SystemTap takes it (@cast(p, "task_struct"))."""
        name = ' '.join(name.split())
        found = self._lookup_type(name)
        if found is None and ' ' not in name:
            found = self._lookup_type(f'struct {name}') or self._lookup_type(f'union {name}')
        if found is not None:
            return found
        raise self.fail(f'no complete type "{name}" in the DWARF of the kernel', e.pos,
                        hint='write the type as the C source names it, e.g. '
                             '"struct task_struct"')

    def _lookup_type(self, name: str) -> Optional[CType]:
        kind, _, tag_name = name.partition(' ')
        tags: Optional[Tuple[str, ...]] = {
            'struct': ('DW_TAG_structure_type',), 'union': ('DW_TAG_union_type',),
            'enum': ('DW_TAG_enumeration_type',)}.get(kind)
        if tags is None:
            tags, tag_name = ('DW_TAG_typedef', 'DW_TAG_base_type'), name
        if self.site is not None:
            for d in self.site.cu.get_top_DIE().iter_children():
                if d.tag in tags and _name(d) == tag_name and \
                        'DW_AT_declaration' not in d.attributes:
                    return self.types.of(d)
        return self.file.named_type(name) if self.file is not None else None

    def _complete(self, t: CType) -> CType:
        """A struct only declared in this unit (struct sighand_struct in a
        unit that never looks inside one), as another unit defines it."""
        if t.die is None or 'DW_AT_declaration' not in t.die.attributes or self.file is None:
            return t
        return self.file.named_type(t.name) or t

    def _step(self, loc: Loc, t: CType, st: n.Step, e: n.Target
              ) -> Tuple[Loc, CType, Tuple[int, int]]:
        types = self.types
        if st.member is not None:
            if t.kind == 'pointer' and t.target is not None and t.target.composite:
                base = Loc('mem', f'(u64){self._scalar(loc, t, e)}')
                t = self._complete(t.target)
            elif t.composite:
                base = loc
                t = self._complete(t)
            else:
                raise self.fail(f"'->{st.member}' on {t.name}, which is not a struct, "
                                'a union or a pointer to one', st.pos,
                                hint=f"'{_prefix(e, st)}' is a {t.name}: use it as a number"
                                     if t.kind in ('base', 'enum') else
                                     f"'{_prefix(e, st)}' has type {t.name}")
            members = types.members(t)
            m = next((x for x in members if x.name == st.member), None)
            if m is None:
                names = ', '.join(x.name for x in members[:30])
                raise self.fail(f"{t.name} has no member '{st.member}'", st.pos,
                                hint=f'its members: {names}' if names else
                                f'{t.name} is incomplete in this compilation unit')
            if base.kind != 'mem':
                return self._member_in_registers(base, m, e, st), m.ctype, (0, 0)
            addr = Loc('mem', f'({base.c} + {m.offset})')
            return addr, m.ctype, (m.bit_size, m.bit_offset)
        assert st.index is not None
        idx = f'(u64)({self.index_c(st.index)})'
        if t.kind == 'pointer' and t.target is not None and t.target.kind != 'void':
            base_c = f'(u64){self._scalar(loc, t, e)}'
            elem = t.target
        elif t.kind == 'array' and t.target is not None:
            if loc.kind != 'mem':
                raise self.fail(f"'{e.text()}': the array is in registers", st.pos)
            base_c, elem = loc.c, t.target
        elif t.composite and loc.kind == 'mem':
            # @cast(p, "struct x")[i]: p taken as an array of struct x, as
            # SystemTap does (& @cast(0, "struct x")[1] is its size)
            base_c, elem = loc.c, t
        else:
            raise self.fail(f'[...] on {t.name}, which is not an array or a pointer',
                            st.pos)
        return Loc('mem', f'({base_c} + {idx} * {max(elem.size, 1)})'), elem, (0, 0)

    def _member_in_registers(self, base: Loc, m: Member, e: n.Target, st: n.Step) -> Loc:
        """A member of a struct held in a register, or in pieces (DW_OP_piece)."""
        if m.bit_size:
            raise self.fail(f"'{e.text()}': a bitfield of a struct in registers", st.pos)
        size = max(m.ctype.size, 1)
        if base.kind == 'value':
            return Loc('value', f'((u64)({base.c}) >> {m.offset * 8})')
        assert base.pieces is not None
        for off, psize, loc in base.pieces:
            if off <= m.offset and m.offset + size <= off + psize:
                if loc is None:
                    raise self.fail(f"'{e.text()}' is optimized out here", st.pos,
                                    hint=f'test for it with @defined({e.text()})')
                if loc.kind == 'mem':
                    return Loc('mem', f'({loc.c} + {m.offset - off})')
                return Loc('value', f'((u64)({loc.c}) >> {(m.offset - off) * 8})')
        raise self.fail(f"'{e.text()}' straddles two of the registers the struct is "
                        'split over', st.pos)

    def _scalar(self, loc: Loc, t: CType, e: n.Target) -> str:
        if t.kind == 'array':
            if loc.kind != 'mem':
                raise self.fail(f"'{e.text()}': the array is in registers", e.pos)
            return f'(s64)({loc.c})'     # an array is its address, as in C
        if t.composite:
            raise self.fail(f"'{e.text()}' is a {t.name}, not a number", e.pos,
                            hint=f"read a member with ->, or print it with '{e.text()}$'")
        if t.kind in ('void', 'func') or t.size not in (1, 2, 4, 8):
            raise self.fail(f"'{e.text()}' has type {t.name}, which has no value to read",
                            e.pos)
        if loc.kind == 'pieces':
            raise self.fail(f"'{e.text()}' is split over registers; only a struct's "
                            'members can be read from them', e.pos)
        if loc.kind == 'mem':
            return f'(s64)stp_deref(c, {loc.c}, {t.size}, {int(t.signed)})'
        return f'(s64)stp_trunc({loc.c}, {t.size}, {int(t.signed)})'

    # -- pretty printing: $var$, $$parms ------------------------------------------------
    def _list(self, e: n.Target) -> str:
        site = self._need_site(e)
        if e.base == '$$return':
            if not site.ret:
                raise self.fail('$$return is only available in .return probes', e.pos)
            t = site.return_type()
            if t.kind == 'void':
                return '""'
            return self._format([('return', self._one(Loc('value', 'stp_return_value(c)'),
                                                      t, e, top=True))])
        # (in a .return probe the translator evaluates this when the function
        # is entered, where the site's locations are valid, and saves the text)
        want = {'$$parms': (True,), '$$locals': (False,), '$$vars': (True, False)}[e.base]
        items: List[Tuple[Optional[str], Tuple[str, List[str]]]] = []
        for v in site.variables():
            if v.is_param not in want:
                continue
            try:
                loc = site.location(v)
            except Unavailable:
                items.append((v.name, ('?', [])))
                continue
            items.append((v.name, self._one(loc, v.ctype, e, top=True)))
        return self._format(items)

    def _pretty_value(self, loc: Loc, t: CType, e: n.Target) -> str:
        if t.kind == 'pointer' and t.target is not None and t.target.composite:
            loc, t = Loc('mem', f'(u64){self._scalar(loc, t, e)}'), t.target
        return self._format([(None, self._one(loc, t, e, top=True, expand=True))])

    def _one(self, loc: Loc, t: CType, e: n.Target, top: bool,
             expand: bool = False, depth: int = 0) -> Tuple[str, List[str]]:
        """(printf format, C args) for one value."""
        deep = e.pretty == '$$'
        if t.kind == 'pointer' and t.target is not None and t.target.is_char and e.pretty:
            buf = self.temp()
            return '%s', [f'stp_quoted_string(c, {buf}, {self._scalar(loc, t, e)})']
        if t.kind == 'array' and t.target is not None and t.target.is_char and \
                loc.kind == 'mem':
            buf = self.temp()
            return '%s', [f'stp_quoted_string(c, {buf}, {loc.c})']
        if t.composite:
            if not (e.pretty and (expand or deep) and depth < 3) or loc.kind != 'mem':
                return '{...}', []
            fmts, args = [], []
            members = self.types.members(t)
            for m in members[:MAX_PRETTY_MEMBERS]:
                if m.bit_size:
                    val = (f'(s64)stp_bitfield(c, ({loc.c} + {m.offset}), {m.bit_offset}, '
                           f'{m.bit_size}, {int(m.ctype.signed)})')
                    fmts.append(f'.{m.name}=%lld')
                    args.append(val)
                    continue
                f, a = self._one(Loc('mem', f'({loc.c} + {m.offset})'), m.ctype, e,
                                 top=False, depth=depth + 1)
                fmts.append(f'.{m.name}={f}')
                args += a
            more = ', ...' if len(members) > MAX_PRETTY_MEMBERS else ''
            return '{' + ', '.join(fmts) + more + '}', args
        if t.kind == 'array':
            return '[...]', []
        if t.kind in ('void', 'func', 'float') or t.size not in (1, 2, 4, 8):
            return '?', []
        val = self._scalar(loc, t, e)
        if t.kind == 'pointer' or top and not e.pretty:
            return '0x%llx', [f'(unsigned long long)stp_trunc({val}, {t.size}, 0)']
        return '%lld', [f'(long long){val}']

    def _format(self, items: List[Tuple[Optional[str], Tuple[str, List[str]]]]) -> str:
        fmt = ' '.join((f'{name}=' if name else '') + f for name, (f, _) in items)
        args = [a for _, (_, al) in items for a in al]
        buf = self.temp()
        fmt_c = fmt.replace('\\', '\\\\').replace('"', '\\"')
        call = ', '.join([buf, 'MAXSTRINGLEN', f'"{fmt_c}"'] + args)
        return f'(snprintf({call}), {buf})'


def _prefix(e: n.Target, upto: n.Step) -> str:
    """The text of e before the step upto."""
    head = n.Target(e.pos, e.base, e.operand, e.type_name, e.module,
                    e.steps[:e.steps.index(upto)])
    return head.text()


def type_list(site: Site) -> str:
    """'$a:int $b:char const*' for -L: the variables readable at the site."""
    out = [f'${v.name}:{v.ctype.name}' for v in site.variables() if site.readable(v)]
    if site.ret and site.return_type().kind != 'void':
        out.append(f'$return:{site.return_type().name}')
    return ' '.join(out)
