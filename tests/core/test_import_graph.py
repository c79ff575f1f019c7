"""The house's import graph: no circles, and no unexplained import inside a function.

Every .py under vae_core/, ui/, pages/, deploy/, bench/ and app.py is parsed with `ast` (never
imported). Every import counts, wherever it sits: at module level, inside a function, under
`if TYPE_CHECKING:`. Relative imports are resolved, and `from pkg import name` is an edge to
`pkg.name` when that is a module, else to `pkg` itself (its `__init__`). Importing `a.b` is not
counted as an edge to `a`: a package's own `__init__` importing its modules would otherwise make
every module of it a circle.

Both checks are parametrized by top-level part of the house, so each part answers for itself.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vae_core", "ui", "pages", "deploy", "bench")
# part of the house -> the top-level names its modules start with
PARTS = {"vae_core": ("vae_core",), "ui": ("ui", "pages", "app"), "deploy": ("deploy",),
         "bench": ("bench",)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    """First-party module name -> file."""
    files = [ROOT / "app.py"]
    for pkg in PACKAGES:
        files += sorted((ROOT / pkg).rglob("*.py"))
    return {_module_name(p): p for p in files if "__pycache__" not in p.parts}


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _first_party(name: str, modules: set[str]) -> str | None:
    """`name` or its longest prefix that is a first-party module, else None (third party)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imported_modules(module: str, path: Path, modules: set[str]) -> set[str]:
    """The first-party modules `module` imports anywhere in its file."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module, path).split(".") if module else []
                base = base[:len(base) - (node.level - 1)]
                if node.module:
                    base.append(node.module)
                target = ".".join(base)
            else:
                target = node.module or ""
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target
                       for a in node.names]
        else:
            continue
        out.update(t for name in targets if (t := _first_party(name, modules)) and t != module)
    return out


def import_graph() -> dict[str, set[str]]:
    files = source_files()
    names = set(files)
    return {m: imported_modules(m, p, names) for m, p in files.items()}


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components with more than one module (self-imports are dropped above)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _shortest_cycle(graph: dict[str, set[str]], start: str, comp: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside one component (breadth first)."""
    came: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(came[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in came:
                    came[w] = v
                    nxt.append(w)
        frontier = nxt
    return []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest circle through each module that sits on one, rotations dropped."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for comp in _strongly_connected(graph):
        for start in comp:
            cyc = _shortest_cycle(graph, start, set(comp))
            ring = cyc[:-1]
            key = min(tuple(ring[i:] + ring[:i]) for i in range(len(ring)))
            if key not in seen:
                seen.add(key)
                out.append(cyc)
    return out


def _in_part(module: str, part: str) -> bool:
    return module.split(".")[0] in PARTS[part]


@pytest.mark.parametrize("part", sorted(PARTS))
def test_no_import_circles(part: str) -> None:
    graph = import_graph()
    assert len([m for m in graph if _in_part(m, part)]) >= 2  # the walk found the part
    found = [c for c in cycles(graph) if any(_in_part(m, part) for m in c)]
    for cyc in found:
        print(" -> ".join(cyc))
    assert found == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def _comment_lines(source: str) -> set[int]:
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            lines.add(tok.start[0])
    return lines


def function_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements anywhere inside a function body (nested blocks included)."""
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for stmt in fn.body:
                for node in ast.walk(stmt):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        yield node


def uncommented_function_imports(path: Path) -> list[int]:
    """Lines of imports inside functions with no comment on them and no comment line above.

    A block of imports (consecutive, or split by blank lines into sections) shares the comment
    line above the block."""
    source = path.read_text()
    lines = source.splitlines()
    comments = _comment_lines(source)
    nodes = list(function_imports(ast.parse(source)))
    taken = {n for node in nodes for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
    bad = []
    for node in nodes:
        if comments & set(range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            continue
        above = node.lineno - 1
        while above > 0 and (above in taken or not lines[above - 1].strip()):
            above -= 1
        if not (above > 0 and lines[above - 1].lstrip().startswith("#")):
            bad.append(node.lineno)
    return sorted(set(bad))


@pytest.mark.parametrize("part", sorted(PARTS))
def test_imports_inside_functions_say_why(part: str) -> None:
    files = {m: p for m, p in source_files().items() if _in_part(m, part)}
    assert files
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in files.values()
                 for line in uncommented_function_imports(p)]
    assert offenders == [], "imports inside functions without a comment saying why:\n" + \
        "\n".join(offenders)


def test_the_graph_resolves_relative_and_submodule_imports(tmp_path: Path) -> None:
    """The walker itself: a relative `from . import mod`, `from .mod import name`, a
    function-level and a TYPE_CHECKING import each make an edge; third-party ones do not."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("import os\nfrom . import b\n\ndef f():\n    from .c import g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from pkg.a import f\n")
    (pkg / "c.py").write_text("def g():\n    import torch\n\n\ndef h():\n"
                              "    # deferred: both are slow\n    import torch\n\n"
                              "    import onnx\n    x = 1  # a comment on code\n"
                              "    import numpy\n")
    files = {"pkg": pkg / "__init__.py", "pkg.a": pkg / "a.py", "pkg.b": pkg / "b.py",
             "pkg.c": pkg / "c.py"}
    names = set(files)
    graph = {m: imported_modules(m, p, names) for m, p in files.items()}
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b", "pkg.c"}, "pkg.b": {"pkg.a"},
                     "pkg.c": set()}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
    assert uncommented_function_imports(pkg / "a.py") == [5]
    assert uncommented_function_imports(pkg / "c.py") == [2, 11]
