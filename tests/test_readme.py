"""The README's Python example runs as written."""

from __future__ import annotations

import re

from conftest import ROOT


def test_readme_python_example_runs(capsys: object) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", text, re.S)
    assert example is not None
    exec(compile(example.group(1), "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines()[0] == "0.288590000"
