"""docs/tutorial.ipynb runs top to bottom (`python -m pytest -m notebook -n 0`; .ci/run runs
it after the default tests): a student's first tour must not break silently."""

import os
import subprocess

import pytest

from conftest import ROOT, SHARED_DATA

pytestmark = pytest.mark.notebook


def test_the_tutorial_runs_top_to_bottom(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    notebook = nbformat.read(ROOT / "docs" / "tutorial.ipynb", as_version=4)
    work = tmp_path / "project"
    work.mkdir()
    if SHARED_DATA.exists():  # the notebook looks for ../shared/data, as from the project root
        os.symlink(SHARED_DATA.parent, tmp_path / "shared")
    os.symlink(ROOT / "docs", work / "docs")  # the project root's docs/ (Figure 1's picture)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    client.execute()  # raises CellExecutionError naming the cell that failed
    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    figures = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert "total weights: 60,965,224" in text
    accuracy = float(text.split("validation accuracy ")[1].split("%")[0])
    assert accuracy > 90, text  # the text says: about 97% (the quickstart's settings)
    if (SHARED_DATA / "cifar10" / "train").exists():  # what section 4 says to expect
        curves = {a: text.split(f"{a}: training error by epoch")[1] for a in ("relu", "tanh")}
        final = {a: float(c.split("\n")[0].split()[-1].rstrip("%")) for a, c in curves.items()}
        print(text)
        assert final["relu"] + 5 < final["tanh"], text
    else:
        assert "No CIFAR-10 beside the project" in text
    assert len(figures) == 4  # curves, filters, ReLU vs. tanh, the photo
    assert (work / "runs" / "tutorial" / "export" / "1" / "saved_model.pb").exists()
    tracked = subprocess.run(  # the tutorial writes only where git ignores
        ["git", "check-ignore", "-q", "docs/runs/tutorial/export"], cwd=ROOT
    )
    assert tracked.returncode == 0, "docs/runs/ is not ignored by .gitignore"
