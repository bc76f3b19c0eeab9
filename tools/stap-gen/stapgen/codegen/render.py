# SPDX-License-Identifier: GPL-2.0
"""Render the module's C from kernel-templates/ with jinja2.

A tree's template set is a directory named after its VERSION.PATCHLEVEL
(kernel-templates/6.12/); files missing there come from common/.  The
output carries #line directives so that a compiler error in generated C
names the template file and line that produced it: the loader tags every
template line with an invisible marker, and a pass over the rendered text
turns the markers into #line directives wherever the origin jumps.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import jinja2

from ..diag import error
from .translate import c_string

_MARK = '\x01L{}:{}\x02'
_MARK_RE = re.compile('\x01L(\\d+):(\\d+)\x02')
_LINE_RE = re.compile(r'^#line (\d+) "((?:[^"\\]|\\.)*)"$')


class MarkingLoader(jinja2.FileSystemLoader):
    """Prefix each template line with a marker naming its file and line."""

    def __init__(self, searchpath: List[Path]) -> None:
        super().__init__([str(p) for p in searchpath])
        self.files: List[str] = []
        # #line names a template relative to the directory holding
        # kernel-templates/ (the kit, or the kernel tree it is installed in)
        self.base = searchpath[-1].resolve().parent.parent if searchpath else None

    def _shown(self, filename: str) -> str:
        path = Path(filename).resolve()
        if self.base is not None and path.is_relative_to(self.base):
            return str(path.relative_to(self.base))
        return filename

    def get_source(self, environment: jinja2.Environment,  # type: ignore[override]
                   template: str) -> Tuple[str, Optional[str], Optional[Callable[[], bool]]]:
        source, filename, uptodate = super().get_source(environment, template)
        assert filename is not None
        fid = len(self.files)
        self.files.append(self._shown(filename))
        out = []
        in_tag = False
        for i, line in enumerate(source.split('\n'), 1):
            stripped = line.lstrip()
            if not in_tag and not stripped.startswith(('{#', '{%-', '{{-')):
                ws = line[:len(line) - len(stripped)]
                line = ws + _MARK.format(fid, i) + stripped
            in_tag = _opens_tag(line, in_tag)
            out.append(line)
        return '\n'.join(out), filename, uptodate


def _opens_tag(line: str, in_tag: bool) -> bool:
    """Is a jinja tag or comment still open at the end of this line?"""
    i = 0
    while i < len(line):
        two = line[i:i + 2]
        if not in_tag and two in ('{%', '{{', '{#'):
            in_tag, i = True, i + 2
        elif in_tag and two in ('%}', '}}', '#}'):
            in_tag, i = False, i + 2
        else:
            i += 1
    return in_tag


def _add_line_directives(text: str, files: List[str]) -> str:
    out: List[str] = []
    expect: Optional[Tuple[str, int]] = None   # (file, line) of the next line
    lines = text.split('\n')
    first = _MARK_RE.sub('', lines[0])
    if first.startswith('// SPDX-License-Identifier:'):
        # the licence tag stays the file's first line, as checkpatch wants
        out.append(first)
        lines = lines[1:]
    for raw in lines:
        marks = list(_MARK_RE.finditer(raw))
        line = _MARK_RE.sub('', raw)
        directive = _LINE_RE.match(line)
        if directive:
            out.append(line)
            expect = (directive.group(2), int(directive.group(1)))
            continue
        if marks:
            m = marks[-1]
            origin = (files[int(m.group(1))], int(m.group(2)))
            if expect != origin:
                out.append(f'#line {origin[1]} "{c_string(origin[0])}"')
            out.append(line)
            expect = (origin[0], origin[1] + 1)
            continue
        out.append(line)
        if expect is not None and expect[0].endswith('.j2'):
            expect = None       # text the template inserted: origin unknown
        elif expect is not None:
            expect = (expect[0], expect[1] + 1)
    return '\n'.join(out)


def environment(template_dirs: List[Path]) -> Tuple[jinja2.Environment, MarkingLoader]:
    loader = MarkingLoader(template_dirs)
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, keep_trailing_newline=True,
                             autoescape=False)
    env.filters['cstring'] = c_string
    return env, loader


def render(template_dirs: List[Path], name: str, context: Dict[str, Any],
           line_directives: bool = True) -> str:
    env, loader = environment(template_dirs)
    try:
        text = env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as e:
        raise error(f'{e.filename}:{e.lineno}: template syntax error: {e.message}') from None
    except jinja2.TemplateError as e:
        where = _template_frame(e)
        raise error(f'{where}template {name} failed to render: {e}',
                    hint='a template and the generator disagree; fix the template') from None
    if line_directives:
        return _add_line_directives(text, loader.files)
    return _MARK_RE.sub('', text)


def _template_frame(e: BaseException) -> str:
    """file:line of the innermost template frame in e's traceback."""
    tb = e.__traceback__
    where = ''
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname.endswith('.j2'):
            where = f'{fname}:{tb.tb_lineno}: '
        tb = tb.tb_next
    return where
