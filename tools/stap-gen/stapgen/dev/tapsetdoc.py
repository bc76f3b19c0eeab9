# SPDX-License-Identifier: GPL-2.0
"""Write Documentation/trace/stap-gen/tapsets.rst from the kernel-doc
comments of the kit's tapsets (kernel-templates/*/tapset/).

    python -m stapgen.dev.tapsetdoc            rewrite the page
    python -m stapgen.dev.tapsetdoc --check    exit 1 if it is not current

Each documented function, probe alias or global is one entry: its signature (the
line after the comment), its summary, its parameters and its description.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from .. import paths

PAGE = Path('Documentation') / 'trace' / 'stap-gen' / 'tapsets.rst'

_COMMENT = re.compile(r'^/\*\*\n(?P<body>(?: \*.*\n)*?) \*/\n(?P<decl>[^\n]*)', re.M)
_HEAD = re.compile(r'(?:sfunction|probe|global)\s+(?P<name>\S+)\s+-\s+(?P<summary>.*)')


def entries(text: str) -> Iterator[Tuple[str, str, List[Tuple[str, str]], str]]:
    """(signature, summary, [(param, text)], description) of each
    kernel-doc comment of a tapset file."""
    for m in _COMMENT.finditer(text):
        lines = [ln[3:] if ln.startswith(' * ') else ln[2:] for ln in
                 m.group('body').splitlines()]
        head = _HEAD.fullmatch(lines[0].strip()) if lines else None
        if head is None:
            continue
        params: List[Tuple[str, str]] = []
        desc: List[str] = []
        for ln in lines[1:]:
            p = re.match(r'@(\w+):\s*(.*)', ln)
            if p and not desc:
                params.append((p.group(1), p.group(2)))
            elif params and not desc and ln.startswith(' ') and ln.strip():
                params[-1] = (params[-1][0], f'{params[-1][1]} {ln.strip()}')
            elif ln.startswith('Description:'):
                desc.append(ln[len('Description:'):].strip())
            elif desc or ln.strip():
                desc.append(ln.strip())
        decl = m.group('decl').split('%{')[0].rstrip(' {=').strip()
        if decl.startswith('global '):
            decl = decl.split('=')[0].strip()      # not its initial value
        yield decl, head.group('summary'), params, ' '.join(x for x in desc if x).strip()


def _text(s: str) -> str:
    """s as plain reST text: nothing in it is markup."""
    s = re.sub(r'([\\*`|])', r'\\\1', s)
    return re.sub(r'(\w)_(?!\w)', r'\1\\_', s)


def render(top: Path) -> str:
    out = ['.. SPDX-License-Identifier: GPL-2.0',
           '.. Made by ``python -m stapgen.dev.tapsetdoc`` from the tapsets\' comments;',
           '.. edit those, not this page.', '',
           '=================', 'Tapset reference', '=================', '',
           'The functions and probe aliases of the kit\'s tapsets',
           '(``kernel-templates/*/tapset/``), as their comments describe them.',
           'The syscall family made from a tree\'s syscall table is listed by',
           '``stap-gen -r KDIR -L \'syscall.*\'``; see :doc:`library`.', '']
    for f in sorted((top / 'kernel-templates').glob('*/tapset/*.stp*')):
        found = list(entries(f.read_text()))
        if not found:
            continue
        title = str(f.relative_to(top / 'kernel-templates'))
        out += [title, '=' * len(title), '']
        for decl, summary, params, desc in found:
            summary = summary if summary.endswith('.') else f'{summary}.'
            out += [f'``{decl}``', f'    {_text(summary)}', '']
            for name, text in params:
                out += [f'    ``{name}``: {_text(text)}', '']
            if desc:
                out += [f'    {_text(desc)}', '']
    return '\n'.join(out).rstrip('\n') + '\n'


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog='python -m stapgen.dev.tapsetdoc',
                                 description=__doc__.split('\n\n')[0])
    ap.add_argument('--check', action='store_true',
                    help='exit 1 if the page is not what the tapsets say')
    a = ap.parse_args(argv)
    top = paths.TOP_DIR
    text = render(top)
    page = top / PAGE
    if a.check:
        if not page.exists() or page.read_text() != text:
            print(f'{PAGE} is not current: run python -m stapgen.dev.tapsetdoc',
                  file=sys.stderr)
            return 1
        return 0
    tmp = page.with_suffix('.tmp')
    tmp.write_text(text)
    tmp.replace(page)
    return 0


if __name__ == '__main__':
    sys.exit(main())
