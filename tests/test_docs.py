"""The documentation: the site builds strictly, the README's and tutorials' commands run as written, and the
output contract's column lists match what a run writes.

- The site (mkdocs.yml) is built with ``mkdocs build --strict`` into a temporary directory, so a broken link,
  a missing anchor, a page left out of the navigation or a failing reference generator (docs/hooks.py) fails
  the suite. Skipped, saying why, only where the docs packages are not installed.
- Every fenced ``bash`` block of README.md and the tutorials (docs/tutorials/) runs as a script in a scratch
  directory (with ``.venv`` linked to this environment, ``docs`` and ``examples`` to the checkout's), and must exit 0;
  a block whose preceding line is ``<!-- long -->`` (a full comparison, a calibration, ``make demo``) is left out.
- The column tables of docs/reference/outputs.md name exactly the columns a tiny run writes.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_model

from sim.config import compose_config

LONG_MARKER = "<!-- long -->"
TUTORIALS = sorted(p for p in (REPO / "docs" / "tutorials").glob("*.md") if p.name != "index.md")
DOCUMENTED = [REPO / "README.md", *TUTORIALS]
OUTPUTS_PAGE = REPO / "docs" / "reference" / "outputs.md"
BLOCK_TIMEOUT_SECONDS = 300


def bash_blocks(path: Path) -> list[tuple[int, str, bool]]:
    """The fenced ``bash`` blocks of a Markdown file: (line number, script, marked long)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```bash":
            previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
            blocks.append((i + 1, "\n".join(lines[i + 1 : end]), previous == LONG_MARKER))
            i = end
        i += 1
    return blocks


SHORT_BLOCKS = {path: [script for _, script, long in bash_blocks(path) if not long] for path in DOCUMENTED}


def test_the_readme_and_every_tutorial_have_commands_that_the_suite_runs() -> None:
    """The README's and tutorials' commands are found, and some are short enough to run here."""
    for path in DOCUMENTED:
        assert bash_blocks(path), f"{path.relative_to(REPO)} has no ```bash block"
    assert sum(len(scripts) for scripts in SHORT_BLOCKS.values()) >= 3


