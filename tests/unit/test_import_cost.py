"""What a cold start imports: nothing that first use can load, and no pattern compiled.

bench/cold_start.py measures the time; these keep what it found from creeping back.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]

# Loaded at first use: password hashing and tokens at the first login or token check, the
# time zones with the settings, statistics by the queue's stats, boto3 by SSM and messages.
FIRST_USE = ("argon2", "jwt", "zoneinfo", "statistics", "fractions", "boto3")

PROBE = """
import json, re, sys
compiled = []
original = re._compile
def _compile(pattern, flags):
    caller = sys._getframe(2).f_globals.get("__name__", "")
    if caller == "app" or caller.startswith("chalicelib"):
        compiled.append(f"{caller}: {pattern!r}")
    return original(pattern, flags)
re._compile = _compile
import app
print(json.dumps({"modules": sorted(sys.modules), "compiled": compiled}))
"""


def _import_app() -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=PROJECT_DIR,
                          timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_app_leaves_first_use_to_first_use():
    imported = _import_app()
    loaded = {name for name in imported["modules"] if name.split(".")[0] in FIRST_USE}
    assert not loaded, f"imported when the app is: {sorted(loaded)}"
    assert imported["compiled"] == []  # `re` compiles the app's patterns at first use
