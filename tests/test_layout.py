"""The package's layout rules, checked on the source: no import cycles, and the demo server
stays an add-on that only the CLI reaches.

Every import counts - at module level, inside functions, under TYPE_CHECKING - because a
back-import hidden in any of those still ties the modules together for a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import loadgen

ROOT = Path(loadgen.__file__).resolve().parent
DEMO_CALLERS = ("loadgen.cli", "loadgen.commands")  # the only doors to loadgen.demo


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def resolve(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The loadgen modules one import statement reaches."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        return {n for n in names if n in MODULES}
    if node.level:  # relative: from the importer's package, up level-1 more
        package = importer.split(".")
        if MODULES[importer].name != "__init__.py":
            package = package[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    out = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in MODULES:
            out.add(sub)  # from loadgen.x import y, y a module
        elif base in MODULES:
            out.add(base)  # from loadgen.x import name
    return out


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                deps |= resolve(name, node)
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                scc = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    scc.append(top)
                    if top == node:
                        break
                if len(scc) > 1:
                    found.append(sorted(scc))
    return found


def test_the_resolver_sees_every_kind_of_import():
    graph = import_graph()
    assert "loadgen.net.ws.session" in graph["loadgen.net.ws.client"]  # from-import of a module
    assert "loadgen.net.ws" in graph["loadgen.scripting.vu"]  # a package's __init__
    assert "loadgen.metrics.model" in graph["loadgen.net.client"]  # from-import of names


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_only_the_cli_imports_the_demo():
    bad = sorted(
        f"{name} imports {dep}"
        for name, deps in import_graph().items()
        if not (name == "loadgen.demo" or name.startswith("loadgen.demo."))
        and not any(name == d or name.startswith(d + ".") for d in DEMO_CALLERS)
        for dep in deps if dep == "loadgen.demo" or dep.startswith("loadgen.demo."))
    assert not bad, "loadgen.demo is reached from outside the CLI:\n" + "\n".join(bad)


# (importer package, packages it must not import): the network layer records through a Meter
# and knows nothing above it; the tracker gets its caller from callables; a VU sees its
# scenario through scripting.scope's Protocol.
LAYERS = (
    ("loadgen.net", ("loadgen.scripting", "loadgen.execution", "loadgen.messaging")),
    ("loadgen.messaging", ("loadgen.scripting", "loadgen.execution")),
    ("loadgen.scripting", ("loadgen.execution",)),
)


def test_lower_layers_do_not_import_upper_ones():
    def inside(name: str, package: str) -> bool:
        return name == package or name.startswith(package + ".")

    bad = sorted(
        f"{name} imports {dep}"
        for name, deps in import_graph().items()
        for layer, forbidden in LAYERS if inside(name, layer)
        for dep in deps if any(inside(dep, f) for f in forbidden))
    assert not bad, "layering broken:\n" + "\n".join(bad)
