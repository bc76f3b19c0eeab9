# SPDX-License-Identifier: GPL-2.0
"""Generated C reads like kernel code: the tree's own checkpatch.pl has
nothing to say about the module C of the examples and the corpus.

The modules share most of their code (the same runtime calls, the same
tapset functions), so each top-level unit (a function, a struct, a block of
declarations) is checked once: the distinct units go into two files that
checkpatch reads side by side, and a complaint is reported against the
script and line it came from."""

from __future__ import annotations

import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

from conftest import TOP, stapgen

SCRIPTS = sorted((TOP / 'tools' / 'stap-gen' / 'examples').glob('*.stp')) + \
    sorted((TOP / 'tools' / 'stap-gen' / 'selftests').glob('*.stp'))

SPDX = '// SPDX-License-Identifier: GPL-2.0'
_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


def units(text: str) -> List[Tuple[int, str]]:
    """The file's top-level units: (first line number, text), split at blank
    lines outside any braces."""
    out: List[Tuple[int, str]] = []
    cur: List[str] = []
    start = depth = 0
    for no, line in enumerate(text.splitlines(), 1):
        if no == 1 and line == SPDX:
            continue
        if not line.strip() and depth == 0:
            if cur:
                out.append((start, '\n'.join(cur)))
            cur = []
            continue
        if not cur:
            start = no
        cur.append(line)
        code = _QUOTED.sub('', line).split('//')[0]
        depth += code.count('{') - code.count('}')
    if cur:
        out.append((start, '\n'.join(cur)))
    return out


def test_units_split_outside_braces() -> None:
    text = f'{SPDX}\n#include <a.h>\n\nint f(void)\n{{\n\tint a = "{{";\n\n\treturn a;\n}}\n\nint b;\n'
    assert units(text) == [(2, '#include <a.h>'),
                           (4, 'int f(void)\n{\n\tint a = "{";\n\n\treturn a;\n}'),
                           (11, 'int b;')]


def test_generated_c_passes_checkpatch(kdir: Path, tmp_path: Path) -> None:
    def generate(script: Path) -> Path:
        c = tmp_path / f'{script.stem}.c'
        args = script.with_suffix('.args')      # a self-test's -g and arguments
        words = shlex.split(args.read_text()) if args.exists() else []
        r = stapgen('-r', str(kdir), '-p3', '-m', script.stem, '-o', str(c), str(script),
                    *words)
        assert r.returncode == 0, f'{script.name}: {r.stderr}'
        return c

    with ThreadPoolExecutor(2) as pool:
        generated = list(pool.map(generate, SCRIPTS))

    # Each distinct unit once, where it first appeared; two files of about
    # equal size, each line mapped back to its source.
    seen: Dict[str, Tuple[str, int]] = {}
    for c in generated:
        for start, text in units(c.read_text()):
            seen.setdefault(text, (c.name, start))
    parts: List[List[str]] = [[SPDX], [SPDX]]
    where: List[List[Tuple[str, int]]] = [[('', 0)], [('', 0)]]
    for text, (name, start) in seen.items():
        i = 0 if len(parts[0]) <= len(parts[1]) else 1
        for k, line in enumerate(text.splitlines()):
            parts[i].append(line)
            where[i].append((name, start + k))
        parts[i].append('')
        where[i].append((name, 0))
    files = []
    for i, lines in enumerate(parts):
        f = tmp_path / f'units{i}.c'
        f.write_text('\n'.join(lines) + '\n')
        files.append(f)

    def checkpatch(f: Path) -> str:
        return subprocess.run(['perl', str(kdir / 'scripts' / 'checkpatch.pl'), '--no-tree',
                               '--no-summary', '--terse', '-f', str(f)],
                              capture_output=True, text=True).stdout

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(checkpatch, files))
    complaints = []
    for i, out in enumerate(reports):
        for ln in out.splitlines():
            if 'ERROR' not in ln and 'WARNING' not in ln:
                continue
            m = re.match(rf'{re.escape(str(files[i]))}:(\d+): (.*)', ln)
            if m and int(m.group(1)) <= len(where[i]):
                name, no = where[i][int(m.group(1)) - 1]
                complaints.append(f'{name}:{no}: {m.group(2)}')
            else:
                complaints.append(ln)
    assert not complaints, '\n'.join(complaints)
