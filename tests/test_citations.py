"""Every file the project cites exists in the repository: docstrings and comments in dsnb/, the
notebooks (markdown and code), the docs, README.md, NOTATION.md, configs, scripts and benchmarks.

A citation is a markdown link to a local file, any name ending in .md or .ipynb, or a path that
starts at one of the repository's top-level folders (dsnb/, docs/, notebooks/, ...). It resolves
against the repository root or the citing file's folder. Paths outside the repository (/work/...,
a maintainer's machine) are citations a reader cannot follow, so they fail too.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("dsnb", "docs", "notebooks", "tests", "configs", "scripts", "benchmarks", "binder", ".ci")
SOURCES = [
    "README.md",
    "NOTATION.md",
    "docs",
    "dsnb",
    "notebooks",
    "configs",
    "scripts",
    "benchmarks",
    "binder",
]
SUFFIXES = {".py", ".md", ".ipynb", ".yaml", ".yml", ".txt", ".toml", ""}

LINK = re.compile(r"\]\(([^)\s]+)\)")
PATH = re.compile(r"(?<![\w/.~%-])((?:\.{1,2}/)?(?:[\w.-]+/)+[\w.-]*[\w/]|[\w-]+\.(?:md|ipynb))(?![\w/{])")
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:work|home|tmp/dsnb|root)/[\w./-]+")
PLACEHOLDER = re.compile(r"[<>{}*$]|\.\.\.")


def texts():
    """(file, text, markdown?) for every file that may cite another; a notebook cell by cell."""
    for name in SOURCES:
        base = ROOT / name
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in files:
            if path.suffix not in SUFFIXES or "__pycache__" in path.parts or "data" in path.parts[-3:-1]:
                continue
            if path.suffix == ".ipynb":
                for c in json.loads(path.read_text())["cells"]:
                    yield path, "".join(c["source"]), c["cell_type"] == "markdown"
            else:
                yield path, path.read_text(errors="replace"), path.suffix == ".md"


def cited(text: str, markdown: bool = True) -> set[str]:
    """The local paths a text cites: markdown links, *.md / *.ipynb names, and paths under a top
    folder that name a file (a suffix) or go two folders deep ("dsnb/TRL" in a speed-ratio label
    is not a citation; "dsnb/data/results/study" is)."""
    out = set()
    for target in LINK.findall(text) if markdown else []:
        if not re.match(r"(https?:|mailto:|#)", target):
            out.add(target.split("#")[0])
    for token in PATH.findall(text):
        token = token.rstrip(".")
        parts = token.lstrip("./").strip("/").split("/")
        named = "." in parts[-1] or len(parts) > 2
        if token.endswith((".md", ".ipynb")) or (parts[0] in TOP and named) or token.startswith("../"):
            out.add(token)
    return {c for c in out if c and not PLACEHOLDER.search(c)}


def resolves(citation: str, where: Path) -> bool:
    return any((base / citation).exists() for base in (ROOT, where.parent))


def test_the_citation_finder_finds_what_it_should():
    text = "see docs/method.md section 5, [the guide](../docs/trl.md), NOTATION.md, dsnb/rl/loss.py."
    assert cited(text) == {"docs/method.md", "../docs/trl.md", "NOTATION.md", "dsnb/rl/loss.py"}
    assert cited("runs/demo/summary.json, https://x.org/a.md, dsnb.study.stats, OUT/<name>.jsonl") == set()
    assert cited("TEMPLATES[t](inst) ratio dsnb/TRL", markdown=False) == set()
    assert (
        cited("labpath=notebooks%2F01_why_rl_sharpens.ipynb) dsnb/data/problems/countdown{3,4}.jsonl")
        == set()
    )
    assert not resolves("docs/no_such_page.md", ROOT / "README.md")
    assert ABSOLUTE.search("notes in /work/shared/METHOD.md") and not ABSOLUTE.search("https://a.b/work/x")


def test_every_cited_file_exists():
    missing = {}
    for path, text, markdown in texts():
        rel = str(path.relative_to(ROOT))
        for c in sorted(cited(text, markdown)):
            if not resolves(c, path):
                missing.setdefault(rel, []).append(c)
    assert not missing, f"citations of files that do not exist: {missing}"


def test_nothing_cites_a_path_outside_the_repository():
    outside = {}
    for path, text, _ in texts():
        found = ABSOLUTE.findall(text)
        if found:
            outside.setdefault(str(path.relative_to(ROOT)), []).extend(found)
    assert not outside, f"paths a reader of the repository cannot open: {outside}"


def test_the_method_page_has_the_sections_the_code_cites():
    page = (ROOT / "docs" / "method.md").read_text()
    numbers = {int(n) for n in re.findall(r"^## (\d+)\. ", page, flags=re.M)}
    wanted = set()
    for _, text, _ in texts():
        for group in re.findall(r"docs/method\.md\)?`?\s+(?:§|sections?)\s*([\d ,and-]+)", text):
            for a, b in re.findall(r"(\d+)(?:\s*-\s*(\d+))?", group):
                wanted |= set(range(int(a), int(b or a) + 1))
    assert wanted and wanted <= numbers, (
        f"cited sections {sorted(wanted - numbers)} are not in docs/method.md"
    )
