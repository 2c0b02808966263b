"""The shape of src/sprout, read from its source (ast, nothing imported): no tracer decorator that
records a response (a task's or a route's result may hold an app's configuration or secrets), no
import circle between its modules, no module over 450 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"
PACKAGE = SRC / "sprout"
MAX_LINES = 450
CAPTURES = {"capture_method", "capture_lambda_handler"}


def modules() -> dict[str, Path]:
    """Every module of src/sprout by its dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


# ---- tracer decorators ------------------------------------------------------------------------------


def response_captures(source: str) -> Iterator[tuple[int, str]]:
    """(line, what) for every use of ``capture_method`` / ``capture_lambda_handler`` that does not say
    ``capture_response=False`` in so many words: bare decorators (Powertools then records the
    response), ``capture_response=True`` or a value only known at run time."""
    tree = ast.parse(source)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in CAPTURES):
            continue
        if id(node) not in called:
            yield node.lineno, f"{node.attr} without arguments"
            continue
        call = next(c for c in ast.walk(tree) if isinstance(c, ast.Call) and c.func is node)
        said = [k.value for k in call.keywords if k.arg == "capture_response"]
        if not (said and isinstance(said[0], ast.Constant) and said[0].value is False):
            yield node.lineno, f"{node.attr} without capture_response=False"


def test_given_sample_decorators_then_only_capture_response_false_passes():
    """GIVEN decorators written every way WHEN read THEN all but ``capture_response=False`` are named
    (the check below can fail)."""
    source = (
        "@tracer.capture_method\ndef a(): ...\n"
        "@tracer.capture_method()\ndef b(): ...\n"
        "@tracer.capture_lambda_handler(capture_response=True)\ndef c(): ...\n"
        "@tracer.capture_method(capture_response=flag)\ndef d(): ...\n"
        "@tracer.capture_lambda_handler(capture_response=False)\ndef e(): ...\n"
        "f = tracer.capture_method(g)\n"
    )
    assert [line for line, _ in response_captures(source)] == [1, 3, 5, 7, 11]


def test_given_src_sprout_then_no_tracer_decorator_captures_a_response():
    """GIVEN every module of src/sprout WHEN its tracer decorators are read THEN each says
    ``capture_response=False`` (X-Ray would otherwise store the result: configuration, secrets)."""
    offenders = [f"{path.relative_to(SRC)}:{line}: {what}" for path in modules().values()
                 for line, what in response_captures(path.read_text())]
    assert offenders == []


# ---- import circles -------------------------------------------------------------------------------


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import run at some time (module level or in a function); not those under
    ``if TYPE_CHECKING:``, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            for inner in node.orelse:
                yield from _imports(ast.Module(body=[inner], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _imports(node)


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the src/sprout modules it imports. ``from package import name`` is an edge to the
    submodule when ``name`` is one, else to the package."""
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in known}
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    edges.add(f"{base}.{alias.name}")
                elif base in known:
                    edges.add(base)
        edges.discard(name)
        graph[name] = edges
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle (``a → b → … → a``) per strongly connected component of more than one module
    (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_circle_through(graph, set(c), c[0]) for c in components]


def _circle_through(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """The shortest path from ``start`` back to itself inside its component (breadth first)."""
    paths = {nxt: [start, nxt] for nxt in sorted(graph[start] & component)}
    frontier = list(paths)
    while start not in paths:
        step = []
        for node in frontier:
            for nxt in sorted(graph[node] & component):
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    step.append(nxt)
        frontier = step
    return paths[start]


def test_given_a_sample_graph_then_its_circle_is_named():
    """GIVEN a → b → c → a beside d → a WHEN searched THEN the one circle is named, from its first module."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_given_sample_imports_then_relative_lazy_and_submodule_imports_are_edges(tmp_path):
    """GIVEN a package whose modules import each other every way WHEN the graph is built THEN
    relative, in-function and ``from package import submodule`` imports are edges, and an import
    under ``if TYPE_CHECKING:`` is not."""
    files = {
        "p": "from p import b\n",
        "p.a": "from .b import x\nif TYPE_CHECKING:\n    from p.c import y\n",
        "p.b": "def f():\n    import p.c\n",
        "p.c": "from . import a\n",
    }
    known = {}
    for name, text in files.items():
        path = tmp_path / (name.replace(".", "/") + ("/__init__.py" if name == "p" else ".py"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        known[name] = path
    assert import_graph(known) == {"p": {"p.b"}, "p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}}


def test_given_src_sprout_then_no_module_imports_itself_through_others():
    """GIVEN every module of src/sprout WHEN its imports are followed (in functions too) THEN no
    circle comes back to it: each layer only imports the ones below (domain ← services ← handlers)."""
    assert circles(import_graph(modules())) == []


# ---- module size -----------------------------------------------------------------------------------


def test_given_src_sprout_then_no_module_is_over_450_lines():
    """GIVEN every module of src/sprout WHEN its lines are counted THEN none is over 450 (one job
    per module; split by job when one grows past it)."""
    offenders = {str(path.relative_to(SRC)): n for path in modules().values()
                 if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert offenders == {}


@pytest.mark.parametrize("name", ["sprout", "sprout.handlers.tasks.common", "sprout.console.server"])
def test_given_src_sprout_then_its_modules_are_found(name):
    """GIVEN the walk of src/sprout THEN packages and modules are found by their dotted names (the
    checks above do not pass over an empty list)."""
    assert name in modules()
