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


def top_level_imports(name: str) -> tuple[set[str], set[str]]:
    """(digestbot modules, other top-level packages) a module imports when it is imported:
    imports inside functions (loaded only when used) do not count."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    ours, theirs = set(), set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
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


GRAPH = {name: top_level_imports(name)[0] for name in MODULES}


def test_the_core_imports_nothing_from_the_edges():
    wrong = {name: sorted(GRAPH[name] - CORE) for name in CORE if GRAPH[name] - CORE}
    assert wrong == {}, f"core modules importing edge modules: {wrong}"


def test_the_core_imports_no_library_that_does_io():
    wrong = {}
    for name in CORE:
        found = {
            t for t in top_level_imports(name)[1] if t in IO_LIBRARIES or t.split(".")[0] in IO_LIBRARIES
        }
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
