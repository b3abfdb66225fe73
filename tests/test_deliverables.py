"""A comparison's deliverables: the slides (python-pptx), the workbook (openpyxl), the PDF, the HTML template,
the report settings, display titles and ``silosim-compare from=DIR``."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import CHROMIUM, assert_user_error, run_command, run_main
from openpyxl import load_workbook
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Emu, Inches

from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.runs.provenance import _checkout
from sim.report.figures import FIGURE_NAMES
from sim.report.pdf import pdf_pages
from sim.report.workbook import SHEETS

OUTCOMES = comparison_outcomes()
SCENARIOS = ["siloed_scorecards", "closed_loop_followup", "our_plan"]
HAS_CHROMIUM = Path(CHROMIUM).exists()
FIGURE_ORDER = (
    "true_nps",
    "effects_forest",
    "customers_retention",
    "nps_gap",
    "kpis_vs_outcomes",
    "closed_loop_funnel",
)

pytestmark = pytest.mark.e2e


def _tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A 3-scenario comparison (one of them the user's own, without a title) with a client and a logo."""
    tmp = tmp_path_factory.mktemp("deliverables")
    mine = tmp / "my_scenarios"
    mine.mkdir()
    # builds on a bundled scenario and declares no title: it must not borrow the bundled one's
    (mine / "our_plan.yaml").write_text(
        "# @package _global_\n# Our plan.\ndefaults:\n  - closed_loop_followup\n  - _self_\n"
        "feedback:\n  inner_loop: {capacity: 12.0}\n"
    )
    Image.new("RGB", (300, 100), (170, 51, 119)).save(tmp / "logo.png")
    out = run_command(
        "silosim-compare",
        f"scenarios=[{','.join(SCENARIOS)}]",
        f"scenario_dir={mine}",
        "replications=3",
        "customers=500",
        "weeks=16",
        "launcher=basic",
        "out=cmp",
        "report.client=O'Brien & Co <Insurance>",
        "report.logo=logo.png",
        "report.theme.primary=#AA3377",
        "report.theme.font=Georgia",
        "report.currency=EUR",
        cwd=tmp,
    )
    assert out.returncode == 0, out.stderr
    return tmp / "cmp", out


