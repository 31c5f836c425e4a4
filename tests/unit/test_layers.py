"""The layer rules (devtools/imports.py), on the real tree and on small trees that break each one."""
from __future__ import annotations

from pathlib import Path

import pytest

from devtools import imports


def test_the_project_keeps_every_layer_rule():
    assert imports.violations() == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("chalicelib", "chalicelib/domain", "chalicelib/domain/ports", "chalicelib/storage",
                    "chalicelib/api", "devtools", "bench", "tests", "tests/support"):
        init = root / package / "__init__.py"
        init.parent.mkdir(parents=True, exist_ok=True)
        if not init.exists():
            init.write_text("")
    return root


CLEAN = {
    "chalicelib/errors.py": "class Oops(Exception): ...\n",
    "chalicelib/domain/entities.py": "from chalicelib.errors import Oops\n",
    "chalicelib/domain/ports/entries.py": "from typing import Protocol\n",
    "chalicelib/domain/stores.py": "from chalicelib.domain.ports.entries import Protocol\n",
    "chalicelib/storage/entries.py": "import pynamodb\nfrom chalicelib.domain.entities import Oops\n",
    "chalicelib/domain/queue.py": "from chalicelib.domain.stores import stores\nfrom chalicelib.domain import values\n",
    "chalicelib/api/http.py": "from chalicelib import storage\nimport chalice\n",
    "chalicelib/api/queues.py": "from chalicelib.api.http import route\nfrom chalicelib.domain import queue\n",
    "app.py": "from chalicelib.api import queues\n",
    "devtools/serve.py": "import app\nfrom chalicelib import storage\n",
    "tests/support/seed.py": "from devtools import serve\nfrom chalicelib.storage.entries import _model\n",
}


def test_a_clean_tree_breaks_nothing(tmp_path):
    assert imports.violations(_tree(tmp_path, CLEAN)) == []


@pytest.mark.parametrize(("path", "text", "expected"), [
    ("chalicelib/domain/joining.py", "from chalicelib.storage import entries\n", "which its layer must not"),
    ("chalicelib/domain/joining.py", "def f():\n    from chalicelib.storage.entries import x\n",
     "which its layer must not"),
    ("chalicelib/domain/joining.py", "import pynamodb.models\n", "the domain layer imports pynamodb"),
    ("chalicelib/api/queues.py", "from chalicelib.storage import entries\n", "which its layer must not"),
    ("chalicelib/storage/entries.py", "from chalicelib.domain import queue\n", "a layer above it"),
    ("chalicelib/domain/entities.py", "from chalicelib.api.http import route\n", "a layer above it"),
    ("chalicelib/openapi.py", "from chalicelib.api.http import route\n", "belongs to no layer"),
    ("chalicelib/storage/board.py", "from chalicelib.storage.entries import _to_entry\n", "imports private _to_entry"),
    ("bench/run.py", "from tests.support import seed\n", "a layer above it"),
    ("devtools/admin.py", "from chalicelib.api.queues import helper\n", "which its layer must not"),
    ("chalicelib/storage/a.py", "from chalicelib.storage import b\n", "import cycle"),
])
def test_each_rule_fails_when_broken(tmp_path, path, text, expected):
    files = dict(CLEAN)
    files[path] = text
    files.setdefault("chalicelib/storage/b.py", "")
    if path == "chalicelib/storage/a.py":
        files["chalicelib/storage/b.py"] = "def f():\n    from chalicelib.storage import a\n"
    broken = imports.violations(_tree(tmp_path, files))
    assert any(expected in line for line in broken), broken


def test_imports_only_for_the_type_checker_do_not_count(tmp_path):
    files = dict(CLEAN)
    files["chalicelib/domain/joining.py"] = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chalicelib.storage import entries\n")
    assert imports.violations(_tree(tmp_path, files)) == []
