"""`python -m devtools.package` (`make package`): every stage's artifact, or the ones named."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import devtools.package
from devtools.package.build import BUILD_DIR, PROJECT_DIR, build
from devtools.stage import stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.package",
                                     description=devtools.package.__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", choices=stages(),
                        help="stage to package (repeatable; default: every stage)")
    parser.add_argument("--out", type=Path, default=BUILD_DIR, help="output directory (default build/package)")
    parser.add_argument("--no-lint", action="store_true", help="skip cfn-lint")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    for stage in args.stage or stages():
        out_dir = build(stage, args.out.resolve(), run_lint=not args.no_lint)
        size = (out_dir / "deployment.zip").stat().st_size
        print(f"{stage}: {out_dir.relative_to(Path.cwd()) if out_dir.is_relative_to(Path.cwd()) else out_dir}"
              f"/sam.json + deployment.zip ({size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