def test_every_deliverable_is_written_and_announced(made: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    d, out = made
    for name in ("report.html", "report.pptx", "summary.xlsx", "summary.csv", "comparison.json"):
        assert (d / name).stat().st_size > 1000, name
    for step in ("figures (", "report.html (", "report.pptx (", "summary.xlsx ("):
        assert f"silosim-compare: {step}" in out.stderr
    assert f"Slides: {Path('cmp') / 'report.pptx'}" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == f"Report: {Path('cmp') / 'report.html'}"
    assert "Revenue (EUR)" in out.stdout and "CLV (EUR)" in out.stdout  # the terminal table names report.currency
    meta = json.loads((d / "comparison.json").read_text())
    assert meta["titles"] == {
        "siloed_scorecards": "Siloed scorecards",
        "closed_loop_followup": "Closed-loop follow-up",
        "our_plan": "Closed-loop follow-up (our_plan)",  # inherited, so told apart by its file name
    }
    assert meta["report"]["client"] == "O'Brien & Co <Insurance>" and meta["report"]["logo"].endswith("logo.png")
    assert Path(meta["report"]["logo"]).is_absolute()
    assert meta["multiple_comparisons"] == "bonferroni" and meta["family_size"] == 2 * len(OUTCOMES)


def test_slides_have_a_title_the_answer_every_figure_the_table_and_the_method(
    made: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    d, _ = made
    deck = Presentation(str(d / "report.pptx"))
    slides = list(deck.slides)
    titles = [s.shapes.title.text if s.shapes.title is not None else "" for s in slides]
    page = (d / "report.html").read_text()
    figure_titles = re.findall(r"<figcaption><b>([^<]+)\.</b>", page)
    assert len(figure_titles) == 6
    unescape = {"&#39;": "'", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&#34;": '"'}
    for code, char in unescape.items():
        figure_titles = [t.replace(code, char) for t in figure_titles]
    assert titles == [
        "O'Brien & Co <Insurance>: Closed-loop follow-up and Closed-loop follow-up (our_plan) vs Siloed scorecards",
        "The answer",
        *figure_titles,
        "Summary: every scenario against the baseline",
        "Scenarios compared",
        "Key assumptions",
        "Parameters that differ between the scenarios",
        "Appendix: method, statistics, provenance",
    ]
    title_text = " ".join(sh.text_frame.text for sh in slides[0].shapes if sh.has_text_frame)
    assert "Prepared for O'Brien & Co <Insurance>" in title_text
    assert any(sh.shape_type == MSO_SHAPE_TYPE.PICTURE for sh in slides[0].shapes)  # the logo
    answer = " ".join(sh.text_frame.text for sh in slides[1].shapes if sh.has_text_frame)
    assert "Closed-loop follow-up would" in answer and "compared with Siloed scorecards" in answer
    assert "adjusted 95% CI" in answer and "How we know: every scenario was simulated 3 times" in answer
    assert "Bonferroni" not in answer  # the statistics are in the appendix
    for slide, name in zip(slides[2:8], FIGURE_NAMES, strict=True):
        pictures = [sh for sh in slide.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE]
        assert len(pictures) == 1
        titled = d / "figures" / f"{name}.png"
        blob = pictures[0].image.blob  # the figure drawn again without its title (the slide's title states it)
        assert blob != titled.read_bytes()
        (w, h), (fw, fh) = Image.open(io.BytesIO(blob)).size, Image.open(titled).size
        assert 0.8 * fw <= w <= fw and 0.6 * fh < h <= fh, (name, w, h, fw, fh)
        assert slide.has_notes_slide and len(slide.notes_slide.notes_text_frame.text) > 40  # the caption
    table = next(sh for sh in slides[8].shapes if sh.has_table).table
    assert len(table.rows) == len(SCENARIOS) + 1
    assert [table.cell(i, 0).text for i in range(1, 4)] == [
        "Siloed scorecards (baseline)",
        "Closed-loop follow-up",
        "Closed-loop follow-up (our_plan)",
    ]
    method = " ".join(sh.text_frame.text for sh in slides[-1].shapes if sh.has_text_frame)
    assert "Bonferroni" in method
    # the runs' provenance (recorded by every comparison) and the command that reproduces them
    assert "Provenance of the runs: silosim 0.1.0; git_commit" in method and "silosim-compare" in method
    for slide in slides:  # nothing hangs off the slide
        for sh in slide.shapes:
            assert sh.left >= 0 and sh.top >= 0, (titles[slides.index(slide)], sh.name)
            assert sh.left + sh.width <= deck.slide_width and sh.top + sh.height <= deck.slide_height, sh.name


def test_the_title_slide_is_laid_out_for_16_9_and_the_forest_plot_fills_its_slide(
    made: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    d, _ = made
    deck = Presentation(str(d / "report.pptx"))
    width, height = deck.slide_width, deck.slide_height
    assert abs(width / height - 16 / 9) < 0.01
    first = deck.slides[0]
    title, subtitle = first.shapes.title, first.placeholders[1]
    for shape in (title, subtitle):  # centred on the 16:9 slide, not where the 4:3 template puts it
        assert abs(shape.left + shape.width / 2 - width / 2) < Emu(Inches(0.05)), shape.name
        assert shape.width > 0.75 * width and shape.top + shape.height <= height
    assert title.top + title.height <= subtitle.top  # no overlap
    assert title.top > 0.2 * height  # the block sits in the middle of the slide, not at its top
    forest = next(s for s in deck.slides if s.shapes.title is not None and "annual retention" in s.shapes.title.text)
    picture = next(sh for sh in forest.shapes if sh.shape_type == MSO_SHAPE_TYPE.PICTURE)
    body_width, body_height = width - Inches(1.0), Inches(7.02) - Inches(1.35) - Inches(0.1)
    assert picture.width > 0.9 * body_width or picture.height > 0.9 * body_height, (picture.width, picture.height)
    assert picture.width * picture.height > 0.6 * body_width * body_height  # not a strip across the top


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (apt-get install libreoffice-impress) missing")
def test_the_deck_renders_in_libreoffice_one_16_9_page_per_slide(
    made: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """The deck opens in another presentation program than PowerPoint, every slide a 16:9 page."""
    d, _ = made
    out = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(d / "report.pptx")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    pdf = tmp_path / "report.pdf"
    assert out.returncode == 0 and pdf.exists(), out.stderr
    assert pdf_pages(pdf) == len(Presentation(str(d / "report.pptx")).slides)
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    assert box is not None and abs(float(box.group(1)) / float(box.group(2)) - 16 / 9) < 0.01


def test_workbook_sheets_headers_formats_and_values_match_summary_csv(
    made: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    d, _ = made
    book = load_workbook(d / "summary.xlsx")
    assert book.sheetnames == list(SHEETS)
    summary = pd.read_csv(d / "summary.csv").set_index("scenario")
    ws = book["Summary"]
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Scenario", "File", "Description", "Runs"]
    assert header[4] == "True NPS, final week (NPS points): mean"
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref
    for row in ws.iter_rows(min_row=2, values_only=True):
        scenario = row[1]
        assert row[4] == pytest.approx(summary.loc[scenario, "true_nps_mean"], rel=1e-5)
        assert row[header.index("Annual retention, last year: mean")] == pytest.approx(
            summary.loc[scenario, "annual_retention_mean"], rel=1e-5
        )
    assert ws.cell(2, 5).number_format == "+0.0;-0.0;0.0"
    assert ws.cell(2, header.index("Annual retention, last year: mean") + 1).number_format == "0.0%"
    assert all(ws.column_dimensions[c].width >= 10 for c in "ABCDE")
    diffs = book["Paired differences"]
    rows = list(diffs.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2 * len(OUTCOMES)
    col = {name: i for i, name in enumerate(c.value for c in diffs[1])}
    for r in rows:
        low, high = r[col["adjusted 95% CI low (bonferroni)"]], r[col["adjusted 95% CI high (bonferroni)"]]
        diff, raw_low, raw_high = (
            r[col["Difference (scenario - baseline)"]],
            r[col["95% CI low"]],
            r[col["95% CI high"]],
        )
        assert low <= raw_low <= diff <= raw_high <= high  # the adjusted interval is the wider one
        assert r[col["Verdict"]] == ("higher" if low > 0 else "lower" if high < 0 else "no clear difference")
        p, p_adj = r[col["p-value (paired t-test)"]], r[col["p-value adjusted (bonferroni)"]]
        assert p_adj == pytest.approx(min(1.0, len(rows) * p))
    runs = book["Runs"]
    assert runs.max_row == 1 + 3 * len(SCENARIOS)
    about = {r[0]: r[1] for r in book["About"].iter_rows(min_row=2, values_only=True)}
    assert about["Client"] == "O'Brien & Co <Insurance>" and "Provenance" not in about
    assert about["Provenance: silosim"] == "0.1.0" and about["Provenance: git_commit"]
    assert about["Multiple-comparison adjustment"] == "bonferroni"
    assert book["About"]._images  # the logo
    assert any(h == "Cumulative revenue (EUR): mean" for h in header), header
    params = book["Parameters"]
    assert [c.value for c in params[1]][:2] == ["Parameter", "Key"]
    cells = {r[1]: r[2:] for r in params.iter_rows(min_row=2, values_only=True)}
    assert cells["feedback.inner_loop.capacity"] == (0, 5, 12)  # numbers stored as numbers
    assert all(isinstance(v, (int, float)) for v in cells["feedback.inner_loop.capacity"])
    every = [v for r in params.iter_rows(min_row=2, values_only=True) for v in r]
    assert not any(str(v).lower() in ("nan", "none", "true", "false") for v in every), every
    names = [r[0] for r in params.iter_rows(min_row=2, values_only=True)]
    assert "Detractor follow-ups per week per 1,000 initial customers (follow-ups/week/1000 customers)" in names
    assert book["Summary"]["A1"].font.name == "Georgia" and book["Summary"]["A1"].fill.fgColor.rgb.endswith("AA3377")


def test_html_escapes_every_value_and_carries_the_theme(made: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    d, _ = made
    page = (d / "report.html").read_text()
    assert "O&#39;Brien &amp; Co &lt;Insurance&gt;" in page and "<Insurance>" not in page
    assert "--primary: #AA3377" in page and "--font: 'Georgia'" in page
    assert '<img class="logo" src="data:image/png;base64,' in page  # the logo, embedded
    assert "@page { size: A4;" in page and "@media print" in page
    assert "Closed-loop follow-up (our_plan)" in page and "our_plan" in page
    assert '<table class="text provenance">' in page and "<code>git_<wbr>commit</code>" in page  # recorded
    # a dotted key wraps between its parts in a narrow column, never inside a word
    assert "<code>feedback.<wbr>inner_<wbr>loop.<wbr>capacity</code>" in page
    assert "/.venv/bin/python" not in page and "executable" not in page  # the interpreter's path stays out
    if _checkout() is not None:  # run from a git checkout (as the suite is): its commit is recorded and shown
        assert re.search(r"<td>[0-9a-f]{40}</td>", page)


@pytest.mark.skipif(not HAS_CHROMIUM, reason=f"{CHROMIUM} is not installed (the PDF needs Chromium)")
def test_pdf_is_printed_on_a4(made: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    d, out = made
    pdf = (d / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf_pages(d / "report.pdf") >= 4
    boxes = {tuple(round(float(x)) for x in m.split()) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
    assert boxes == {(0, 0, 595, 842)}  # A4 in points, every page
    assert re.search(r"report\.pdf, \d+ pages", out.stderr)


def test_from_dir_rebuilds_in_place_with_new_settings_and_leaves_the_runs(
    made: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    d = tmp_path / "copy"
    shutil.copytree(made[0], d)
    runs_before = _tree_digest(d / "runs")
    meta = json.loads((d / "comparison.json").read_text())
    meta["provenance"] = {"silosim": "0.1.0", "git": {"commit": "abc1234", "dirty": False}, "python": "3.12.4"}
    (d / "comparison.json").write_text(json.dumps(meta))
    out = run_command(
        "silosim-compare",
        f"from={d}",
        "baseline=closed_loop_followup",
        "confidence=0.9",
        "multiple_comparisons=holm",
        "report.client=Second Client",
        "report.paper=letter",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    if HAS_CHROMIUM:  # printed again, on Letter
        pdf = (d / "report.pdf").read_bytes()
        boxes = {tuple(round(float(x)) for x in m.split()) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
        assert boxes == {(0, 0, 612, 792)}
    out = run_command("silosim-compare", f"from={d}", "report.pdf=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "runs " not in out.stderr  # nothing ran
    assert _tree_digest(d / "runs") == runs_before
    summary = pd.read_csv(d / "summary.csv").set_index("scenario")
    assert summary.loc["closed_loop_followup", "true_nps_diff"] == 0
    before = pd.read_csv(made[0] / "summary.csv").set_index("scenario")
    assert summary.loc["siloed_scorecards", "true_nps_diff"] == pytest.approx(
        -before.loc["closed_loop_followup", "true_nps_diff"], abs=1e-4
    )
    assert set(summary["true_nps_diff_adj_level"]) - {0.9} and max(summary["true_nps_diff_adj_level"]) < 1
    meta = json.loads((d / "comparison.json").read_text())
    assert meta["baseline"] == "closed_loop_followup" and meta["confidence"] == 0.9  # kept by the second rebuild
    assert meta["report"]["client"] == "Second Client" and meta["report"]["logo"].endswith("logo.png")
    assert meta["rebuilds"][-1]["command"].startswith("silosim-compare from=")
    assert not (d / "report.pdf").exists()  # not wanted this time: the old one, with old numbers, is gone
    page = (d / "report.html").read_text()
    assert "Prepared for Second Client" in page and "@page { size: Letter;" in page and "Holm" in page
    assert "<code>git.<wbr>commit</code></td><td>abc1234" in page
    method = Presentation(str(d / "report.pptx")).slides[-1]
    assert "git.commit abc1234" in " ".join(sh.text_frame.text for sh in method.shapes if sh.has_text_frame)
    about = {r[0]: r[1] for r in load_workbook(d / "summary.xlsx")["About"].iter_rows(min_row=2, values_only=True)}
    assert about["Provenance: git.commit"] == "abc1234" and about["Client"] == "Second Client"
    assert not list(d.glob(".*tmp*")) and not list(d.glob(".*old*"))


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["replications=5"], ["`replications` cannot be given with `from`", "report.client"]),
        (["baseline=mantra_only"], ["`baseline`", "mantra_only", "siloed_scorecards"]),
        (["confidence=1.5"], ["`confidence`", "1.5", "between 0 and 1"]),
        (["report.theme.accent=orange"], ["`report.theme.accent`", "orange", "#RRGGBB"]),
        (["report.paper=a3"], ["`report.paper`", "a3", "letter"]),
    ],
)
def test_from_dir_bad_settings_are_one_paragraph_and_change_nothing(
    made: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    before = _tree_digest(made[0])
    out = run_main("silosim-compare", f"from={made[0]}", *args, cwd=tmp_path)
    assert_user_error(out, "silosim-compare", fragments)
    assert _tree_digest(made[0]) == before


def test_from_a_directory_that_is_not_a_comparison(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = run_main("silosim-compare", "from=empty", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", ["`from`", "empty", "comparison.json"])
    out = run_main("silosim-compare", "from=nowhere", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", ["`from`", "nowhere", "not a directory"])


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["report.theme.primary=blue"], ["`report.theme.primary`", "blue", "#RRGGBB"]),
        (["report.logo=missing.png"], ["`report.logo`", "missing.png", "no such file"]),
        (["report.logo=notes.txt"], ["`report.logo`", "notes.txt", "PNG, JPEG or GIF"]),
        (["report.theme.font=Arial;}body{x"], ["`report.theme.font`", "font family name"]),
        (["multiple_comparisons=tukey"], ["`multiple_comparisons`", "tukey", "bonferroni", "holm", "none"]),
        (["report.template_dir=broken"], ["`report.template_dir`", "report.html.j2", "Jinja2", "line 2"]),
        (["report.template_dir=notes.txt"], ["`report.template_dir`", "notes.txt", "not a directory"]),
    ],
)
def test_bad_report_settings_stop_before_anything_runs(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.html.j2").write_text("<html>\n{% for x in %}\n</html>")
    before = sorted(p.name for p in tmp_path.iterdir())
    out = run_main("silosim-compare", *args, "replications=2", "customers=300", "weeks=4", "out=cmp", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_users_template_rebrands_the_report(
    made: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    d = tmp_path / "copy"
    shutil.copytree(made[0], d)
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "report.css").write_text("/* ACME HOUSE STYLE */ body { background: #fafafa; }\n")
    out = run_command("silosim-compare", f"from={d}", f"report.template_dir={brand}", "report.pdf=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    page = (d / "report.html").read_text()
    assert "/* ACME HOUSE STYLE */" in page and '<section id="answer">' in page  # their CSS, our page


def test_a_users_template_renders_in_the_sandbox(
    made: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    d = tmp_path / "copy"
    shutil.copytree(made[0], d)
    brand = tmp_path / "brand"
    brand.mkdir()
    # outside a sandbox this prints the globals of the module that defines the report's content
    (brand / "report.html.j2").write_text("<p>LEAK {{ c.__class__.__init__.__globals__ }}</p>\n")
    out = run_command("silosim-compare", f"from={d}", f"report.template_dir={brand}", "report.pdf=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "SecurityError" in out.stderr and "report.html uses the bundled template" in " ".join(out.stderr.split())
    page = (d / "report.html").read_text()
    assert "LEAK" not in page and '<section id="answer">' in page


FORKED_RENDER = """
import os, threading
from sim.report import figures
parent = os.getpid()
drawn = figures._render([lambda i=i: (i, os.getpid()) for i in range(5)])
assert [i for i, _ in drawn] == list(range(5)), drawn
assert all(pid != parent for _, pid in drawn), "not drawn in forked processes"
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # another thread: forking could copy a held lock
drawn = figures._render([lambda i=i: (i, os.getpid()) for i in range(3)])
stop.set()
assert drawn == [(0, parent), (1, parent), (2, parent)], drawn
print("ok")
"""


@pytest.mark.e2e
@pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
    reason="figures are drawn in forked processes on Linux, with two cores or more",
)
def test_figures_are_drawn_in_forked_processes_in_order_and_in_process_where_threads_run() -> None:
    # in a process of its own: pytest's workers run threads of their own, so the forked path is never taken there
    done = subprocess.run([sys.executable, "-c", FORKED_RENDER], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
