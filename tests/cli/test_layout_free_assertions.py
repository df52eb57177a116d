"""Tests assert on what the CLI says, not on where rich wrapped it (issue: a tmp path's length broke one)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: console text read raw and searched for a phrase: a rich line wrap inside the phrase breaks the test
RAW = re.compile(r"(?<!json\.loads\()capsys\.readouterr\(\)\.(out|err)(?!\.split\(\))(?!\))")


def test_console_output_is_compared_with_whitespace_normalised() -> None:
    offenders = []
    for path in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py")]:
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, ("compare ' '.join(text.split()) (or parse --json output) instead of raw console text:\n"
                           + "\n".join(offenders))


def test_the_whole_suite_sees_a_wide_terminal() -> None:
    import os

    assert int(os.environ["COLUMNS"]) >= 1000  # tests/conftest.py: no wrap, no truncated table cells
