"""The build: a slim copy of the project for chalice to package, `chalice package` run on it with
the merged template, bytecode added to its zip, and cfn-lint on the result.

The zip leaves boto3/botocore out (the Lambda runtime has them): the project is copied to
build/package/src with pynamodb installed into vendor/ without its dependencies
(`pip install --no-deps --target`) and a requirements file without it.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from devtools.package.iam import function_roles
from devtools.package.template import resources_template
from devtools.stage import CONFIG_FILE, stages

PROJECT_DIR = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_DIR / "build" / "package"
LOGS_POLICY = PROJECT_DIR / "deploy" / "lambda-logs-policy.json"

# Already in the Lambda Python runtime: never shipped in the zip.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
# Shipped under vendor/ without their dependencies (which must all be runtime-provided).
VENDORED = ("pynamodb",)


def _requirement_name(line: str) -> str | None:
    line = line.split("#", 1)[0].strip()
    if not line or line.startswith("-"):
        return None
    return re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower().replace("_", "-")


def _requirement_line(name: str) -> str:
    for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines():
        if _requirement_name(line) == name:
            return line.split("#", 1)[0].strip()
    raise SystemExit(f"{name} is not in requirements.txt.")


def _vendor(name: str, vendor_dir: Path) -> None:
    """Install a requirement's pinned wheel into vendor/ without its dependencies.

    Every dependency it declares must be one the Lambda runtime provides.
    """
    from packaging.requirements import Requirement

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--no-compile", "--only-binary=:all:", "--target", str(vendor_dir),
                    _requirement_line(name)], check=True)
    dist = next(importlib.metadata.distributions(name=name, path=[str(vendor_dir)]))
    for requirement in map(Requirement, dist.requires or []):
        wanted = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
        if wanted and requirement.name.lower() not in RUNTIME_PROVIDED:
            raise SystemExit(f"{name} needs {requirement.name}, which the Lambda runtime lacks: do not vendor it.")


def prepare_project(dest: Path, *, slim: bool = True) -> Path:
    """A copy of the project for chalice to package (slim: pynamodb vendored, no botocore)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(PROJECT_DIR / "app.py", dest / "app.py")
    shutil.copytree(PROJECT_DIR / "chalicelib", dest / "chalicelib", ignore=ignore)
    (dest / ".chalice").mkdir()
    shutil.copy2(CONFIG_FILE, dest / ".chalice" / "config.json")
    # autogen_policy is off: chalice gives each function a role of its own with this
    # policy file (logging only); data access is each function's separate policy.
    for stage in stages():
        shutil.copy2(LOGS_POLICY, dest / ".chalice" / f"policy-{stage}.json")
    lines = (PROJECT_DIR / "requirements.txt").read_text().splitlines()
    if slim:
        lines = [line for line in lines if _requirement_name(line) not in {*VENDORED, *RUNTIME_PROVIDED}]
        for name in VENDORED:
            _vendor(name, dest / "vendor")
    (dest / "requirements.txt").write_text("\n".join(lines) + "\n")
    return dest


def _chalice_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("AWS_") or key in ("AWS_DEFAULT_REGION", "AWS_REGION")}
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # chalice imports the app from the copy it zips
    # No profile or credentials file is read: packaging never talks to AWS.
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return env


def chalice_package(project_dir: Path, stage: str, out_dir: Path, merge_template: Path | None) -> None:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    command = [str(Path(sys.executable).with_name("chalice")), "--project-dir", str(project_dir),
               "package", "--stage", stage]
    if merge_template is not None:
        command += ["--merge-template", str(merge_template)]
    command.append(str(out_dir))
    subprocess.run(command, check=True, env=_chalice_env(), cwd=project_dir, stdout=subprocess.DEVNULL)


def add_bytecode(zip_path: Path, runtime: str) -> int:
    """Add compiled bytecode for every module in the zip; returns how many files it added.

    The Lambda task folder is read-only, so without bytecode in the package every cold
    start compiles the app and its libraries from source. The .pyc files are checked
    against nothing (unchecked-hash): they are valid exactly as shipped. They must be
    compiled by the runtime's own Python version, which is the one running this.
    """
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        raise SystemExit(f"The functions run on {runtime}; compile their bytecode with {runtime}, not {here}.")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
            archive.extractall(root)
        sources = [info.filename for info in infos if info.filename.endswith(".py")]
        compiled = []
        for name in sources:
            target = Path(importlib.util.cache_from_source(name))
            py_compile.compile(str(root / name), cfile=str(root / target), dfile=name, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            compiled.append(target.as_posix())
        rebuilt = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as archive:
            for info in infos:
                archive.writestr(info, (root / info.filename).read_bytes() if not info.is_dir() else b"")
            for name in compiled:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (root / name).read_bytes())
        rebuilt.replace(zip_path)
    return len(compiled)


def function_runtime(template: dict) -> str:
    """The one Python runtime every function of the template runs on."""
    runtimes = {resource["Properties"]["Runtime"] for resource in template["Resources"].values()
                if resource.get("Type") == "AWS::Serverless::Function"}
    if len(runtimes) != 1:
        raise SystemExit(f"Expected one runtime for every function, found {sorted(runtimes)}.")
    return runtimes.pop()


def lint(template: Path) -> None:
    """cfn-lint: errors fail the build (warnings are shown)."""
    command = [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(template)]
    result = subprocess.run(command, env=_chalice_env(), capture_output=True, text=True)
    if result.stdout.strip():
        print(result.stdout.strip())
    if result.returncode & 2 or result.returncode & 1:  # 2 = errors, 1 = a fatal cfn-lint failure
        raise SystemExit(f"cfn-lint found errors in {template}.")


def build(stage: str, out_root: Path = BUILD_DIR, *, slim: bool = True, run_lint: bool = True) -> Path:
    """Package one stage into out_root/<stage>; returns that directory."""
    project = prepare_project(out_root / "src", slim=slim)
    out_dir = out_root / stage
    merge = out_root / f"resources-{stage}.json"
    merge.write_text(json.dumps(resources_template(stage, function_roles(project, stage)), indent=2) + "\n")
    chalice_package(project, stage, out_dir, merge)
    add_bytecode(out_dir / "deployment.zip", function_runtime(json.loads((out_dir / "sam.json").read_text())))
    shutil.copy2(merge, out_dir / "resources.json")
    merge.unlink()
    if run_lint:
        lint(out_dir / "sam.json")
    return out_dir
