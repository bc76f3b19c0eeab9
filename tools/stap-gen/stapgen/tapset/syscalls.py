# SPDX-License-Identifier: GPL-2.0
"""syscall.NAME, made from the tree: its syscall table and its DWARF.

SystemTap hand-writes a tapset file per syscall.  The tree already says
which syscalls it has (arch/x86/entry/syscalls/syscall_64.tbl, and
syscall_32.tbl where IA32_EMULATION is set), which of them are compiled
in (an entry point that is __x64_sys_ni_syscall, or the weak stub
COND_SYSCALL leaves in kernel/sys_ni.c, is not),
and what each takes (the parameters of __do_sys_NAME, its SYSCALL_DEFINE
body, in the DWARF).  What is SystemTap's naming and formatting of those
parameters is kernel-templates/common/tapset/syscalls.names, one table for
every line; the aliases themselves are the template syscalls.stp.j2.

Made on demand: only the syscalls a script names (or matches, syscall.*)
are looked up and rendered.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import jinja2

from .. import paths
from ..diag import Source, error
from ..elf.locexpr import Unavailable
from ..elf.scopes import DwarfFile
from ..frontend import nodes as n
from ..frontend import parser

ALIAS = re.compile(r'(?:nd_)?syscall\.([^.]+)(?:\.return)?')
ERRNO_HEADERS = ('include/uapi/asm-generic/errno-base.h', 'include/uapi/asm-generic/errno.h',
                 'include/linux/errno.h')
SIGNAL_HEADERS = ('arch/x86/include/uapi/asm/signal.h',)
TABLES = (('arch/x86/entry/syscalls/syscall_64.tbl', ('common', '64'), '__x64_'),
          ('arch/x86/entry/syscalls/syscall_32.tbl', ('i386',), '__ia32_'))


@dataclass
class Entry:
    """One syscall of the tree's table."""
    name: str
    nr: int
    function: str           # sys_read: SYSCALL_DEFINE's name
    symbols: List[str]      # where it is entered: __x64_sys_read (and __ia32_sys_read)


@dataclass
class Var:
    name: str
    expr: str               # the script expression that sets it


@dataclass
class Syscall:
    name: str
    symbols: List[str]
    vars: List[Var] = field(default_factory=list)
    argstr: str = '""'
    retstr: int = 1


# -- the table of SystemTap's names ---------------------------------------------------

@dataclass
class Naming:
    var: str
    fmt: str
    show: str = ''          # NAME=EXPR or ?COND


@dataclass
class Names:
    params: Dict[str, Dict[str, Naming]]        # syscall ('*': any) -> param -> naming
    extra: Dict[str, List[Var]]
    argstr: Dict[str, str]
    retstr: Dict[str, int]

    def naming(self, syscall: str, param: str) -> Optional[Naming]:
        return self.params.get(syscall, {}).get(param) or self.params['*'].get(param)


def read_names(path: Path) -> Names:
    names = Names({'*': {}}, {}, {}, {})
    section = '*'
    try:
        text = path.read_text()
    except OSError as e:
        raise error(f'cannot read {path}: {e.strerror}') from None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip() if not line.lstrip().startswith('#') else ''   # %#o is no comment
        if not line:
            continue
        m = re.fullmatch(r'\[([\w*]+)\]', line)
        if m:
            section = m.group(1)
            names.params.setdefault(section, {})
            continue
        words = line.split(None, 3 if not line.startswith(('+', 'argstr')) else 1)
        if words[0] == 'argstr' and len(words) == 2:
            names.argstr[section] = words[1]
        elif words[0] == 'retstr' and len(words) == 2 and words[1] in '123':
            names.retstr[section] = int(words[1])
        elif words[0].startswith('+') and len(words) == 2:
            names.extra.setdefault(section, []).append(Var(words[0][1:], words[1]))
        elif len(words) >= 3 and words[2].startswith('%'):
            names.params[section][words[0]] = Naming(words[1], words[2],
                                                     words[3] if len(words) > 3 else '')
        else:
            raise error(f'{path}:{lineno}: cannot read "{line}"',
                        hint='a line is "PARAM VAR FORMAT [SHOW]", "+VAR EXPR", '
                             '"argstr EXPR" or "retstr 1|2|3"')
    return names


# -- the tree's table ----------------------------------------------------------------

