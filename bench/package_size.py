"""The deployment package: size and cold-import time, slim against naive.

  .venv/bin/python -m bench.package_size [--runs 15]

slim:  what `make package` ships (pynamodb vendored, no boto3/botocore)
naive: chalice's default (pynamodb from requirements.txt, botocore bundled)

Each zip is unpacked and `import app` is timed in a fresh interpreter without
site-packages, with this machine's boto3/botocore (and their dependencies) on
the path after the code, as the Lambda runtime provides them. "first client"
adds creating the DynamoDB client transactions use (no request is made).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from devtools import package  # noqa: E402

OUT = PROJECT_DIR / "build" / "bench"
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

PROBE = """
import sys, time, json
sys.path[:0] = [sys.argv[1], sys.argv[2]]
t0 = time.perf_counter()
import app  # noqa
t1 = time.perf_counter()
from chalicelib import storage
storage.bind()
storage.binding.connection().client
t2 = time.perf_counter()
import botocore
print(json.dumps({"import": t1 - t0, "client": t2 - t1, "botocore": botocore.__file__}))
"""


def runtime_dir(root: Path) -> Path:
    """boto3, botocore and their dependencies as the Lambda runtime has them (symlinks)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_MODULES:
        module = importlib.import_module(name)
        source = Path(module.__file__)
        source = source.parent if source.name == "__init__.py" else source
        link = root / source.name
        if not link.exists():
            link.symlink_to(source)
    return root


def build_zip(kind: str) -> Path:
    out = OUT / kind
    project = package.prepare_project(out / "src", slim=(kind == "slim"))
    stage = "dev"
    merge = None
    if kind == "slim":
        merge = out / "resources.json"
        merge.write_text(json.dumps(package.resources_template(stage, package.function_roles(project, stage))))
    package.chalice_package(project, stage, out / "package", merge)
    return out / "package" / "deployment.zip"


def zip_stats(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        unpacked = sum(info.file_size for info in archive.infolist())
    top = sorted({name.split("/", 1)[0] for name in names})
    return {"zip_bytes": path.stat().st_size, "unpacked_bytes": unpacked, "files": len(names),
            "has_botocore": any(t in ("botocore", "boto3") for t in top)}


def time_imports(zip_path: Path, runtime: Path, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(tmp)
        env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1",
               "DQS_TABLE_PREFIX": "dqs-bench-", "DQS_JWT_SECRET": "x" * 48}
        imports, clients, botocore_from = [], [], None
        for _ in range(runs):
            result = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE, tmp, str(runtime)],
                                    env=env, capture_output=True, text=True, check=True)
            sample = json.loads(result.stdout)
            imports.append(sample["import"] * 1000)
            clients.append(sample["client"] * 1000)
            botocore_from = "zip" if sample["botocore"].startswith(tmp) else "runtime"
    return {"import_ms": statistics.median(imports), "first_client_ms": statistics.median(clients),
            "botocore_from": botocore_from}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    runtime = runtime_dir(OUT / "runtime")
    print(f"{'package':8} {'zip':>9} {'unpacked':>10} {'files':>6} {'botocore':>9} {'import':>9} {'+client':>9}")
    for kind in ("slim", "naive"):
        zip_path = build_zip(kind)
        stats = zip_stats(zip_path)
        timing = time_imports(zip_path, runtime, args.runs)
        print(f"{kind:8} {stats['zip_bytes'] / 1e6:7.2f}MB {stats['unpacked_bytes'] / 1e6:8.2f}MB "
              f"{stats['files']:6d} {timing['botocore_from']:>9} {timing['import_ms']:7.0f}ms "
              f"{timing['first_client_ms']:7.0f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
