"""Every notebook in notebooks/ runs top to bottom as Jupyter runs it: the kernel started in
notebooks/, no path set up by the test (the notebooks find the package themselves), no error,
nothing on stderr (no warnings), and the plots inline as images in the outputs."""
import functools
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# notebook -> the plots it must show (counted as image/png outputs)
IMAGES = {"quickstart.ipynb": 1, "analysis.ipynb": 2, "explain.ipynb": 0}


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} == set(IMAGES)


def outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@functools.cache
def execute(name):
    """The notebook executed once per test session."""
    path = ROOT / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_notebook_runs_without_errors_or_warnings(name):
    nb = execute(name)
    errors = [o for o in outputs(nb) if o.get("output_type") == "error"]
    assert not errors, errors
    stderr = [o["text"] for o in outputs(nb) if o.get("name") == "stderr"]
    assert not stderr, stderr
    shown = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    assert len(shown) >= 3


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_notebook_plots_are_inline_images(name):
    nb = execute(name)
    images = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) >= IMAGES[name]
    assert not any("matplotlib.use(" in "".join(c.source) for c in nb.cells)


def test_analysis_scores_a_thousand_held_out_cases():
    nb = execute("analysis.ipynb")
    summary = next(o for o in outputs(nb) if "literature" in str(o.get("data", {}))
                   and "brier" in str(o.get("data", {})))
    assert "1000" in summary["data"]["text/plain"]
