"""The layers of accounts and records, read from the imports (ast, no import is run): the domain
reaches storage only through its store protocols, entities and values sit below both, and
storage has no circle."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ["chalicelib/domain/accounts", "chalicelib/domain/patients.py", "chalicelib/domain/doctors.py",
          "chalicelib/domain/departments.py", "chalicelib/domain/appointments.py", "chalicelib/domain/conflicts.py",
          "chalicelib/domain/security.py", "chalicelib/domain/permissions.py", "chalicelib/domain/commands.py",
          "chalicelib/domain/stores.py", "chalicelib/domain/ports"]
STORAGE = ["users", "attempts", "patients", "doctors", "departments", "appointments", "uniques", "counters", "ids",
           "cursors", "transactions", "binding"]


def _files(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = ROOT / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def imports(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_domain_of_accounts_and_records_imports_no_storage_and_no_api():
    leaks = {str(path.relative_to(ROOT)): sorted(n for n in imports(path)
                                                 if n.startswith(("chalicelib.storage", "chalicelib.api")))
             for path in _files(DOMAIN)}
    assert {path: names for path, names in leaks.items() if names} == {}


def test_entities_and_values_are_leaves():
    for leaf in ("chalicelib/domain/entities.py", "chalicelib/domain/values.py"):
        assert not [n for n in imports(ROOT / leaf) if n.startswith("chalicelib")], leaf


def test_storage_takes_only_entities_values_and_the_registry_from_the_domain():
    allowed = ("chalicelib.domain.entities", "chalicelib.domain.values", "chalicelib.domain.stores",
               "chalicelib.domain.ports",  # the protocols' labels and the shared throttle rule
               "chalicelib.domain.search")  # the search's folding and digits: pure, in the base layer
    for name in STORAGE:
        path = ROOT / f"chalicelib/storage/{name}.py"
        domain = [n for n in imports(path) if n.startswith("chalicelib.domain") and not n.startswith(allowed)]
        assert domain == [], path


def test_storage_has_no_import_circle():
    graph = {name: {n.split(".")[2] for n in imports(ROOT / f"chalicelib/storage/{name}.py")
                    if n.startswith("chalicelib.storage.") and n.split(".")[2] in STORAGE} - {name}
             for name in STORAGE}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    assert [name for name in STORAGE if reaches(name, name, {name})] == []
    assert graph["binding"] == set()  # the bottom of storage: it knows no other storage module