def read_table(srctree: Path, ia32: bool, has_symbol: Callable[[str], bool],
               compiled_out: Callable[[str], bool]) -> Dict[str, Entry]:
    """name -> Entry for every syscall of the tree's table with an entry
    point in vmlinux that is not the not-implemented stub."""
    out: Dict[str, Entry] = {}
    for rel, abis, prefix in TABLES:
        if prefix == '__ia32_' and not ia32:
            continue
        path = srctree / rel
        try:
            text = path.read_text()
        except OSError as e:
            raise error(f'cannot read the syscall table {path}: {e.strerror}') from None
        for line in text.splitlines():
            words = line.split('#', 1)[0].split()
            if len(words) < 4 or words[1] not in abis or not words[0].isdigit():
                continue
            nr, name, function = int(words[0]), words[2], words[3]
            symbol = prefix + function
            if not has_symbol(symbol) or compiled_out(symbol):
                continue
            entry = out.get(name)
            if entry is None:
                out[name] = Entry(name, nr, function, [symbol])
            elif symbol not in entry.symbols:
                entry.symbols.append(symbol)
    return out


def weak_symbols(system_map: Path) -> Set[str]:
    """The weak symbols of the tree's System.map: a syscall whose wrapper is
    weak is COND_SYSCALL's stub (kernel/sys_ni.c), compiled out."""
    try:
        text = system_map.read_text()
    except OSError as e:
        raise error(f'cannot read {system_map}: {e.strerror}') from None
    return {w[2] for w in (line.split() for line in text.splitlines())
            if len(w) == 3 and w[1] in ('W', 'w')}


def table_names(srctree: Path) -> List[Tuple[int, str]]:
    """(nr, name) of the native table: what syscall_name(nr) answers."""
    rel, abis, _ = TABLES[0]
    out = []
    for line in (srctree / rel).read_text().splitlines():
        words = line.split('#', 1)[0].split()
        if len(words) >= 3 and words[1] in abis and words[0].isdigit():
            out.append((int(words[0]), words[2]))
    return out


# -- parameters from DWARF -------------------------------------------------------------

PARAMS_FORMAT = 1      # bump when dwarf_params() reads differently: old caches go unread


@dataclass
class Param:
    name: str
    kind: str               # 'string', 'pointer', 'signed', 'unsigned'
    size: int = 8


def _kind(ctype: Any) -> str:
    if ctype.kind == 'pointer':
        t = ctype.target
        if t is not None and t.is_char and 'const' in ctype.name:
            return 'string'
        return 'pointer'
    if ctype.kind in ('base', 'enum') and ctype.signed:
        return 'signed'
    return 'unsigned'


def dwarf_params(dwarf: DwarfFile, index: Any, function: str) -> List[Param]:
    """The parameters of SYSCALL_DEFINE's body, __do_sys_NAME (out of line or
    inlined); none for a SYSCALL_DEFINE0, which has no such body."""
    body = '__do_' + function
    sites = [(f.addr, False, f.addr) for f in index.functions(body)] + \
        [(i.entry, True, i.entry) for i in index.inlines(body)]
    for pc, inline, entry in sites:
        try:
            site = dwarf.site(pc, body, inline, entry)
            return [Param(v.name, _kind(v.ctype), v.ctype.size or 8)
                    for v in site.variables() if v.is_param]
        except Unavailable:
            continue
    return []


# -- the aliases ----------------------------------------------------------------------

def _read(p: 'Param', i: int) -> str:
    """The script expression reading parameter i as its C type says."""
    if p.kind in ('string', 'pointer'):
        return f'__sys_ptr({i})'
    wide = p.size > 4
    if p.kind == 'signed':
        return f'__sys_long({i})' if wide else f'__sys_int({i})'
    return f'__sys_ulong({i})' if wide else f'__sys_uint({i})'


