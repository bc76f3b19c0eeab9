# SPDX-License-Identifier: GPL-2.0
"""Documentation/trace/stap-gen builds without a warning, its cross
references and toctree point at pages that exist, and the example scripts
it includes are corpus scripts (which test_corpus runs in QEMU on both
trees and compares with their expected output)."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import List, Tuple

import pytest
from docutils import nodes
from docutils.core import publish_string
from docutils.parsers.rst import Directive, directives, roles

from conftest import TOP

DOCS = TOP / 'Documentation' / 'trace' / 'stap-gen'
SELFTESTS = TOP / 'tools' / 'stap-gen' / 'selftests'
PAGES = sorted(DOCS.glob('*.rst'))


class _Toctree(Directive):
    """Sphinx's toctree, checked: every entry is a page of this directory."""
    has_content = True
    option_spec = {'maxdepth': directives.positive_int}

    def run(self) -> List[nodes.Node]:
        missing = [e for e in self.content if e.strip() and
                   not (DOCS / f'{e.strip()}.rst').exists()]
        if missing:
            return [self.state.document.reporter.error(
                f'toctree entries without a page: {missing}', line=self.lineno)]
        return []


def _doc_role(name, rawtext, text, lineno, inliner,  # type: ignore[no-untyped-def]
              options=None, content=None):
    """Sphinx's :doc: role, checked: the page exists."""
    if not (DOCS / f'{text}.rst').exists():
        msg = inliner.reporter.error(f':doc:`{text}` names no page', line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.reference(rawtext, text, refuri=f'{text}.html')], []


directives.register_directive('toctree', _Toctree)
roles.register_local_role('doc', _doc_role)


def test_every_page_is_listed() -> None:
    index = (DOCS / 'index.rst').read_text()
    for page in PAGES:
        if page.stem != 'index':
            assert re.search(rf'^\s+{page.stem}$', index, re.M), page.name


@pytest.mark.parametrize('page', PAGES, ids=[p.name for p in PAGES])
def test_page_builds_without_warnings(page: Path) -> None:
    warnings = io.StringIO()
    html = publish_string(page.read_text(), source_path=str(page), writer='html5',
                          settings_overrides={'report_level': 2, 'halt_level': 5,
                                              'warning_stream': warnings,
                                              'output_encoding': 'unicode'})
    assert warnings.getvalue() == '', warnings.getvalue()
    assert '<h1' in html


def test_included_examples_are_corpus_scripts() -> None:
    included = []
    for page in PAGES:
        for m in re.finditer(r'^\.\. include:: (\S+)$', page.read_text(), re.M):
            path = (page.parent / m.group(1)).resolve()
            assert path.exists(), f'{page.name}: {m.group(1)}'
            included.append(path)
    scripts = [p for p in included if p.suffix == '.stp']
    assert len(scripts) >= 4, 'the language reference shows complete examples'
    for script in scripts:
        assert script.parent == SELFTESTS.resolve(), script
        assert script.with_suffix('.out') in included, f'{script.name} without its output'


# -- every message the tool can print is in troubleshooting.rst --------------------

MESSAGE_CALLS = {'error', '_err', 'StapError', 'RunError', 'TreeError', 'Unavailable',
                 'Unsupported', 'KconfigError', 'InstallError', 'VMError', 'Diagnostic'}


def _fragments(node: ast.AST) -> List[str]:
    """The literal text pieces of a message expression."""
    out = []
    for x in ast.walk(node):
        if isinstance(x, ast.Constant) and isinstance(x.value, str):
            out.append(x.value)
    return out


def _python_messages() -> List[Tuple[str, str]]:
    found = []
    for path in sorted((TOP / 'tools' / 'stap-gen' / 'stapgen').rglob('*.py')):
        src = path.read_text()
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, 'id', getattr(node.func, 'attr', ''))
            if name in MESSAGE_CALLS and node.args:
                parts = _fragments(node.args[0])
            elif name in ('append', 'print') and node.args and \
                    re.match(r"f?['\"](WARNING|stap-gen: the)",
                             ast.get_source_segment(src, node.args[0]) or ''):
                parts = _fragments(node.args[0])
            else:
                continue
            found.append((f'{path.name}:{node.lineno}', max(parts, key=len, default='')))
    return found


def _kernel_messages() -> List[Tuple[str, str]]:
    found = []
    call = re.compile(r'\b(stp_error\(c,|pr_err\(|pr_warn\(|snprintf\(c->error_buf, '
                      r'sizeof\(c->error_buf\),)\s*((?:"(?:[^"\\]|\\.)*"\s*)+)')
    stream = re.compile(r'"((?:ERROR|WARNING): (?:[^"\\]|\\.)*)"')
    for path in sorted(p for p in (TOP / 'kernel-templates').rglob('*') if p.is_file()):
        text = path.read_text()
        for m in stream.finditer(text):
            parts = re.split(r'%[-#0-9.]*l*[a-z]|\\n', m.group(1))
            found.append((f'{path.name}:{text.count(chr(10), 0, m.start()) + 1}',
                          max(parts, key=len)))
        for m in call.finditer(text):
            literal = ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
            literal = re.sub(r'\\n$', '', literal)
            parts = re.split(r'%[-#0-9.]*l*[a-z]|\{\{.*?\}\}', literal)
            line = text.count('\n', 0, m.start()) + 1
            found.append((f'{path.name}:{line}', max(parts, key=len)))
    return found


def test_troubleshooting_lists_every_message() -> None:
    page = re.sub(r'\s+', ' ', (DOCS / 'troubleshooting.rst').read_text())
    messages = _python_messages() + _kernel_messages()
    assert len(messages) > 200
    missing = []
    for where, text in messages:
        key = re.sub(r'\s+', ' ', text.strip(' :;,\n'))[:40].strip()
        if len(key) >= 8 and key not in page:
            missing.append(f'{where}: {key!r}')
    assert not missing, 'not in troubleshooting.rst:\n' + '\n'.join(missing)


def test_tapset_reference_is_current() -> None:
    """tapsets.rst is what the tapsets' kernel-doc comments say (remake it
    with python -m stapgen.dev.tapsetdoc), and names every documented
    function of the common library."""
    from stapgen.dev import tapsetdoc
    page = (TOP / tapsetdoc.PAGE).read_text()
    assert page == tapsetdoc.render(TOP), 'run: python -m stapgen.dev.tapsetdoc'
    for name in ('ctime', 'task_execname', 'ansi_set_color', 'errno_str', 'syscall_any'):
        assert re.search(rf'^``(function|probe) {name}\b', page, re.M), name
