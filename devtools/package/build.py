"""The build: a slim copy of the project for chalice to package, `chalice package` run on it with
the merged template, the template made operable (operations.py), bytecode added to its zip, and
cfn-lint on the result.

The zip is built for the functions' runtime and architecture (operations.RUNTIME, ARCHITECTURE),
not for the Python running this: every requirement is installed into vendor/ from wheels for
that platform (`pip install --platform ... --python-version ... --only-binary=:all: --target`),
chalice is given no requirements of its own to resolve, and every native library in the zip is
checked to be built for that architecture (its ELF header). It leaves out:
- boto3/botocore and their dependencies (the Lambda runtime has them): pynamodb is installed
  without its dependencies, which must all be runtime-provided;
- what only builds or describes a package: cffi's Python side and pycparser (cffi compiles
  argon2's bindings at build time; at run time they need only the `_cffi_backend` extension),
  the dist-info folders and scripts.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from devtools.package import operations
from devtools.package.iam import FUNCTION_ACCESS, function_roles
from devtools.package.template import log_retention, resources_template
from devtools.stage import CONFIG_FILE, stage_env, stages

PROJECT_DIR = Path(__file__).resolve().parents[2]
BUILD_DIR = PROJECT_DIR / "build" / "package"
LOGS_POLICY = PROJECT_DIR / "deploy" / "lambda-logs-policy.json"

# Already in the Lambda Python runtime: never shipped in the zip.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
# Shipped under vendor/ without their dependencies (which must all be runtime-provided).
VENDORED = ("pynamodb",)
# The wheels' platforms, best first: Lambda's arm64 Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34).
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64
# Installed, but never run on Lambda (see the module's description).
NOT_SHIPPED = ("cffi", "pycparser", "bin")
# tzdata's catalogues and source: zoneinfo reads only the compiled zone files (and tzdata/zones).
TZDATA_NOT_READ = ("tzdata.zi", "zone.tab", "zone1970.tab", "zonenow.tab", "iso3166.tab", "leapseconds")
# The app's own modules ship with their source (tracebacks show the line); the libraries ship
# as bytecode only (a traceback into them names the file and line, without its text).
OWN_CODE = ("app.py", "chalicelib/")
MAX_ZIP_BYTES = 1024 * 1024


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


def platforms(architecture: str) -> tuple[str, ...]:
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    return tuple(name.replace("aarch64", machine) for name in PLATFORMS)


def _pip_target(vendor_dir: Path, requirements: list[str], *, deps: bool,
                architecture: str = operations.ARCHITECTURE) -> None:
    platform = [arg for name in platforms(architecture) for arg in ("--platform", name)]
    major, minor = operations.PYTHON_VERSION
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-compile", "--only-binary=:all:", *platform, "--python-version", f"{major}.{minor}",
                    "--implementation", "cp", "--target", str(vendor_dir), *([] if deps else ["--no-deps"]),
                    *requirements], check=True)


def _vendor(name: str, vendor_dir: Path) -> None:
    """Install a requirement's pinned wheel into vendor/ without its dependencies.

    Every dependency it declares must be one the Lambda runtime provides.
    """
    from packaging.requirements import Requirement

    _pip_target(vendor_dir, [_requirement_line(name)], deps=False)  # pure Python: any platform
    dist = next(importlib.metadata.distributions(name=name, path=[str(vendor_dir)]))
    for requirement in map(Requirement, dist.requires or []):
        wanted = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
        if wanted and requirement.name.lower() not in RUNTIME_PROVIDED:
            raise SystemExit(f"{name} needs {requirement.name}, which the Lambda runtime lacks: do not vendor it.")


def _prune(vendor_dir: Path) -> None:
    """Leave out what never runs on Lambda (see the module's description)."""
    for path in sorted(vendor_dir.iterdir()):
        if path.name in NOT_SHIPPED or path.name.endswith(".dist-info") or path.name == "__pycache__":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for cache in list(vendor_dir.rglob("__pycache__")):
        shutil.rmtree(cache)
    for name in TZDATA_NOT_READ:
        (vendor_dir / "tzdata" / "zoneinfo" / name).unlink(missing_ok=True)
    if not list(vendor_dir.glob("_cffi_backend.*.so")):
        raise SystemExit("cffi's _cffi_backend extension is missing: argon2 cannot load without it.")


def _keep_zones(vendor_dir: Path, zones: tuple[str, ...]) -> None:
    """Leave tzdata only the zone files `zones` name (its package files stay, so every zone folder
    still imports): a stage serves its clinic's zone, and some 600 others would take 180 KB."""
    root = vendor_dir / "tzdata" / "zoneinfo"
    kept = set(zones)
    missing = [zone for zone in kept if not (root / zone).is_file()]
    if missing:
        raise SystemExit(f"DQS_CLINIC_TIMEZONE {missing[0]!r} is not a zone tzdata knows.")
    for path in root.rglob("*"):
        if path.is_file() and path.name != "__init__.py" and path.relative_to(root).as_posix() not in kept:
            path.unlink()


def stage_zones(stage: str) -> tuple[str, ...]:
    """The zones a stage's functions may read: its clinic's (DQS_CLINIC_TIMEZONE) and UTC."""
    return tuple(sorted({stage_env(stage).get("DQS_CLINIC_TIMEZONE") or "UTC", "UTC"}))


def prepare_project(dest: Path, *, slim: bool = True, architecture: str = operations.ARCHITECTURE,
                    zones: tuple[str, ...] | None = None) -> Path:
    """A copy of the project for chalice to package.

    slim: every requirement vendored for the functions' platform, none left for chalice to resolve.
    architecture: the native wheels' (the functions' unless measuring on this machine: bench/cold_start.py).
    zones: the only time zones tzdata keeps (a stage's clinic zone and UTC), or all of them.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(PROJECT_DIR / "app.py", dest / "app.py")
    shutil.copytree(PROJECT_DIR / "chalicelib", dest / "chalicelib", ignore=ignore)
    (dest / ".chalice").mkdir()
    shutil.copy2(CONFIG_FILE, dest / ".chalice" / "config.json")
    # autogen_policy is off: chalice gives each function a role of its own with this
    # policy file, which operations.py then replaces (each function's own log group).
    for stage in stages():
        shutil.copy2(LOGS_POLICY, dest / ".chalice" / f"policy-{stage}.json")
    lines = (PROJECT_DIR / "requirements.txt").read_text().splitlines()
    if slim:
        wanted = [_requirement_line(name) for name in map(_requirement_name, lines)
                  if name and name not in {*VENDORED, *RUNTIME_PROVIDED}]
        _pip_target(dest / "vendor", wanted, deps=True, architecture=architecture)
        for name in VENDORED:
            _vendor(name, dest / "vendor")
        shutil.rmtree(dest / "vendor" / "bin", ignore_errors=True)
        _prune(dest / "vendor")
        if zones is not None:
            _keep_zones(dest / "vendor", zones)
        lines = []
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


_COMPILE = """
import ast, importlib.util, os, sys
from importlib._bootstrap_external import _code_to_hash_pyc

def without_docstrings(tree, classes=True):
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef) + ((ast.ClassDef,) if classes else ())
    for node in ast.walk(tree):
        if isinstance(node, kinds):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \\
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree

