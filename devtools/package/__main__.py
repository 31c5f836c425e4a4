"""`python -m devtools.package` (`make package`): every stage's artifact, or the ones named."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import devtools.package
from devtools.package.build import BUILD_DIR, MAX_ZIP_BYTES, PROJECT_DIR, build, zip_digest
from devtools.stage import stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.package",
                                     description=devtools.package.__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=stages(),
                        help="stage to package (repeatable; default: every stage)")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output directory (default build/package)")
    parser.add_argument("--no-lint", action="store_true", help="skip cfn-lint")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="ship sources only (when the runtime's Python is not installed here)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    for stage in args.stage or stages():
        out_dir = build(stage, args.out.resolve(), run_lint=not args.no_lint, bytecode=not args.no_bytecode)
        zip_path = out_dir / "deployment.zip"
        size = zip_path.stat().st_size
        print(f"{stage}: {out_dir.relative_to(Path.cwd()) if out_dir.is_relative_to(Path.cwd()) else out_dir}"
              f"/sam.json ({(out_dir / 'sam.json').stat().st_size / 1024:.0f} KiB) + deployment.zip "
              f"({size:,} bytes = {size / 1024:.0f} KiB, {size / MAX_ZIP_BYTES:.0%} of the 1 MiB budget; "
              f"sha256 {zip_digest(zip_path)[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
