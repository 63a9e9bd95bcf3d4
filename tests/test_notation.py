"""NOTATION.md and the code agree: every tag in the table is used in dsnb/, and no tag is used
in dsnb/ that the table lacks."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
TAG = re.compile(r"\[([A-Z]{1,5}\d)\]")


def table_tags():
    text = (ROOT / "NOTATION.md").read_text()
    return {
        m.group(1) for line in text.splitlines() if line.startswith("| [") for m in [TAG.match(line[2:])] if m
    }


def code_tags():
    found = {}
    for path in (ROOT / "dsnb").rglob("*.py"):
        for tag in TAG.findall(path.read_text()):
            found.setdefault(tag, []).append(path.name)
    return found


def test_every_table_tag_is_implemented():
    missing = sorted(table_tags() - set(code_tags()))
    assert not missing, f"tags in NOTATION.md with no implementing docstring in dsnb/: {missing}"


def test_every_code_tag_is_in_the_table():
    unknown = {t: f for t, f in code_tags().items() if t not in table_tags()}
    assert not unknown, f"tags used in dsnb/ but missing from NOTATION.md: {unknown}"


def test_table_has_the_core_tags():
    assert {"DS1", "DS3", "GRPO1", "PK1", "RL1"} <= table_tags()
