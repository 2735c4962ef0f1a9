"""The layering of lib/userscore (drawn in docs/architecture.md).

- No import cycles: every module's imports (module level, inside functions and under TYPE_CHECKING
  alike) form a directed acyclic graph.
- Packages (and top-level modules) sit in LAYERS and import only from lower layers; packages of one layer
  are independent of each other. A new package must be placed in a layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"

# Bottom to top. Each name is a subpackage or a top-level module of userscore.
LAYERS: list[tuple[str, ...]] = [
    ("keys", "errors", "pipeline"),  # names, errors and the stage order every layer shares; they import nothing
    ("config",),  # YAML -> frozen typed objects; no pyspark
    (
        "hashing",
        "filters",
        "refunds",
        "logs",
        "landing",
        "table_setup",
        "session",
        "charts",
        "graph",
    ),  # building blocks
    ("catalog",),  # every Delta read and write
    ("persons",),  # keying by person (identity.resolve): user ids -> the person ids of an identity run
    ("ingest", "generate", "privacy", "tags", "models", "identity", "social"),  # stages over silver / features
    ("btyd", "uplift"),  # BTYD models (reuse models' tracking); uplift: who a contact changes
    ("features",),  # feature snapshots (the customer-base family fits BG/NBD at each snapshot)
    ("scoring",),  # all champions, tags and audiences in one pass
    ("monitoring", "analysis", "serving", "campaigns"),  # watch, analyse, serve look-ups, measure campaigns
    ("stream",),  # near-real-time: ingest, rescore and republish the look-up snapshot as files land
    ("runner", "notebook"),  # run a job / a notebook: session, config, catalog
    ("cli",),
    ("jobs",),  # thin entry points, one per stage
]


def _modules(lib: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under lib/userscore (a package is its __init__.py)."""
    out = {}
    for path in sorted((lib / "userscore").rglob("*.py")):
        parts = path.relative_to(lib).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph(lib: Path = LIB) -> dict[str, set[str]]:
    """Module -> the userscore modules it imports anywhere in its source.

    ``from p import x`` counts as an import of module ``p.x`` when that is a module, else of ``p``.
    Importing ``p.m`` also runs ``p/__init__.py``; that implicit edge is left out, or every package
    whose __init__ re-exports its modules would count as a cycle.
    """
    modules = _modules(lib)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        deps.add(f"{base}.{alias.name}")
                    elif base in modules:
                        deps.add(base)
        graph[name] = deps - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_find_cycle_reports_the_cycle_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_import_graph_reads_every_kind_of_import(tmp_path):
    pkg = tmp_path / "userscore" / "p"
    pkg.mkdir(parents=True)
    (tmp_path / "userscore" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from userscore.p.a import A\n")
    (pkg / "a.py").write_text("A = 1\ndef f():\n    from . import b\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import userscore.p.c\n")
    (pkg / "c.py").write_text("from userscore.p import a\nfrom .a import A\nimport os\n")
    assert import_graph(tmp_path) == {
        "userscore": set(),
        "userscore.p": {"userscore.p.a"},
        "userscore.p.a": {"userscore.p.b"},
        "userscore.p.b": {"userscore.p.c"},
        "userscore.p.c": {"userscore.p.a"},
    }
    assert find_cycle(import_graph(tmp_path)) == ["userscore.p.a", "userscore.p.b", "userscore.p.c", "userscore.p.a"]


def test_no_import_cycle_in_userscore():
    graph = import_graph()
    assert "userscore.monitoring.pipeline" in graph["userscore.monitoring"]  # the graph sees the real package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _unit(module: str) -> str:
    """The package or top-level module of userscore that ``module`` belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_violations(graph: dict[str, set[str]], layers: list[tuple[str, ...]]) -> list[str]:
    """Imports of a package from its own layer or a higher one, as 'a.m -> b.n (layer i imports layer j)'."""
    rank = {name: i for i, layer in enumerate(layers) for name in layer}
    out = []
    for module, deps in sorted(graph.items()):
        here = _unit(module)
        for dep in sorted(deps):
            there = _unit(dep)
            if here and there and here != there and rank[there] >= rank[here]:
                out.append(f"{module} -> {dep} (layer {rank[here]} imports layer {rank[there]})")
    return out


def test_layer_violations_names_upward_and_sideways_imports():
    graph = {
        "userscore.b.x": {"userscore.a.y", "userscore.c.z", "userscore.d"},
        "userscore.a.y": set(),
        "userscore.c.z": set(),
        "userscore.d": set(),
    }
    layers = [("a",), ("b", "d"), ("c",)]
    assert layer_violations(graph, layers) == [
        "userscore.b.x -> userscore.c.z (layer 1 imports layer 2)",
        "userscore.b.x -> userscore.d (layer 1 imports layer 1)",
    ]


def test_every_package_has_a_layer():
    placed = [name for layer in LAYERS for name in layer]
    assert len(placed) == len(set(placed))
    found = {_unit(m) for m in import_graph()} - {""}
    assert sorted(found - set(placed)) == [], "place these in LAYERS (and docs/architecture.md)"


@pytest.mark.parametrize("package", [n for layer in LAYERS for n in layer])
def test_package_imports_only_lower_layers(package):
    graph = {m: deps for m, deps in import_graph().items() if _unit(m) == package}
    assert layer_violations(graph, LAYERS) == []
