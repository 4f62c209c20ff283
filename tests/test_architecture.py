"""The package's shape: no import cycles, no edge imported from below, rules written once.

Imports are read from the source (every ``import`` statement, also those inside functions,
which run later but still tie the modules together), so the check needs no import to run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "huatu"
#: The edges: they turn people's and clients' input into requests, and results into answers
#: (``huatu.security`` is the HTTP server's exposure middleware; ``huatu.bench`` measures the
#: whole app).
EDGES = ("huatu.ui", "huatu.api", "huatu.cli", "huatu.server", "huatu.security", "huatu.bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str) -> dict[str, bool]:
    """Each huatu module ``name`` imports → whether only for type checking."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, bool] = {}

    def add(target: str, typing_only: bool) -> None:
        if target in MODULES and target != name:
            found[target] = found.get(target, True) and typing_only

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, typing_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in MODULES else base, typing_only)
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(tree, False)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def is_edge(name: str) -> bool:
    return any(name == edge or name.startswith(edge + ".") for edge in EDGES)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_import_reader_sees_function_level_and_relative_imports():
    assert "huatu.backends.local" in GRAPH["huatu.service"] or any(
        "huatu.backends" in target for target in GRAPH["huatu.service"]
    )
    assert GRAPH["huatu.server"]  # imports inside build_app are seen
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    runtime = {
        name: {target for target, typing_only in targets.items() if not typing_only}
        for name, targets in GRAPH.items()
    }
    assert cycles(runtime) == []


def test_no_import_cycles_even_for_type_checking():
    assert cycles({name: set(targets) for name, targets in GRAPH.items()}) == []


def test_no_core_module_imports_an_edge():
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if not is_edge(name)
        for target in targets
        if is_edge(target)
    )
    assert wrong == []


def test_the_readme_code_map_lists_every_module_once():
    """The README's code map has one line per module (``- `huatu/…/x.py` — what it does``),
    no more, no less."""
    import re

    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Code map", 1)[1].split("\n#", 1)[0]
    listed = re.findall(r"^- `(huatu/[\w/]+\.py)` — \S", section, flags=re.MULTILINE)
    actual = sorted(
        path.relative_to(PACKAGE.parent).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name != "__main__.py"
    )
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(listed) == actual


def test_modules_stay_small_or_say_why():
    """Aim: under ~400 lines; a bigger module says why in its docstring ("Why this module is
    long: …")."""
    long = [
        name
        for name, path in MODULES.items()
        if len(path.read_text(encoding="utf-8").splitlines()) > 400
        and "Why this module is long" not in (ast.get_docstring(ast.parse(path.read_text())) or "")
    ]
    assert long == []
