"""The queue's domain reaches storage only through its store protocols: none of its modules
imports the storage package, and the queue's storage modules import no private name of another
module (read from the source's imports, so it cannot drift back)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUEUE_DOMAIN = [*sorted((ROOT / "chalicelib/domain/queue").glob("*.py")),
                *(ROOT / "chalicelib/domain" / name for name in
                  ("waiting_room.py", "notifications.py", "service_points.py", "stores.py")),
                *sorted((ROOT / "chalicelib/domain/ports").glob("*.py"))]
QUEUE_STORAGE = [ROOT / "chalicelib/storage" / name for name in
                 ("queue_entries.py", "queue_days.py", "waiting_room.py", "service_points.py", "connections.py",
                  "queue_lookups.py")]


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in a file, at any depth (first-use imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


def test_the_queues_domain_imports_no_storage():
    assert len(QUEUE_DOMAIN) >= 12
    for path in QUEUE_DOMAIN:
        for module, names in imports(path):
            assert not module.startswith("chalicelib.storage"), (path.name, module)
            assert not (module == "chalicelib" and "storage" in names), (path.name, module, names)


def test_the_queues_storage_imports_no_private_name_of_another_module():
    for path in QUEUE_STORAGE:
        for module, names in imports(path):
            if module.startswith("chalicelib."):
                assert not [name for name in names if name.startswith("_")], (path.name, module, names)