def describe(name: str, entry: Entry, params: List[Param], names: Names) -> Syscall:
    s = Syscall(name, entry.symbols, retstr=names.retstr.get(name, 1))
    shown: List[Tuple[str, str, str]] = []     # (format, value, condition)
    derived: List[Var] = []     # after every argument: a SHOW may use a later one
    for i, p in enumerate(params):
        nm = names.naming(name, p.name)
        if nm is None:
            if p.kind == 'string':
                nm = Naming(f'{p.name}_uaddr', '%s', f'{p.name}=user_string_quoted('
                                                     f'{p.name}_uaddr)')
            elif p.kind == 'pointer':
                nm = Naming(f'{p.name}_uaddr', '%p')
            else:
                nm = Naming(p.name, '%d' if p.kind == 'signed' else '%u')
        s.vars.append(Var(nm.var, _read(p, i)))
        value, cond = nm.var, ''
        if nm.show.startswith('?'):
            cond = nm.show[1:]
        elif '=' in nm.show:
            value, expr = nm.show.split('=', 1)
            derived.append(Var(value, expr))
        shown.append((nm.fmt, value, cond))
    s.vars += derived + names.extra.get(name, [])
    if name in names.argstr:
        s.argstr = names.argstr[name]
    elif shown:
        s.argstr = _argstr(shown)
    return s


def _argstr(shown: List[Tuple[str, str, str]]) -> str:
    def fmt(items: List[Tuple[str, str, str]]) -> str:
        f = ', '.join(x[0] for x in items)
        return f'sprintf("{f}", {", ".join(x[1] for x in items)})'
    conds = [x for x in shown if x[2]]
    if not conds:
        return fmt(shown)
    cond = conds[0][2]
    return f'({cond}) ? {fmt(shown)} : {fmt([x for x in shown if not x[2]])}'


def stp_string(s: str) -> str:
    """s as a script string literal."""
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n') + '"'


