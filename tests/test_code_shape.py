"""The package's shape: size limits, an acyclic import graph, and the web layer on top of the core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "asr_service"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 250
# modules that speak HTTP, Socket.IO or WSGI; nothing else may import them
WEB_LAYER = {
    "api",
    "app",
    "eio_pings",
    "multipart",
    "ops",
    "page",
    "realtime",
    "serve",
    "socketio_server",
    "transport_guard",
}
WEB_PACKAGES = ("flask", "flask_socketio", "werkzeug", "socketio", "engineio", "simple_websocket")


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.glob("*.py"))}


def _imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(package modules, top-level outside packages) that a module imports, at any depth."""
    own: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                own.add(node.module.split(".")[0])
            elif node.level == 1:
                own.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("asr_service."):
                own.add(node.module.split(".")[1])
            elif node.module:
                outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outside.update(alias.name.split(".")[0] for alias in node.names)
    return own, outside


_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _spans(tree: ast.Module, kinds: tuple[type[_Definition], ...]) -> list[tuple[str, int]]:
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, kinds)
    ]


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        p.name: n
        for p in PACKAGE.glob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


@pytest.mark.parametrize(
    ("kinds", "limit"),
    [((ast.FunctionDef, ast.AsyncFunctionDef), MAX_FUNCTION_LINES), ((ast.ClassDef,), MAX_CLASS_LINES)],
)
def test_no_function_or_class_is_over_its_limit(kinds: tuple[type[_Definition], ...], limit: int) -> None:
    long = [
        f"{module}.{name}: {lines}"
        for module, tree in _modules().items()
        for name, lines in _spans(tree, kinds)
        if lines > limit
    ]
    assert long == []


def test_the_core_never_imports_the_web_layer() -> None:
    offenders = []
    for module, tree in _modules().items():
        if module in WEB_LAYER:
            continue
        own, outside = _imports(tree)
        offenders += [f"{module} -> {m}" for m in sorted(own & WEB_LAYER)]
        offenders += [f"{module} -> {m}" for m in sorted(outside) if m in WEB_PACKAGES]
    assert offenders == []


def test_the_import_graph_is_acyclic() -> None:
    modules = _modules()
    graph = {name: _imports(tree)[0] & modules.keys() for name, tree in modules.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_checks_see_a_cycle_and_a_web_import() -> None:
    """The graph walk itself: a module pair importing each other is found."""
    a = ast.parse("from . import b\nfrom .api import bp\nimport flask\n")
    own, outside = _imports(a)
    assert own == {"b", "api"}
    assert "flask" in outside
