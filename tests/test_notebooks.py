"""The notebooks run top to bottom in a real kernel (on their own small settings) without error."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == ["01_what_if.ipynb", "02_sweep_analysis.ipynb"]


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs)


def test_committed_notebooks_match_their_build_script() -> None:
    """notebooks/build.py writes the notebooks; the committed files are its output (no stale copies)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", NOTEBOOKS[0].parent / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, cells in (("01_what_if.ipynb", build.WHAT_IF), ("02_sweep_analysis.ipynb", build.SWEEP)):
        fresh = build.notebook(cells)
        committed = nbformat.read(NOTEBOOKS[0].parent / name, as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], name


EXECUTED = Path(__file__).resolve().parent.parent / "docs" / "notebooks"


def test_the_sites_executed_notebooks_are_the_notebooks_run_without_error() -> None:
    """docs/notebooks/ (what the site renders; `make notebooks` writes it) holds every notebook, with the committed
    notebook's cells, executed: every code cell ran, in order, none failed, and each notebook shows a figure."""
    assert sorted(p.name for p in EXECUTED.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        source = nbformat.read(path, as_version=4)
        executed = nbformat.read(EXECUTED / path.name, as_version=4)
        assert [c.source for c in executed.cells] == [c.source for c in source.cells], (
            f"docs/notebooks/{path.name} is stale: run `make notebooks` after editing notebooks/build.py"
        )
        code = [c for c in executed.cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), f"{path.name} not run in order"
        outputs = [o for c in code for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no figure"
