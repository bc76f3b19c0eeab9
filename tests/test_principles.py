# SPDX-License-Identifier: GPL-2.0
"""The kit keeps no knowledge of kernel versions outside kernel-templates/:
no LINUX_VERSION_CODE or feature-probe macros in the templates, no kernel
version tables in the Python, no compile probes.  A tree's facts come from
the tree; a kernel API change is a template edit."""

from __future__ import annotations

import ast
import io
import re
import tokenize

from pathlib import Path
from typing import List, Tuple

from conftest import TOP

KIT = TOP / 'tools' / 'stap-gen' / 'stapgen'
TEMPLATES = TOP / 'kernel-templates'

# Version-looking strings the Python may hold, and why.
ALLOWED = {
    'testtree.py': 'the test kernels the kit builds for its own tests',
    'overhead.py': 'the benchmark runs on a test kernel',
    'bench.py': 'the distro vmlinux the benchmark fetches',
    'preprocess.py': 'systemtap_v, the language level scripts may test',
}


def test_templates_do_not_test_kernel_versions() -> None:
    bad = re.compile(r'LINUX_VERSION_CODE|KERNEL_VERSION\s*\(|LINUX_VERSION_(MAJOR|PATCHLEVEL)'
                     r'|\bSTAPCONF_|#\s*if(n?def)?\s+HAVE_')
    files = sorted(p for p in TEMPLATES.rglob('*') if p.is_file())
    assert len(files) > 10
    for path in files:
        for no, line in enumerate(path.read_text().splitlines(), 1):
            assert not bad.search(line), f'{path}:{no}: {line.strip()}'


def test_python_holds_no_kernel_versions() -> None:
    version = re.compile(r'''^[rbf]*['"]v?[2-7]\.\d+(\.\d+)?[^'"]*['"]$''')
    for path in sorted(KIT.rglob('*.py')):
        if path.name in ALLOWED:
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        for tok in tokens:
            if tok.type == tokenize.STRING:
                assert not version.match(tok.string), \
                    f'{path.name}:{tok.start[0]}: {tok.string}'
            if tok.type == tokenize.NAME and tok.string in ('LINUX_VERSION_CODE',
                                                             'KERNEL_VERSION'):
                raise AssertionError(f'{path.name}:{tok.start[0]}: {tok.string}')


def test_no_compile_probes() -> None:
    """Only the module build and the test kernels' build run a compiler or
    make; nothing compiles a test program to learn what a kernel has."""
    runs_tools = re.compile(r'''\[\s*['"](make|gcc|cc|clang)['"]''')
    users = sorted(p.name for p in KIT.rglob('*.py') if runs_tools.search(p.read_text()))
    assert set(users) <= {'kbuild.py', 'testtree.py', 'overhead.py', 'buildbench.py'}, users
    assert 'autoconf' not in (KIT / 'run' / 'kbuild.py').read_text().replace('autoconf.h', '')


# The layers, bottom up; a module may import its own layer and those below.
LAYERS = {'diag': 0, 'paths': 0, 'frontend': 1, 'elf': 1, 'tree': 2, 'probes': 3,
          'tapset': 3, 'codegen': 4, 'run': 5, 'pipeline': 6, 'ktap': 7, 'cli': 8, 'install': 8,
          '__main__': 9, 'dev': 9}


def _layer(parts: List[str]) -> str:
    return parts[0] if parts else ''


def test_layers_import_only_downwards() -> None:
    """Data flows one way: no layer imports a layer above it (or beside it)."""
    bad = []
    for path in sorted(KIT.rglob('*.py')):
        rel = path.relative_to(KIT).with_suffix('').parts
        if rel[-1] == '__init__':
            rel = rel[:-1]
        if not rel:
            continue
        me = _layer(list(rel))
        pkg = list(rel[:-1]) if path.name != '__init__.py' else list(rel)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0:
                if not (node.module or '').startswith('stapgen'):
                    continue
                target = (node.module or '').split('.')[1:]
            else:
                base = pkg[:len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                target = base + (node.module.split('.') if node.module else [])
            if not target:
                target = [a.name for a in node.names][:1]
            them = _layer(target)
            if them == me or them not in LAYERS:
                continue
            if LAYERS[them] > LAYERS[me] or (LAYERS[them] == LAYERS[me] and them != me):
                bad.append(f'{path.relative_to(KIT)}:{node.lineno}: {me} imports {them}')
    assert not bad, '\n'.join(bad)


# What generated C may name besides the runtime's own stp_*/STP_* and the
# translator's locals (v_NAME, a_NAME, tN, l, c, ...): the C language.
C_LANGUAGE = set('''auto break case char const continue default do else enum extern
for goto if int long return short signed sizeof static struct switch union unsigned
void volatile while _Bool bool true false NULL s8 s16 s32 s64 u8 u16 u32 u64
__maybe_unused'''.split())
# C-looking string constants: a call, a member access or a cast
C_LIKE = re.compile(r'\b\w+\(c[,)]|l->|c->|\(s64\)|\(u64\)|\bstp_\w+\(')
LOCAL = re.compile(r'(v|a)_\w*|[a-z]\d*_?|t\d+|[a-z]\d+|k_|ret|retval|out|caught\d*|'
                   r'limit\d*|ll[duxXo]?|entry|frames|nesting|last_error|probe|func|pp|pn|'
                   r'tp_args|regs|sorted|agg|parts|MAXSTRINGLEN|MAXMAPENTRIES')


def _c_strings(path: Path) -> List[Tuple[int, str]]:
    """The string constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body and \
                isinstance(node.body[0], ast.Expr) and \
                isinstance(node.body[0].value, ast.Constant):
            docs.add(id(node.body[0].value))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in docs:
            out.append((node.lineno, node.value))
    return out


def test_python_emits_no_kernel_identifier() -> None:
    """The C the Python writes calls the runtime only: every kernel API is
    spelled in kernel-templates/, where a kernel line's set can change it."""
    bad = []
    for path in sorted(KIT.rglob('*.py')):
        if path.parts[-2] == 'dev':
            continue                # the benchmarks' own hand-written module
        for line, text in _c_strings(path):
            if not C_LIKE.search(text):
                continue
            code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)     # C string literals
            for word in re.findall(r'(?<![\w.$@%\'-])[A-Za-z_]\w*', code):
                if word.lower().startswith('stp_') or word in C_LANGUAGE or \
                        LOCAL.fullmatch(word):
                    continue
                bad.append(f'{path.relative_to(KIT)}:{line}: {word} in {text[:60]!r}')
    assert not bad, '\n'.join(bad)


def test_mypy() -> None:
    """The package type-checks (tools/stap-gen/mypy.ini: the pipeline, the
    KTAP reports and the probe families strictly)."""
    import subprocess
    import sys
    from stapgen import paths
    tool = TOP / 'tools' / 'stap-gen'
    r = subprocess.run([sys.executable, '-m', 'mypy', '--config-file', str(tool / 'mypy.ini'),
                        '--cache-dir', str(paths.cache_dir() / 'mypy'), '-p', 'stapgen'],
                       cwd=tool, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