root, names = sys.argv[1], sys.argv[2:]
for name in names:
    own = not name.startswith("-")
    name = name if own else name[1:]
    source = open(root + "/" + name, "rb").read()
    # The app's own classes keep theirs: a dataclass without a docstring computes its signature.
    tree = ast.fix_missing_locations(without_docstrings(ast.parse(source, name), classes=not own))
    code = compile(tree, name, "exec", dont_inherit=True)
    target = root + "/" + (importlib.util.cache_from_source(name) if own else name + "c")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as pyc:
        pyc.write(_code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))
print(sys.implementation.cache_tag)
"""


def is_own_code(name: str) -> bool:
    return name.startswith(OWN_CODE)


def runtime_python(runtime: str) -> str | None:
    """An interpreter of the functions' Python version on this machine (python3.12 on PATH, pyenv's)."""
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime == here:
        return sys.executable
    version = runtime.removeprefix("python")
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(runtime), *sorted(map(str, pyenv.glob(f"{version}.*/bin/{runtime}")), reverse=True)]
    for candidate in filter(None, candidates):
        # A pyenv shim is on PATH even when that version is not selected: it must run.
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def add_bytecode(zip_path: Path, runtime: str) -> int:
    """Add compiled bytecode for every module in the zip; returns how many modules it compiled.

    The Lambda task folder is read-only, so without bytecode in the package every cold
    start compiles the app and its libraries from source. The .pyc files are checked
    against nothing (unchecked-hash): they are valid exactly as shipped. They must be
    compiled by the runtime's own Python version (another version's bytecode is ignored),
    so they are compiled by that Python, whatever Python runs this.
    The app's own modules keep their source (for tracebacks), with the bytecode in __pycache__;
    a library's module is replaced by its bytecode (module.pyc, which Python imports without a
    source). Bytecode is compiled without docstrings (nothing reads a module's or a function's
    __doc__ at run time; the app's classes keep theirs, which spare dataclasses their signature
    text), and asserts stay, unlike -OO.
    """
    python = runtime_python(runtime)
    if python is None:
        raise SystemExit(f"The functions run on {runtime}, which is not on PATH here: its bytecode cannot be "
                         f"compiled (install it, e.g. with pyenv, or build with --no-bytecode).")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(zip_path) as archive:
            infos = archive.infolist()
            archive.extractall(root)
        sources = [info.filename for info in infos if info.filename.endswith(".py")]
        arguments = [name if is_own_code(name) else "-" + name for name in sources]
        result = subprocess.run([python, "-I", "-c", _COMPILE, str(root), *arguments], check=True,
                                capture_output=True, text=True)
        tag = result.stdout.strip()
        if tag != "cpython-" + runtime.removeprefix("python").replace(".", ""):
            raise SystemExit(f"{python} compiles for {tag}, not {runtime}.")
        compiled = [Path(name).parent.joinpath("__pycache__", f"{Path(name).stem}.{tag}.pyc").as_posix()
                    if is_own_code(name) else name + "c" for name in sources]
        rebuilt = zip_path.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for info in infos:
                if info.filename.endswith(".py") and not is_own_code(info.filename):
                    continue
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (root / info.filename).read_bytes() if not info.is_dir() else b"",
                                 compresslevel=9)
            for name in compiled:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, (root / name).read_bytes(), compresslevel=9)
        rebuilt.replace(zip_path)
    return len(compiled)


def native_libraries(zip_path: Path) -> dict[str, int]:
    """Every shared library in the zip and its ELF e_machine (183 AArch64, 62 x86-64)."""
    found = {}
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            if name.endswith(".so") or ".so." in name.rsplit("/", 1)[-1]:
                header = archive.read(name)[:20]
                if header[:4] != b"\x7fELF":
                    raise SystemExit(f"{name} is not an ELF file.")
                found[name] = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return found


def check_native_libraries(zip_path: Path, architecture: str) -> None:
    wrong = {name: machine for name, machine in native_libraries(zip_path).items()
             if machine != ELF_MACHINE[architecture]}
    if wrong:
        raise SystemExit(f"Native libraries not built for {architecture}: {wrong}.")


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


def telemetry_name(function: str) -> str:
    """The `function` dimension of a function's EMF metrics (chalicelib/telemetry.py): the API's is "api"."""
    return "api" if function == "api_handler" else function


def build(stage: str, out_root: Path = BUILD_DIR, *, slim: bool = True, run_lint: bool = True,
          bytecode: bool = True, architecture: str = operations.ARCHITECTURE) -> Path:
    """Package one stage into out_root/<stage>; returns that directory.

    architecture: the native libraries' (the template's is operations.ARCHITECTURE whatever this says;
    another is only for running the zip on this machine, as bench/cold_start.py does).
    """
    project = prepare_project(out_root / "src", slim=slim, architecture=architecture,
                              zones=stage_zones(stage) if slim else None)
    out_dir = out_root / stage
    merge = out_root / f"resources-{stage}.json"
    roles = function_roles(project, stage)
    merge.write_text(json.dumps(resources_template(stage, roles), indent=2) + "\n")
    chalice_package(project, stage, out_dir, merge)
    template_path = out_dir / "sam.json"
    template = operations.finish(json.loads(template_path.read_text()), roles, log_retention(stage),
                                 [telemetry_name(f) for f in sorted(FUNCTION_ACCESS)])
    template_path.write_text(json.dumps(template, indent=2) + "\n")
    zip_path = out_dir / "deployment.zip"
    if bytecode:
        add_bytecode(zip_path, function_runtime(template))
    if slim:
        check_native_libraries(zip_path, architecture)
    shutil.copy2(merge, out_dir / "resources.json")
    merge.unlink()
    if run_lint:
        lint(template_path)
    return out_dir


def zip_digest(zip_path: Path) -> str:
    return hashlib.sha256(zip_path.read_bytes()).hexdigest()