class Generator:
    """Library units for syscall.NAME[.return], nd_syscall.NAME[.return],
    syscall_name() and errno_str()/errno_p(), and argc/argv (from the
    script's arguments), made when a script wants them."""

    def __init__(self, pipe: Any, macros: Dict[str, Any]) -> None:
        self.pipe = pipe
        self.macros = macros
        self.made: Set[str] = set()
        self._table: Optional[Dict[str, Entry]] = None
        self._names: Optional[Names] = None
        self._dwarf: Optional[DwarfFile] = None
        self._params: Optional[Dict[str, List[Param]]] = None
        self._params_file = Path()
        self._params_dirty = False

    # what the tree has
    def table(self) -> Dict[str, Entry]:
        if self._table is None:
            tree = self.pipe.tree()
            syms = self.pipe.symbols()[0]
            stub = {s.addr for s in syms.functions('__x64_sys_ni_syscall')}
            weak = weak_symbols(tree.objtree / 'System.map')
            self._table = read_table(
                tree.srctree, tree.config.enabled('IA32_EMULATION'),
                lambda sym: bool(syms.functions(sym)),
                lambda sym: sym in weak or any(s.addr in stub for s in syms.functions(sym)))
        return self._table

    def naming(self) -> Names:
        if self._names is None:
            self._names = read_names(self.template_path('syscalls.names'))
        return self._names

    def template_path(self, name: str) -> Path:
        for d in self.pipe.template_dirs():
            if (d / 'tapset' / name).exists():
                return d / 'tapset' / name
        raise error(f'the kit has no tapset/{name}')   # pragma: no cover - it ships one

    def explain(self, point: str) -> Optional[Tuple[str, str]]:
        """Why syscall.NAME is not a probe point of this tree (message, hint)."""
        m = ALIAS.fullmatch(point)
        if m is None or '*' in m.group(1):
            return None
        name = m.group(1)
        tree = self.pipe.tree()
        table = TABLES[0][0]
        if name in self.table():
            return None             # it is there: the error is another one
        if any(nm == name for _, nm in table_names(tree.srctree)):
            return (f"probe point '{point}': syscall {name} is compiled out of this tree "
                    f'(its entry point is the not-implemented stub)',
                    f'the config option that provides {name} is not set in {tree.objtree}'
                    '/.config')
        near = fnmatch.filter(sorted(self.table()), f'*{name[:4]}*')[:4]
        return (f"probe point '{point}': this tree's syscall table ({table}) has no "
                f"syscall '{name}'",
                f"did you mean {' or '.join('syscall.' + x for x in near)}?" if near else
                "stap-gen -l 'syscall.*' lists them")

    def names(self) -> List[str]:
        return [f'{p}syscall.{name}{r}' for name in sorted(self.table())
                for p in ('', 'nd_') for r in ('', '.return')]

    # the units
    def units(self, wanted: Set[str]) -> List[n.Script]:
        out: List[n.Script] = []
        pending: List[str] = []
        for w in sorted(wanted):
            if w in ('syscall_name',) and 'syscall_name' not in self.made:
                self.made.add('syscall_name')
                out.append(self._render('syscall_name.stp.j2', {
                    'names': table_names(self.pipe.tree().srctree)}))
            elif w in ('errno_str', 'errno_p', 'return_str') and 'errno' not in self.made:
                self.made.add('errno')
                out.append(self._render('errno.stp.j2', {'errnos': self.header_names(
                    ERRNO_HEADERS, 'E', 4096)}))
            elif w in ('argc', 'argv') and not any(u.one_script for u in out):
                unit = self._render('argv.stp.j2', {'args': self.pipe.script_args})
                unit.one_script = True
                out.append(unit)
            elif w == '_signal_name' and 'signals' not in self.made:
                self.made.add('signals')
                out.append(self._render('signal_name.stp.j2', {'signals': self.header_names(
                    SIGNAL_HEADERS, 'SIG', 65)}))
            m = ALIAS.fullmatch(w)
            if m is None:
                continue
            for name in sorted(self.table()):
                if fnmatch.fnmatchcase(name, m.group(1)) and name not in self.made:
                    self.made.add(name)
                    pending.append(name)
        if pending:
            unit = self._render('syscalls.stp.j2', {
                'syscalls': [self.syscall(name) for name in pending]})
            for a in unit.aliases:
                a.syscall_args = True
            out.append(unit)
            self.save()
        return out

    def syscall(self, name: str) -> Syscall:
        entry = self.table()[name]
        return describe(name, entry, self.params(entry.function), self.naming())

    def params(self, function: str) -> List[Param]:
        """function's parameters from the DWARF, through a cache kept per
        vmlinux build-id (reading a few hundred subprograms takes seconds)."""
        if self._params is None:
            self._params_file = paths.cache_dir() / 'syscalls' / \
                f'{self.pipe.symbols()[0].build_id}-{PARAMS_FORMAT}.json'
            try:
                raw = json.loads(self._params_file.read_text())
                self._params = {k: [Param(*p) for p in v] for k, v in raw.items()}
            except (OSError, ValueError, TypeError):
                self._params = {}
        if function not in self._params:
            if self._dwarf is None:
                self._dwarf = DwarfFile(self.pipe.symbols()[1], self.pipe.index)
            self._params[function] = dwarf_params(self._dwarf, self.pipe.index(), function)
            self._params_dirty = True
        return self._params[function]

    def save(self) -> None:
        """Keep what params() read for the next run (best effort)."""
        if not self._params_dirty or self._params is None:
            return
        tmp = self._params_file.with_suffix(f'.{os.getpid()}.tmp')
        try:
            self._params_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({k: [[p.name, p.kind, p.size] for p in v]
                                       for k, v in self._params.items()}))
            os.replace(tmp, self._params_file)
            self._params_dirty = False
        except OSError:
            tmp.unlink(missing_ok=True)

    def header_names(self, headers: Tuple[str, ...], prefix: str, top: int) -> List[str]:
        """The names the tree's headers #define to numbers with that prefix,
        the first name of each value below top."""
        src = self.pipe.tree().srctree
        seen: Set[str] = set()
        out: List[str] = []
        for rel in headers:
            try:
                text = (src / rel).read_text()
            except OSError as e:
                raise error(f'cannot read {src / rel}: {e.strerror}') from None
            for m in re.finditer(rf'^#define\s+({prefix}[A-Z0-9_]+)\s+(\d+)\b', text, re.M):
                if m.group(2) not in seen and 0 < int(m.group(2)) < top:
                    seen.add(m.group(2))
                    out.append(m.group(1))
        return out

    def _render(self, template: str, context: Dict[str, Any]) -> n.Script:
        path = self.template_path(template)
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(path.parent)),
                                 undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                 trim_blocks=True, lstrip_blocks=True)
        env.filters['stp_string'] = stp_string
        env.filters['symbol_point'] = lambda sym: f'kprobe.function("{sym}")'
        env.filters['dwarf_point'] = lambda sym: (f'kernel.function("{sym}")'
                                                  if self.pipe.index().functions(sym) else
                                                  f'kprobe.function("{sym}")')
        text = env.get_template(template).render(**context)
        return parser.parse_unit(Source(str(path), text),
                                 lambda name: self.pipe.tree().fact(name), None, self.macros)
