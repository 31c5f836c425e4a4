"""The project's import graph and the layer rules it must keep.

`python -m devtools.imports` prints the graph between layers and any rule broken;
tests/unit/test_layers.py fails on a broken rule. Every import counts, at module level
or inside a function (a lazy import is still a dependency); imports under
`if TYPE_CHECKING:` do not, since they never run.

The layers, lowest first (a layer may import the ones below it, never above):

    base      errors, settings, telemetry, keys, schema (validation), domain.entities,
              domain.values, domain.search, domain.clock, domain.ports, domain.stores
                                               (the domain's types and its storage interface)
    storage   chalicelib.storage               (PynamoDB; implements domain.ports)
    adapters  chalicelib.messaging             (SNS/SES)
    domain    the rest of chalicelib.domain    (reaches storage only through domain.stores)
    api       chalicelib.api                   (only api.http binds storage)
    app       app.py                           (registers the api; the Lambda entry points)
    tools     devtools, bench                  (never tests, never an api helper)
    tests     tests
"""
from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "chalicelib", "devtools", "bench", "tests")

BASE = ("chalicelib.errors", "chalicelib.settings", "chalicelib.telemetry", "chalicelib.keys", "chalicelib.schema",
        "chalicelib.domain.entities", "chalicelib.domain.values", "chalicelib.domain.clock", "chalicelib.domain.ports",
        "chalicelib.domain.stores", "chalicelib.domain.search")
LAYERS = (  # (name, module prefixes), lowest first
    ("base", BASE),
    ("storage", ("chalicelib.storage",)),
    ("adapters", ("chalicelib.messaging",)),
    ("domain", ("chalicelib.domain",)),
    ("api", ("chalicelib.api",)),
    ("app", ("app",)),
    ("tools", ("devtools", "bench")),
    ("tests", ("tests",)),
)
# What a layer may import besides itself and the layers below it is narrowed here.
NOT_FROM = {
    "storage": ("chalicelib.messaging",),  # storage and messaging are side by side
    "adapters": ("chalicelib.storage",),
    "domain": ("chalicelib.storage",),  # through domain.stores only
    "api": ("chalicelib.storage",),  # except the one place that binds it (BINDS_STORAGE)
    "tools": ("chalicelib.api",),  # the app itself (app.py) is fine; its HTTP helpers are not
}
BINDS_STORAGE = ("chalicelib.api.http",)
# Third-party packages a layer must not reach.
NO_LIBRARIES = {
    "base": ("chalice", "pynamodb"),  # settings may read a secret with boto3, at first use
    "domain": ("chalice", "pynamodb", "boto3", "botocore"),
    "storage": ("chalice",),
}


