"""The package's shape (issue 23): no import cycles, no module over 400 lines, no executor or job
module that knows a step's class (the batch hook, `Pipeline.prepare`, is how the engine batches a
step's model calls). The lists of known exceptions are empty and stay so."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = "product_augment"
MAX_LINES = 400

# none left: the lists stay empty (a new cycle, a new long module or a step import from the engine fails)
KNOWN_CYCLES: list[set[str]] = []
KNOWN_LONG: set[str] = set()
KNOWN_STEP_IMPORTS: set[tuple[str, str]] = set()

def _modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / PKG).rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package that `name` imports, at its top or inside a function."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = 0
    for root, deps in graph.items():
        if root in index:
            continue
        work = [(root, iter(sorted(deps)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(comp)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_cycles_but_the_known_ones():
    graph = _graph()
    assert f"{PKG}.presets.loader" in graph and f"{PKG}.steps.registry" in graph[f"{PKG}.presets.loader"]
    new = [sorted(c) for c in _cycles(graph) if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, f"import cycles: {new}"


def test_no_module_over_400_lines_but_data_building_and_model_code():
    long = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()
            if not name.startswith((f"{PKG}.data.", f"{PKG}.models."))}
    over = {n: k for n, k in long.items() if k > MAX_LINES and n not in KNOWN_LONG}
    assert not over, f"modules over {MAX_LINES} lines: {over}"


def test_no_executor_or_job_module_imports_a_step():
    graph = _graph()
    engine = [n for n in graph if n.startswith((f"{PKG}.executors", f"{PKG}.jobs"))]
    found = {(n, m) for n in engine for m in graph[n] if m.startswith(f"{PKG}.steps")}
    assert found <= KNOWN_STEP_IMPORTS, f"engine modules importing steps: {sorted(found - KNOWN_STEP_IMPORTS)}"
