"""The documents' examples run top to bottom: README.md's and those of docs/*.md (docs/API.md
holds most of them).

Each document's ```sh blocks are run in order, in ONE bash process (so variables carry over),
against a fresh local server of its own (a free port, an empty data folder, the admin password
the document gives `make run`, if it gives one), with `http://127.0.0.1:8000` replaced by that
server's URL.

The documents' conventions, which this test honours:

- Every ```sh block is run. Other blocks (```json, ```text, plain ```) are output or
  layout, never run.
- `<!-- not run: <why> -->` on the line before a ```sh block keeps that block from being
  run (`make run` itself, commands that need an AWS account, the long test runs). Before
  a heading, it keeps every block of that section (up to the next heading of the same or
  a higher level) from being run; before a document's title, the whole document.
- Every `curl` must get a 2xx answer, unless its command's last line ends with a comment
  `# → NNN`, which says the answer is NNN (an error the document shows on purpose, or a
  success code worth showing); then it must be exactly that. The test runs the examples'
  `curl` through a function that checks this, so their curls must not use `-o`, `-w`, `-i`
  or `-D` of their own.
- Ids are never guessed: an example that needs one takes it from an earlier answer into a shell
  variable (`ID=$(curl ... | pick id)`), so the examples hold whatever ids a server gives out.
  `test_no_example_guesses_an_id` refuses a literal id in a path or a body.
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

PROJECT = Path(__file__).resolve().parents[2]
README = PROJECT / "README.md"
DOCUMENTS = [README, *sorted((PROJECT / "docs").glob("*.md"))]
README_BASE = "http://127.0.0.1:8000"
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*(.+?)\s*-->\s*$")
HEADING = re.compile(r"^(#{1,6})\s")
EXPECT = re.compile(r"#\s*→\s*(\d{3})\b")

PRELUDE = r'''
set -euo pipefail
# The examples' curl, checked: a 2xx answer, or exactly the status its `# → NNN` comment shows.
curl() {
  local body status expect="${DQS_EXPECT:-2xx}"
  body=$(mktemp)
  if ! status=$(command curl -sS -o "$body" -w '%{http_code}' "$@"); then
    echo "docs check: curl $* could not complete" >&2; rm -f "$body"; return 1
  fi
  cat "$body"; rm -f "$body"
  local args="$*"
  echo "$status $expect curl ${args//$'\n'/ }" >> "$DQS_CURL_LOG"  # one line per call
  if [[ $expect == 2xx && $status != 2?? ]]; then
    echo >&2; echo "docs check: curl $* answered $status; the document shows no error here" >&2; return 1
  elif [[ $expect != 2xx && $status != "$expect" ]]; then
    echo >&2; echo "docs check: curl $* answered $status; the document says $expect" >&2; return 1
  fi
}
'''


@dataclass
class Block:
    line: int  # where its fence opens, 1-based
    text: str
    skipped: str | None  # why not run, or None


def blocks(text: str) -> list[Block]:
    """Every ```sh block of a document, with the reason it is not run, if it is not."""
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
                f"line {block.line}: `# → {expected[1]}` marks a curl command's answer, not {first!r}")
            indent = group[0][: len(group[0]) - len(first)]
            group = [f"{indent}DQS_EXPECT={expected[1]} {first}"] + group[1:]
        for line in group:
            for option in (" -o ", " -w ", " -i ", " -D ", " --output ", " --write-out ", " --include "):
                assert not (line.lstrip().startswith("curl") and option in f" {line} "), (
                    f"line {block.line}: the test's curl check cannot take {option.strip()}")
        out += group
    return "\n".join(out).replace(README_BASE, base)


def admin_password(text: str) -> str | None:
    """The admin password a document starts `make run` with, if it names one."""
    match = re.search(r"DQS_ADMIN_PASSWORD=(\S+)\s+make run", text)
    return match[1] if match else None


