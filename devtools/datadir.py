"""The local server's data folder: `.dqs-data/` in the project, or `DQS_DATA_DIR`.

It holds the embedded DynamoDB's journal (devtools.journal), the token-signing key
generated for local use, and a lock file that keeps a second local server off the
same data. Standard library only, so that `make reset-data` needs no virtualenv:

    python3 -m devtools.datadir reset
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DIR = PROJECT_DIR / ".dqs-data"
SECRET_FILE = "jwt-secret"
LOCK_FILE = "lock"
# What this module and devtools.journal write there; `reset` removes only these.
KNOWN_FILES = (SECRET_FILE, SECRET_FILE + ".tmp", LOCK_FILE, "dynamodb.journal", "dynamodb.journal.tmp")


class DataDirBusy(Exception):
    """Another local server holds the data folder."""


def data_dir() -> Path:
    value = os.environ.get("DQS_DATA_DIR")
    return Path(value).expanduser().resolve() if value else DEFAULT_DIR


def display(path: Path) -> str:
    """The folder as a person would type it: relative to the project when inside it."""
    try:
        return str(path.relative_to(Path.cwd())) or "."
    except ValueError:
        return str(path)


def ensure(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def lock(path: Path):
    """Hold the folder's lock for this process's lifetime (released when it exits, even on kill -9).

    Returns the open lock file (keep a reference); raises DataDirBusy when another process holds it.
    """
    ensure(path)
    handle = open(path / LOCK_FILE, "a+")
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock, as before
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        raise DataDirBusy(str(path)) from exc
    return handle


def is_locked(path: Path) -> bool:
    if not (path / LOCK_FILE).exists():
        return False
    try:
        handle = lock(path)
    except DataDirBusy:
        return True
    handle.close()
    return False


def jwt_secret(path: Path) -> tuple[str, bool]:
    """The local token-signing key kept in the folder (readable by its owner only),
    so that tokens outlive a restart; generated on first use. Returns (secret, created)."""
    ensure(path)
    secret_path = path / SECRET_FILE
    try:
        secret = secret_path.read_text().strip()
        if len(secret.encode()) >= 32:
            return secret, False
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    tmp = path / (SECRET_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, secret_path)
    return secret, True


def reset(path: Path) -> str:
    """Remove the local server's data. Refuses while a server is using it."""
    if not path.exists():
        return f"No local data in {display(path)}: nothing to reset."
    if is_locked(path):
        raise DataDirBusy(str(path))
    for name in KNOWN_FILES:
        try:
            (path / name).unlink()
        except FileNotFoundError:
            pass
    try:
        path.rmdir()
    except OSError:  # other files the server did not write: leave them and the folder
        left = sorted(p.name for p in path.iterdir())
        return f"Local data removed; {display(path)} kept for files the server did not write: {', '.join(left)}."
    return f"Local data removed ({display(path)}): the next `make run` starts empty."


def main(argv: list[str]) -> int:
    if argv != ["reset"]:
        print("usage: python3 -m devtools.datadir reset", file=sys.stderr)
        return 2
    path = data_dir()
    try:
        print(reset(path))
    except DataDirBusy:
        print(f"A local server is using {display(path)}: stop it (Ctrl-C) before `make reset-data`.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
