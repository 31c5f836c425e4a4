"""The README runs top to bottom.

Its ```sh blocks are run in order, in ONE bash process (so variables carry over), against
a fresh local server (a free port, an empty data folder, the admin password the README's
quick start gives `make run`), with `http://127.0.0.1:8000` replaced by that server's URL.

The README's conventions, which this test honours:

- Every ```sh block is run. Other blocks (```json, ```text, plain ```) are output or
  layout, never run.
- `<!-- not run: <why> -->` on the line before a ```sh block keeps that block from being
  run (`make run` itself, commands that need an AWS account, the long test runs). Before
  a heading, it keeps every block of that section (up to the next heading of the same or
  a higher level) from being run.
- Every `curl` must get a 2xx answer, unless its command's last line ends with a comment
  `# → NNN`, which says the answer is NNN (an error the README shows on purpose, or a
  success code worth showing); then it must be exactly that. The test runs the README's
  `curl` through a function that checks this, so README curls must not use `-o`, `-w`, `-i`
  or `-D` of their own.
- The blocks run with `set -euo pipefail`: a failing command, or an unset variable, fails
  the test.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.local_process import LocalServer, server_env

README = Path(__file__).resolve().parents[2] / "README.md"
README_BASE = "http://127.0.0.1:8000"
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(.+?)\s*-->\s*$")
HEADING = re.compile(r"^(#{1,6})\s")
EXPECT = re.compile(r"#\s*→\s*(\d{3})\b")

PRELUDE = r'''
set -euo pipefail
# The README's curl, checked: a 2xx answer, or exactly the status its `# → NNN` comment shows.
curl() {
  local body status expect="${DQS_EXPECT:-2xx}"
  body=$(mktemp)
  if ! status=$(command curl -sS -o "$body" -w '%{http_code}' "$@"); then
    echo "README check: curl $* could not complete" >&2; rm -f "$body"; return 1
  fi
  cat "$body"; rm -f "$body"
  echo "$status $expect curl $*" >> "$DQS_CURL_LOG"
  if [[ $expect == 2xx && $status != 2?? ]]; then
    echo >&2; echo "README check: curl $* answered $status; the README shows no error here" >&2; return 1
  elif [[ $expect != 2xx && $status != "$expect" ]]; then
    echo >&2; echo "README check: curl $* answered $status; the README says $expect" >&2; return 1
  fi
}
'''


@dataclass
class Block:
    line: int  # where its fence opens, 1-based
    text: str
    skipped: str | None  # why not run, or None


def blocks(text: str) -> list[Block]:
    """Every ```sh block of the README, with the reason it is not run, if it is not."""
    found: list[Block] = []
    lines = text.splitlines()
    section_skip: tuple[int, str] | None = None  # (heading level, reason)
    previous = ""  # the last non-blank line outside blocks
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = HEADING.match(line)
        if heading:
            level = len(heading[1])
            if section_skip and level <= section_skip[0]:
                section_skip = None
            marker = NOT_RUN.match(previous)
            if marker:
                section_skip = (level, marker[1])
            previous = line
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            start, language = i, fence[2]
            i += 1
            body = []
            while i < len(lines) and not FENCE.match(lines[i]):
                body.append(lines[i])
                i += 1
            if language == "sh":
                marker = NOT_RUN.match(previous)
                reason = marker[1] if marker else (section_skip[1] if section_skip else None)
                found.append(Block(start + 1, "\n".join(body), reason))
            previous = line
            i += 1
            continue
        if line.strip():
            previous = line
        i += 1
    return found


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int]:
    """The shell's state after a line: an open quote, and how many `$(` are open."""
    i = 0
    while i < len(line):
        c = line[i]
        if quote == "'":
            quote = None if c == "'" else quote
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif c == "\\":
            i += 1
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            break  # a comment
        elif c == "$" and line[i + 1:i + 2] == "(":
            depth += 1
            i += 1
        elif c == ")" and depth:
            depth -= 1
        i += 1
    return quote, depth


def commands(text: str) -> list[list[str]]:
    """The block's lines grouped into commands: a command goes on past a line that ends in a
    backslash or leaves a quote or a `$(` open (a JSON body over several lines)."""
    groups, current = [], []
    quote, depth = None, 0
    for line in text.splitlines():
        current.append(line)
        quote, depth = _scan(line, quote, depth)
        if quote is None and depth == 0 and not line.rstrip().endswith("\\"):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def script(block: Block, base: str) -> str:
    """The block as the test runs it: the test server's URL, and each curl's expected status."""
    out = []
    for group in commands(block.text):
        expected = EXPECT.search(group[-1])
        if expected:
            first = group[0].lstrip()
            assert first.startswith("curl "), (
                f"README line {block.line}: `# → {expected[1]}` marks a curl command's answer, not {first!r}")
            indent = group[0][: len(group[0]) - len(first)]
            group = [f"{indent}DQS_EXPECT={expected[1]} {first}"] + group[1:]
        for line in group:
            for option in (" -o ", " -w ", " -i ", " -D ", " --output ", " --write-out ", " --include "):
                assert not (line.lstrip().startswith("curl") and option in f" {line} "), (
                    f"README line {block.line}: the test's curl check cannot take {option.strip()}")
        out += group
    return "\n".join(out).replace(README_BASE, base)


def readme_admin_password(text: str) -> str:
    match = re.search(r"DQS_ADMIN_PASSWORD=(\S+)\s+make run", text)
    assert match, "the README's quick start starts `make run` with DQS_ADMIN_PASSWORD=..."
    return match[1]


def test_readme_conventions_are_found():
    text = README.read_text()
    found = blocks(text)
    run = [b for b in found if b.skipped is None]
    assert len(run) >= 15, [b.line for b in run]
    assert sum(b.text.count("curl ") for b in run) >= 40
    # Not-run markers stay few and say why.
    skipped = [b for b in found if b.skipped]
    assert all(len(b.skipped) > 8 for b in skipped)
    assert not any("make run" in b.text and b.skipped is None for b in found)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples need curl")
def test_readme_runs_top_to_bottom(tmp_path):
    text = README.read_text()
    server = LocalServer(server_env(DQS_DATA_DIR=str(tmp_path / "data"),
                                    DQS_ADMIN_PASSWORD=readme_admin_password(text))).wait_serving()
    try:
        base = f"http://127.0.0.1:{server.port}"
        parts = [PRELUDE]
        for block in blocks(text):
            if block.skipped is None:
                parts.append(f"echo '### README.md line {block.line}' >&2")
                parts.append(script(block, base))
        log = tmp_path / "curl.log"
        work = tmp_path / "work"  # where the README's commands may write files
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DQS_")}
        env["DQS_CURL_LOG"] = str(log)
        result = subprocess.run(["bash", "-c", "\n".join(parts)], cwd=work, env=env, capture_output=True,
                                text=True, timeout=300)
        calls = log.read_text().splitlines() if log.exists() else []
        assert result.returncode == 0, (
            f"the README failed (exit {result.returncode}) after {len(calls)} curl calls:\n"
            f"{result.stderr[-3000:]}\n--- its output:\n{result.stdout[-2000:]}")
        assert len(calls) >= 40, calls
    finally:
        server.stop()


SAMPLE = """
# Title

```sh
curl -s http://127.0.0.1:8000/status/200
curl -s http://127.0.0.1:8000/status/404 \\
  -H 'X-A: b'                                   # → 404
```

<!-- not run: needs an AWS account -->
```sh
aws s3 ls
```

<!-- not run: a whole section -->
## Deploying

```sh
aws cloudformation deploy
```

### A subsection of it

```sh
aws ssm put-parameter
```

## Next section

```json
{"not": "run"}
```

```sh
echo runs again
```
"""


def test_markers_on_a_sample():
    found = blocks(SAMPLE)
    assert [(b.text.split()[0], b.skipped) for b in found] == [
        ("curl", None), ("aws", "needs an AWS account"), ("aws", "a whole section"),
        ("aws", "a whole section"), ("echo", None)]
    text = script(found[0], "http://127.0.0.1:9")
    assert "DQS_EXPECT=404 curl -s http://127.0.0.1:9/status/404" in text
    assert "DQS_EXPECT" not in text.splitlines()[0]
    with pytest.raises(AssertionError, match="marks a curl command"):
        script(Block(1, "echo hi   # → 400", None), "")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize("command, ok", [
    ("curl -s $BASE/status/201", True),
    ("curl -s $BASE/status/404", False),  # an error the README does not show
    ("curl -s $BASE/status/404   # → 404", True),
    ("curl -s $BASE/status/200   # → 404", False),  # not the error the README shows
    ("X=$(curl -s $BASE/status/500 | cat)", False),  # inside $( | ): still checked
])
def test_the_curl_check(tmp_path, command, ok):
    import http.server
    import threading

    class Status(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(int(self.path.rsplit("/", 1)[1]))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        body = script(Block(1, command, None), base)
        env = dict(os.environ, DQS_CURL_LOG=str(tmp_path / "log"), BASE=base)
        result = subprocess.run(["bash", "-c", PRELUDE + body], env=env, capture_output=True, text=True,
                                timeout=30)
        assert (result.returncode == 0) == ok, result.stderr
    finally:
        server.shutdown()
        server.server_close()