class Import(NamedTuple):
    source: str  # importing module
    target: str  # imported module (or module.name where a name is imported)
    line: int
    names: tuple[str, ...]  # names imported with `from target import ...`


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_files(root: Path = ROOT) -> Iterator[Path]:
    for package in PACKAGES:
        single = root / f"{package}.py"
        if single.is_file():
            yield single
        folder = root / package
        if folder.is_dir():
            yield from sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines of imports that run only for a type checker."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        lines.add(sub.lineno)
    return lines


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    source = module_name(path, root)
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_lines(tree)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [Import(source, alias.name, node.lineno, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(Import(source, target, node.lineno, tuple(alias.name for alias in node.names)))
    return found


def graph(root: Path = ROOT) -> tuple[set[str], list[Import]]:
    """The project's modules and every import between them (third-party ones included)."""
    files = list(project_files(root))
    modules = {module_name(path, root) for path in files}
    edges: list[Import] = []
    for path in files:
        for imp in imports_of(path, root):
            # `from package import module` names a module; `from module import name` the module.
            targets = [f"{imp.target}.{name}" for name in imp.names if f"{imp.target}.{name}" in modules]
            if targets:
                edges += [imp._replace(target=target, names=()) for target in targets]
                rest = tuple(name for name in imp.names if f"{imp.target}.{name}" not in modules)
                if rest:
                    edges.append(imp._replace(names=rest))
            else:
                edges.append(imp)
    return modules, edges


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> str | None:
    for name, prefixes in LAYERS:
        if _within(module, prefixes):
            return name
    return None


def _rank(layer: str) -> int:
    return [name for name, _ in LAYERS].index(layer)


def _project_target(target: str, modules: set[str]) -> str | None:
    """The project module an import reaches (the longest known prefix), or None for a library."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def violations(root: Path = ROOT) -> list[str]:
    """Every broken rule, one line each: `path:line: what`."""
    modules, edges = graph(root)
    broken: list[str] = []

    def say(imp: Import, what: str) -> None:
        broken.append(f"{imp.source}:{imp.line}: {what}")

    broken += [f"{module}:1: {module} belongs to no layer" for module in sorted(modules)
               if module.startswith("chalicelib.") and layer_of(module) is None]
    for imp in edges:
        source_layer = layer_of(imp.source)
        target = _project_target(imp.target, modules)
        if source_layer is None:
            continue
        if target is None:
            library = imp.target.split(".")[0]
            if library in NO_LIBRARIES.get(source_layer, ()):
                say(imp, f"the {source_layer} layer imports {library}")
            continue
        target_layer = layer_of(target)
        if target_layer is None or target == imp.source:
            continue
        if _rank(target_layer) > _rank(source_layer):
            say(imp, f"{imp.source} ({source_layer}) imports {target} ({target_layer}), a layer above it")
        elif _within(target, NOT_FROM.get(source_layer, ())) and not (
                source_layer == "api" and imp.source in BINDS_STORAGE):
            say(imp, f"{imp.source} ({source_layer}) imports {target}, which its layer must not")
        private = [name for name in imp.names if name.startswith("_") and not name.startswith("__")]
        if private and source_layer != "tests":  # a test may reach a private helper to test it
            say(imp, f"{imp.source} imports private {', '.join(private)} from {target}")
    broken += [f"{cycle[0]}: import cycle {' -> '.join(cycle)}" for cycle in cycles(modules, edges)]
    return broken


def cycles(modules: set[str], edges: list[Import]) -> list[list[str]]:
    """The import cycles between project modules (each once, as a path back to its start).

    A package's __init__ importing its own submodules is not a cycle of concern, nor is a
    submodule importing its package's __init__, so those edges are left out.
    """
    adjacent: dict[str, set[str]] = {module: set() for module in modules}
    for imp in edges:
        target = _project_target(imp.target, modules)
        if target is None or target == imp.source:
            continue
        if target.startswith(imp.source + ".") or imp.source.startswith(target + "."):
            continue
        adjacent[imp.source].add(target)
    found: list[list[str]] = []
    seen_cycles: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(adjacent[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    found.append(cycle)
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(modules):
        if module not in state:
            visit(module)
    return found


def layer_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """How many imports run from each layer to each other layer."""
    modules, edges = graph(root)
    counts: dict[str, dict[str, int]] = {}
    for imp in edges:
        target = _project_target(imp.target, modules)
        source_layer, target_layer = layer_of(imp.source), target and layer_of(target)
        if source_layer and target_layer and source_layer != target_layer:
            row = counts.setdefault(source_layer, {})
            row[target_layer] = row.get(target_layer, 0) + 1
    return counts


def main() -> int:
    counts = layer_graph()
    names = [name for name, _ in LAYERS]
    print("Imports between layers (row imports column), lowest layer first:")
    print(f"{'':>9} " + " ".join(f"{name:>8}" for name in names))
    for source in names:
        row = counts.get(source, {})
        print(f"{source:>9} " + " ".join(f"{row.get(target, '') or '.':>8}" for target in names))
    broken = violations()
    for line in broken:
        print(line)
    print(f"{len(broken)} rule(s) broken" if broken else "No rule broken: every import runs down, no cycle.")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