def test_every_link_of_the_readme_reaches_a_file() -> None:
    """The README is read on its own (on GitHub, in an sdist): its relative links must name files that exist."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = [link.split("#")[0] for link in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in link]
    assert len(links) > 20
    missing = [link for link in links if link and not (REPO / link).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_bash_blocks_marked_long_are_found(tmp_path: Path) -> None:
    """The marker is recognised only on the line just before a block (a negative control for the parser)."""
    sample = tmp_path / "sample.md"
    sample.write_text(f"{LONG_MARKER}\n\n```bash\nmake demo\n```\n\ntext\n\n```bash\necho hi\n```\n")
    assert bash_blocks(sample) == [(3, "make demo", True), (9, "echo hi", False)]


@pytest.mark.e2e
@pytest.mark.parametrize("path", [p for p in DOCUMENTED if SHORT_BLOCKS[p]], ids=lambda p: str(p.relative_to(REPO)))
def test_the_short_commands_of_a_page_run_as_written(path: Path, tmp_path: Path) -> None:
    """A page's short ```bash blocks run in order as scripts, in one scratch directory that looks like a checkout
    (a later block may use what an earlier one wrote, as a reader following the page would)."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "docs").symlink_to(REPO / "docs")
    (tmp_path / "examples").symlink_to(REPO / "examples")  # the consultants' tutorial starts from examples/acme
    for script in SHORT_BLOCKS[path]:
        done = subprocess.run(
            ["/bin/bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_SECONDS,
            check=False,
        )
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert done.returncode == 0, f"{script}\n--- exit {done.returncode}\n{output}"


QUOTED = re.compile(r"^<!-- quoted from: (\S+) -->\n+```[a-z]*\n(.*?)\n```", re.MULTILINE | re.DOTALL)


def quoted_blocks(path: Path) -> list[tuple[str, str]]:
    """The code blocks of a page marked ``<!-- quoted from: FILE -->``: (file, code)."""
    return QUOTED.findall(path.read_text(encoding="utf-8"))


def is_quoted_from(code: str, source: str) -> bool:
    """Whether a quoted block's lines (indentation aside) occur consecutively in a source file."""
    quoted = [line.strip() for line in code.splitlines() if line.strip()]
    lines = [line.strip() for line in source.splitlines()]
    return any(lines[i : i + len(quoted)] == quoted for i in range(len(lines) - len(quoted) + 1))


@pytest.mark.parametrize("page", sorted((REPO / "docs").rglob("*.md")), ids=lambda p: str(p.relative_to(REPO)))
def test_code_a_page_quotes_is_still_in_the_file_it_names(page: Path) -> None:
    """A how-to that quotes the code (add-mechanism.md) cannot drift from it: each quoted block is in its file."""
    for name, code in quoted_blocks(page):
        assert (REPO / name).is_file(), f"{page.name} quotes {name}, which does not exist"
        assert is_quoted_from(code, (REPO / name).read_text(encoding="utf-8")), (
            f"{page.relative_to(REPO)}: the block quoted from {name} is no longer in it:\n{code}"
        )


def test_the_quote_check_finds_quotes_and_catches_a_changed_line(tmp_path: Path) -> None:
    """A negative control: a quote is found with its file, and a line that differs from the file fails the check."""
    assert len(quoted_blocks(REPO / "docs" / "how-to" / "add-mechanism.md")) >= 5
    page = tmp_path / "p.md"
    page.write_text("<!-- quoted from: x.py -->\n```python\n    a = 1\n    b = 2\n```\n")
    assert quoted_blocks(page) == [("x.py", "    a = 1\n    b = 2")]
    assert is_quoted_from("    a = 1\n    b = 2", "def f():\n  a = 1\n  b = 2\n")
    assert not is_quoted_from("a = 1\nb = 3", "a = 1\nb = 2\n")


def documented_columns(section: str) -> list[str]:
    """The column names (backticked, first cell of each row) of a section's table on the outputs page."""
    text = OUTPUTS_PAGE.read_text(encoding="utf-8")
    start = text.index(f"## `{section}` columns")
    end = text.find("\n## ", start + 1)
    names = []
    for line in text[start : None if end < 0 else end].splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([^`]+)`", line.split("|")[1])
    return names


def documented_prose_columns(section: str) -> list[str]:
    """The backticked column names of a section written as prose (departments.parquet), before its values."""
    text = OUTPUTS_PAGE.read_text(encoding="utf-8")
    start = text.index(f"## `{section}` columns")
    end = text.find("\n## ", start + 1)
    body = text[start : None if end < 0 else end]
    # A name is a backticked identifier directly followed by " (", ";", ",", ")", " and" or " per"; the KPIs the
    # prose names as values of `kpi` (conf/org/default.yaml) are not columns.
    kpis = {department.kpi for department in compose_config([]).org.departments.values()}
    return [n for n in re.findall(r"`([a-z_<>]+)`(?= \(|[;,)]| and| per)", body) if n not in kpis]


def assert_same_columns(actual: list[str], documented: list[str], table: str) -> None:
    """Every column written is documented and every documented column is written (``<x>`` is a wildcard)."""
    patterns = [re.compile("^" + re.sub(r"<[a-z]+>", "[a-z_0-9]+", name) + "$") for name in documented]
    undocumented = [c for c in actual if not any(p.match(c) for p in patterns)]
    unwritten = [n for n, p in zip(documented, patterns, strict=True) if not any(p.match(c) for c in actual)]
    assert not undocumented, f"{table}: columns written but not in docs/reference/outputs.md: {undocumented}"
    assert not unwritten, f"{table}: columns in docs/reference/outputs.md that a run does not write: {unwritten}"


def test_the_output_contract_page_names_every_column_a_run_writes() -> None:
    """metrics, departments and customers tables: the page and a tiny run agree, column for column."""
    model = run_model(["scenario=full_transformation"], customers=500, weeks=8)
    assert_same_columns(list(model.metrics_frame().columns), documented_columns("metrics.parquet"), "metrics")
    assert_same_columns(list(model.customers_frame().columns), documented_columns("customers.parquet"), "customers")
    assert_same_columns(
        list(model.departments_frame().columns), documented_prose_columns("departments.parquet"), "departments"
    )


@pytest.mark.slow  # a comparison with its figures and report: about 15 s of CPU
def test_the_output_contract_page_names_every_column_of_a_comparisons_summary(tmp_path: Path) -> None:
    """summary.csv of a tiny comparison: its columns are the page's, ``<outcome>`` standing for each outcome the
    registry puts in a comparison (the list the page generates from the same registry)."""
    import pandas as pd

    from sim import Outcome, compare

    compare(tmp_path / "cmp", scenarios=["siloed_scorecards", "closed_loop_followup"], replications=2,
            customers=300, weeks=8, launcher="basic", **{"report.pdf": False})  # fmt: skip
    registry = sys.modules[Outcome.__module__].OUTCOMES
    outcomes = [o.name for o in registry.values() if o.comparison]
    documented = documented_columns("summary.csv")
    expected = [c for c in documented if "<outcome>" not in c]
    expected += [c.replace("<outcome>", o) for o in outcomes for c in documented if "<outcome>" in c]
    written = list(pd.read_csv(tmp_path / "cmp" / "summary.csv").columns)
    assert sorted(written) == sorted(expected), set(written) ^ set(expected)


def test_the_column_check_fails_on_a_missing_column() -> None:
    """A negative control: a column the page does not name, and a name no column has, are both caught."""
    with pytest.raises(AssertionError, match="not in docs"):
        assert_same_columns(["step", "brand_new"], ["step"], "t")
    with pytest.raises(AssertionError, match="does not write"):
        assert_same_columns(["step"], ["step", "renewals_<class>"], "t")


DOCS_PACKAGES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.skipif(
    any(importlib.util.find_spec(p.split(".")[0]) is None for p in DOCS_PACKAGES),
    reason="the docs packages (mkdocs-material, mkdocstrings[python]) are not installed in this environment",
)
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``: no warning (broken link or anchor, page missing from the nav, failed generator)."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    site = tmp_path / "site"
    commands = (site / "reference" / "commands" / "index.html").read_text(encoding="utf-8")
    assert "silosim-compare" in commands and "usage: silosim-collect" in commands
    groups = (site / "reference" / "configuration" / "index.html").read_text(encoding="utf-8")
    assert 'id="scenario"' in groups and "closed_loop_bucketing" in groups and 'id="hydralauncher"' in groups
    assert "compose_config" in (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    outputs = (site / "reference" / "outputs" / "index.html").read_text(encoding="utf-8")
    assert "customer_lifetime_value" in outputs and "generated:" not in outputs  # the registry's outcomes
    for notebook in ("01_what_if", "02_sweep_analysis"):  # rendered from the executed copies, figures and all
        assert "data:image/png" in (site / "notebooks" / notebook / "index.html").read_text(encoding="utf-8")


def _picture_script() -> object:
    spec = importlib.util.spec_from_file_location("make_images", REPO / "docs" / "make_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_images", module)  # its dataclasses look their module up there
    spec.loader.exec_module(sys.modules["make_images"])
    return sys.modules["make_images"]


def test_every_picture_the_site_shows_is_made_by_the_picture_script() -> None:
    """The pages show only pictures in docs/img/ that docs/make_images.py makes (or that are declared as made
    elsewhere, with where), every such picture is committed, and none lies there unused."""
    script = _picture_script()
    made = {name for names in script.FILES.values() for name in names}
    assert set(script.FILES) == set(script.PICTURES)
    shown = set()
    for page in [REPO / "README.md", *(REPO / "docs").rglob("*.md")]:
        shown |= {Path(link).name for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))}
    committed = {p.name for p in (REPO / "docs" / "img").iterdir()}
    assert shown <= made | set(script.NOT_MADE_HERE), f"pictures not made by the script: {shown - made}"
    assert made | set(script.NOT_MADE_HERE) <= committed, "run `make docs-images` and commit docs/img/"
    assert committed <= shown | {"acme_logo.png"}, f"pictures in docs/img/ that no page shows: {committed - shown}"


PICTURE_TOOLS = {"soffice": "LibreOffice", "pdftoppm": "poppler-utils"}


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.skipif(
    any(shutil.which(t) is None for t in PICTURE_TOOLS) or not Path("/usr/bin/chromium").exists(),
    reason="the picture script needs Chromium (.ci/ensure_chromium), LibreOffice (soffice) and poppler (pdftoppm)",
)
def test_the_picture_script_makes_every_picture_from_the_current_code(tmp_path: Path) -> None:
    """``docs/make_images.py --quick``: every group runs against the current code (the commands, the dashboard in
    Chromium, the deck in LibreOffice) and writes each of its pictures as a PNG; into a scratch directory, so the
    committed pictures are untouched."""
    done = subprocess.run(
        [sys.executable, str(REPO / "docs" / "make_images.py"), "--quick", "--out", str(tmp_path / "img")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    for names in _picture_script().FILES.values():
        for name in names:
            png = tmp_path / "img" / name
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
            assert png.stat().st_size > 5_000, name


def test_the_picture_script_refuses_an_unknown_group(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _picture_script().main(["swimlanes"])
    assert exit_info.value.code == 2
    assert (
        "unknown picture group(s) swimlanes; known: logo, headline, acme, dashboard, morris" in capsys.readouterr().err
    )