def _runnable(path: Path) -> list[Block]:
    return [b for b in blocks(path.read_text()) if b.skipped is None]


RUNNABLE = [path for path in DOCUMENTS if _runnable(path)]


def test_the_documents_conventions_are_found():
    api = (PROJECT / "docs" / "API.md").read_text()
    run = [b for b in blocks(api) if b.skipped is None]
    assert len(run) >= 15, [b.line for b in run]
    assert sum(b.text.count("curl ") for b in run) >= 40
    assert admin_password(api), "docs/API.md's first steps start `make run` with DQS_ADMIN_PASSWORD=..."
    assert README in RUNNABLE and PROJECT / "docs" / "API.md" in RUNNABLE
    for path in DOCUMENTS:
        found = blocks(path.read_text())
        # Not-run markers say why, and nothing that starts a server or needs AWS is run.
        assert all(len(b.skipped) > 8 for b in found if b.skipped), path
        for block in found:
            if block.skipped is None:
                assert "make run" not in block.text and not re.search(r"^\s*(aws|sam) ", block.text, re.M), (
                    path.name, block.line)


# A literal id where an id goes: in a path (`/patients/3/`, `/queues/1/recall/`), or as a JSON
# body's value of an id field (`"patient": 1`, `"department": 2`).
GUESSED_IDS = [
    re.compile(r"/(?:users|patients|departments|doctors|appointments|queues|service-points)/[0-9]+\b"),
    re.compile(r'"(?:id|patient|patient_id|doctor|department|service_point|user_id)":\s*[0-9]+'),
    re.compile(r"[?&](?:department|doctor|patient)=[0-9]+\b"),
]


def _code(line: str) -> str:
    """A line of a block without its comment (a `#` after a space, outside quotes, roughly)."""
    return re.split(r"\s#\s", line, maxsplit=1)[0]


def _curls(block: Block) -> int:
    """The curl commands of a block, outside comments."""
    return sum(len(re.findall(r"(?<![\w-])curl ", _code(line))) for line in block.text.splitlines()
               if not line.lstrip().startswith("#"))


def test_no_example_guesses_an_id():
    guessed = []
    for path in RUNNABLE:
        for block in _runnable(path):
            for number, line in enumerate(block.text.splitlines(), start=block.line + 1):
                code = _code(line)
                if code.lstrip().startswith("#"):
                    continue
                guessed += [f"{path.name}:{number}: {line.strip()}" for pattern in GUESSED_IDS if pattern.search(code)]
    assert guessed == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples need curl")
@pytest.mark.parametrize("document", RUNNABLE, ids=[path.name for path in RUNNABLE])
def test_the_examples_run_top_to_bottom(document, tmp_path):
    text = document.read_text()
    password = admin_password(text)
    env = {"DQS_DATA_DIR": str(tmp_path / "data")}
    if password:
        env["DQS_ADMIN_PASSWORD"] = password
    server = LocalServer(server_env(**env)).wait_serving()
    try:
        base = f"http://127.0.0.1:{server.port}"
        parts = [PRELUDE]
        run = [block for block in blocks(text) if block.skipped is None]
        for block in run:
            parts.append(f"echo '### {document.name} line {block.line}' >&2")
            parts.append(script(block, base))
        log = tmp_path / "curl.log"
        work = tmp_path / "work"  # where the examples may write files
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DQS_")}
        env["DQS_CURL_LOG"] = str(log)
        result = subprocess.run(["bash", "-c", "\n".join(parts)], cwd=work, env=env, capture_output=True,
                                text=True, timeout=300)
        calls = log.read_text().splitlines() if log.exists() else []
        assert result.returncode == 0, (
            f"{document.name} failed (exit {result.returncode}) after {len(calls)} curl calls:\n"
            f"{result.stderr[-3000:]}\n--- its output:\n{result.stdout[-2000:]}")
        assert len(calls) == sum(_curls(block) for block in run), calls  # every curl ran, through the check
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
