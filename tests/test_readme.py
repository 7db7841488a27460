"""Every ```python block of README.md runs as written: in order, in one shared namespace, from
the project root (where a reader following the README stands), with the shipped model."""
import os
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# a fence line, its info string, the body up to the closing fence at the start of a line
BLOCKS = re.findall(r"^```python[ \t]*\n(.*?)^```[ \t]*$", README, flags=re.M | re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 4
    assert any("diagnose_many(frame)" in b for b in BLOCKS)
    assert any("evaluate(cases)" in b for b in BLOCKS)


def test_readme_python_blocks_run_in_order(monkeypatch):
    monkeypatch.chdir(ROOT)
    before = set(os.listdir(ROOT))
    namespace = {"__name__": "__readme__"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # numpy warnings never reach a user
            for number, block in enumerate(BLOCKS, 1):
                code = compile(block, f"README.md python block {number}", "exec")
                try:
                    exec(code, namespace)
                except Exception as exc:  # the block and the error, as a reader would see them
                    pytest.fail(f"README python block {number} fails: {exc!r}\n{block}")
    finally:
        for name in set(os.listdir(ROOT)) - before:  # files the examples wrote (the export)
            (ROOT / name).unlink()
    assert namespace["d"].triage.level == "see_clinician_soon"
    frame = namespace["frame"]
    assert list(namespace["m"].diagnose_many(frame).index) == list(frame.index)
    assert namespace["result"].n_cases == len(namespace["cases"]) == 3000
