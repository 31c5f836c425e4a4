"""The package, built once per test process (`make package`'s build for the prod stage) and shared by
every module that checks it; tests/conftest.py keeps those modules on one worker."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.packaging import PROJECT_DIR, SENTINEL_SECRET, STAGE, sam_transform


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("package")
    env = dict(os.environ, DQS_JWT_SECRET=SENTINEL_SECRET)
    result = subprocess.run([sys.executable, "-m", "devtools.package", "--stage", STAGE, "--out", str(out)],
                            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    stage_dir = out / STAGE
    return {"dir": stage_dir, "output": result.stdout, "template": json.loads((stage_dir / "sam.json").read_text())}


@pytest.fixture(scope="session")
def resources(built):
    return built["template"]["Resources"]


@pytest.fixture(scope="session")
def translated(built) -> dict:
    return sam_transform(built["template"])["Resources"]
