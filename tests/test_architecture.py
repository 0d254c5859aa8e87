"""The shape of the code, held: a pure core that imports nothing from the edges, and no import
cycles. Read from the source (ast), so a new module is checked as soon as it exists."""

from __future__ import annotations

import ast
from pathlib import Path

import digestbot

PACKAGE = Path(digestbot.__file__).parent

# The pure core (README "Architecture"): profiles, matching, ranking, rendering and the plain
# helpers they rest on. No database, network, mail, Slack or web.
CORE = {
    "digestbot",
    "digestbot.models",
    "digestbot.text",
    "digestbot.arxiv_ids",
    "digestbot.keys",
    "digestbot.matching",
    "digestbot.relevance",
    "digestbot.ratings",
    "digestbot.render",
    "digestbot.schedule",
    "digestbot.links",
    "digestbot.library",
}
# Libraries that do I/O: the core never imports them.
IO_LIBRARIES = {
    "sqlite3",
    "psycopg",
    "smtplib",
    "socket",
    "requests",
    "urllib.request",
    "http",
    "flask",
    "slack_sdk",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _import_nodes(tree: ast.Module, lazy: bool) -> list[ast.stmt]:
    """The import statements of a module: those that run when it is imported (at module level,
    under an `if` or `try`, in a class body), and with `lazy` those inside functions too."""
    found: list[ast.stmt] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            elif lazy or not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                todo.append(child)
    return found


def top_level_imports(name: str, lazy: bool = False) -> tuple[set[str], set[str]]:
    """(digestbot modules, other top-level packages) a module imports when it is imported, or
    with `lazy` at all (inside functions too)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours, theirs = set(), set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in _import_nodes(tree, lazy):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (ours if alias.name.startswith("digestbot") else theirs).add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("digestbot"):
                theirs.add(target)
                continue
            for alias in node.names:  # `from . import base` imports a module
                sub = f"{target}.{alias.name}"
                ours.add(sub if sub in MODULES else target)
    ours.discard(name)
    return {m for m in ours if m in MODULES}, theirs


GRAPH = {name: top_level_imports(name)[0] for name in MODULES}  # what importing a module runs


def test_the_core_imports_nothing_from_the_edges():
    """Not even lazily, inside a function."""
    wrong = {}
    for name in CORE:
        edges = top_level_imports(name, lazy=True)[0] - CORE
        if edges:
            wrong[name] = sorted(edges)
    assert wrong == {}, f"core modules importing edge modules: {wrong}"


def test_the_core_imports_no_library_that_does_io():
    wrong = {}
    for name in CORE:
        imported = top_level_imports(name, lazy=True)[1]
        found = {t for t in imported if t in IO_LIBRARIES or t.split(".")[0] in IO_LIBRARIES}
        if found:
            wrong[name] = sorted(found)
    assert wrong == {}


def test_no_import_cycles():
    """Depth-first search over the top-level imports: a back edge is a cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep] if dep in path else [name, dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_graph_reads_real_imports():
    """The checks above would pass on an empty graph: the reader must see known edges."""
    assert "digestbot.matching" in GRAPH["digestbot.render"]
    assert "digestbot.store.base" in GRAPH["digestbot.store.sqlite"]
    assert "digestbot.store" in GRAPH["digestbot.slack_commands"]
    assert "digestbot.slack_commands" not in GRAPH["digestbot.web_forms"]
    # Store(url) loads its PostgreSQL backend only when asked: a lazy import, not an import cycle.
    assert "digestbot.store.postgres" not in GRAPH["digestbot.store.base"]
    assert "digestbot.store.postgres" in top_level_imports("digestbot.store.base", lazy=True)[0]


# Modules that import scikit-learn (a second and more, with SciPy): loaded by the runs that rank
# by liked papers, inside the function that needs them, never when a program starts.
HEAVY = {"digestbot.relevance"}
# What each of digestbot's programs imports as it starts: the CLI (every command, and each
# worker process of a group), the web app and the Slack app.
ENTRY_POINTS = ("digestbot.__main__", "digestbot.cli", "digestbot.web", "digestbot.slack_app")


def test_no_program_loads_scikit_learn_as_it_starts():
    """`digestbot --help`, `status` or a rating click took 1.2 s more once a message helper
    lived in relevance.py and the CLI imported it at the top."""
    seen: set[str] = set()
    todo = list(ENTRY_POINTS)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(GRAPH[name])
    assert not seen & HEAVY, sorted(seen & HEAVY)
