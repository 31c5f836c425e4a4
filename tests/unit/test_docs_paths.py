"""Every repository path the documents cite exists, and so does every document and heading they
link to: README.md and docs/*.md.

A path is cited in backticks (`chalicelib/api/http.py`, `tests/e2e/`), as a module to run
(`python -m devtools.restore_bench`), or as a markdown link's target (`[API](docs/API.md#accounts)`).
A module may be cited without its `.py` (`devtools/package`), which names it whether it is one
file or a package folder.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
DOCUMENTS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]

# Where the repository's own paths start; anything else in backticks is not a path of it
# (`.dqs-data/` and `build/` are made at run time, `/api/docs` is a URL path).
ROOTS = ("chalicelib/", "tests/", "devtools/", "bench/", "docs/", "deploy/", ".chalice/", ".ci/")
ROOT_FILES = ("app.py", "Makefile", "ruff.toml", "requirements.txt", "requirements-run.txt",
              "requirements-dev.txt", "README.md")

_CODE_SPAN = r"`([^`\n]+)`"
_LINK = r"\]\(([^)\s]+)\)"
_MODULE = r"python3? -m ([A-Za-z_][\w.]*)"
_HEADING = r"^#{1,6}\s+(.+?)\s*$"


def cited_paths(text: str) -> set[str]:
    """The repository paths a document names in backticks."""
    found = set()
    for span in re.findall(_CODE_SPAN, text):
        for token in span.split():
            if any(mark in token for mark in ("<", ">", "*", "...", "$", "{")):
                continue  # a pattern or a placeholder, not a path
            token = token.strip(".,;:()'\"").split("::")[0]
            if token.startswith(ROOTS) or token in ROOT_FILES:
                found.add(token)
    return found


def cited_modules(text: str) -> set[str]:
    return {module for module in re.findall(_MODULE, text)
            if module.split(".")[0] in ("devtools", "bench", "chalicelib", "tests")}


def exists(path: str) -> bool:
    target = PROJECT / path.rstrip("/")
    return target.exists() or target.with_name(target.name + ".py").exists()


def anchors(path: Path) -> set[str]:
    """The anchors of a document's headings, as GitHub makes them."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # a `# comment` in a block is no heading
    slugs = set()
    for heading in re.findall(_HEADING, text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower().replace("`", "")).replace(" ", "-")
        slugs.add(slug)
    return slugs


@pytest.mark.parametrize("document", DOCUMENTS, ids=[path.name for path in DOCUMENTS])
def test_every_cited_path_exists(document):
    text = document.read_text()
    missing = sorted(path for path in cited_paths(text) if not exists(path))
    missing += sorted(module for module in cited_modules(text) if not exists(module.replace(".", "/")))
    assert missing == [], f"{document.relative_to(PROJECT)} cites what the repository does not hold"


@pytest.mark.parametrize("document", DOCUMENTS, ids=[path.name for path in DOCUMENTS])
def test_every_link_leads_somewhere(document):
    broken = []
    for target in re.findall(_LINK, document.read_text()):
        if re.match(r"[a-z]+:", target):  # http(s):, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(target)
    assert broken == []


def test_the_readme_is_an_index():
    lines = (PROJECT / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    linked = set(re.findall(_LINK, "\n".join(lines)))
    for document in ("docs/API.md", "docs/DEPLOYMENT.md", "docs/OPERATIONS.md", "docs/DEVELOPMENT.md",
                     "docs/ARCHITECTURE.md"):
        assert document in linked, document


def test_the_check_finds_what_it_should():
    text = ("See `chalicelib/api/http.py`, `tests/test_readme.py` and `devtools/package`; run "
            "`.venv/bin/python -m devtools.no_such_module` or `make run`, open `/api/docs`, "
            "write `build/package/<stage>/sam.json`, `tests/...`.")
    assert cited_paths(text) == {"chalicelib/api/http.py", "tests/test_readme.py", "devtools/package"}
    assert cited_modules(text) == {"devtools.no_such_module"}
    assert exists("chalicelib/api/http.py") and exists("tests/e2e/") and exists("devtools/package")
    assert not exists("tests/test_readme.py") and not exists("devtools/no_such_module")
    assert "what-make-package-builds" in anchors(PROJECT / "docs" / "DEPLOYMENT.md")
