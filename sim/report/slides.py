"""The comparison as a slide deck (``report.pptx``, python-pptx), ready to present.

Slides, in order: a title slide (the report's title, the client, the date, the logo); the answer
(one sentence per alternative with its numbers and intervals, and the method in one plain line);
one slide per figure, titled with the figure's computed finding (its caption in the speaker
notes); the summary table; the scenarios compared; the key assumptions; the calibration to the
client's figures (when a scenario carries one); the parameters that differ, by their documented
names (several slides if they are many); an appendix with the method, the statistics, the
provenance of the runs and the command that reproduces them. Widescreen 16:9 (the title slide's
placeholders laid out for it), in the theme's colours and font (``report.theme``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.presentation import Presentation as Deck
from pptx.shapes.picture import Picture
from pptx.slide import Slide
from pptx.util import Emu, Inches, Pt

from sim.experiments.runs.files import atomic_write
from sim.report.content import ReportContent, Table

__all__ = ["PARAMETER_ROWS_PER_SLIDE", "write_slides"]

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
MARGIN = Inches(0.5)
TITLE_MARGIN = Inches(1.0)
BODY_TOP = Inches(1.35)
FOOTER_TOP = Inches(7.02)
PARAMETER_ROWS_PER_SLIDE = 12
SLIDE_TABLE_ROWS = 8  # rows of a table below the How sure slide's sentences that fit above its footer
TITLE_ONLY, TITLE_SLIDE = 5, 0  # layouts of python-pptx's default template


def _rgb(colour: str) -> RGBColor:
    return RGBColor.from_string(colour.lstrip("#").upper())


class _Builder:
    """Adds slides to one deck in the theme's font and colours."""

    def __init__(self, content: ReportContent) -> None:
        self.content = content
        self.theme = content.settings.theme
        self.deck: Deck = Presentation()
        self.deck.slide_width, self.deck.slide_height = WIDTH, HEIGHT

    # ------------------------------------------------------------------ pieces
    def _style(self, run: object, size: float, bold: bool = False, colour: str | None = None) -> None:
        font = run.font  # type: ignore[attr-defined]
        font.name = self.theme.font
        font.size = Pt(size)
        font.bold = bold
        font.color.rgb = _rgb(colour or self.theme.text)

    def slide(self, title: str) -> Slide:
        """A title-only slide with the title in the theme's colour, sized to its length, and a footer."""
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[TITLE_ONLY])
        shape = slide.shapes.title
        shape.left, shape.top, shape.width, shape.height = MARGIN, Inches(0.25), WIDTH - 2 * MARGIN, Inches(1.05)
        frame = shape.text_frame
        frame.word_wrap = True
        frame.vertical_anchor = MSO_ANCHOR.MIDDLE
        frame.text = title
        size = 30 if len(title) <= 50 else 22 if len(title) <= 100 else 18
        for paragraph in frame.paragraphs:
            paragraph.alignment = PP_ALIGN.LEFT
            for run in paragraph.runs:
                self._style(run, size, bold=True, colour=self.theme.primary)
        self._footer(slide)
        return slide

    def _footer(self, slide: Slide) -> None:
        text = self.content.footer
        number = len(self.deck.slides)
        box = slide.shapes.add_textbox(MARGIN, FOOTER_TOP, WIDTH - 2 * MARGIN, Inches(0.35))
        paragraph = box.text_frame.paragraphs[0]
        run = paragraph.add_run()
        run.text = f"{text}    {number}"
        self._style(run, 10, colour="#777777")

    def text(
        self, slide: Slide, paragraphs: Sequence[Sequence[tuple[str, bool]]], top: Emu, height: Emu, size: float
    ) -> None:
        """A text box of paragraphs, each a list of (text, bold) runs."""
        box = slide.shapes.add_textbox(MARGIN, top, WIDTH - 2 * MARGIN, height)
        frame = box.text_frame
        frame.word_wrap = True
        for i, runs in enumerate(paragraphs):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            paragraph.space_after = Pt(size * 0.6)
            for text, bold in runs:
                run = paragraph.add_run()
                run.text = text
                self._style(run, size, bold=bold)

    def table(
        self,
        slide: Slide,
        table: Table,
        top: Emu,
        size: float,
        widths: Sequence[float] | None = None,
        text: bool = False,
        left: Sequence[int] = (0,),
    ) -> None:
        """A native table, header in the theme's primary colour; numbers right, text (``text``, ``left``) left."""
        rows, cols = len(table.rows) + 1, len(table.columns)
        height = Inches(0.42) * rows
        shape = slide.shapes.add_table(rows, cols, MARGIN, top, WIDTH - 2 * MARGIN, height)
        grid = shape.table
        total = WIDTH - 2 * MARGIN
        shares = widths or [1.0 / cols] * cols
        for j, share in enumerate(shares):
            grid.columns[j].width = Emu(int(total * share / sum(shares)))
        for i, row in enumerate([table.columns, *table.rows]):
            for j, value in enumerate(row):
                cell = grid.cell(i, j)
                cell.text = str(value)
                cell.margin_left = cell.margin_right = Inches(0.05)
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.alignment = PP_ALIGN.LEFT if j in left or text else PP_ALIGN.RIGHT
                    for run in paragraph.runs:
                        self._style(run, size, bold=i == 0, colour="#FFFFFF" if i == 0 else None)
                if i == 0:
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = _rgb(self.theme.primary)

    def picture(self, slide: Slide, image: Path | bytes, top: Emu, max_width: Emu, max_height: Emu) -> Picture:
        """A picture (a file or PNG bytes) scaled to fit the box, centred horizontally."""
        source = io.BytesIO(image) if isinstance(image, bytes) else image
        with Image.open(source) as opened:
            w, h = opened.size
        scale = min(max_width / w, max_height / h)
        width, height = Emu(int(w * scale)), Emu(int(h * scale))
        if isinstance(source, io.BytesIO):
            source.seek(0)
        return slide.shapes.add_picture(
            source if isinstance(source, io.BytesIO) else str(source), Emu(int((WIDTH - width) / 2)), top, width, height
        )

    # ------------------------------------------------------------------ slides
    def title_slide(self) -> None:
        """The title slide, its placeholders laid out for 16:9 (the default template's are placed for 4:3)."""
        c = self.content
        slide = self.deck.slides.add_slide(self.deck.slide_layouts[TITLE_SLIDE])
        title, subtitle_shape = slide.shapes.title, slide.placeholders[1]
        width = WIDTH - 2 * TITLE_MARGIN
        title.left, title.top, title.width, title.height = TITLE_MARGIN, Inches(2.0), width, Inches(1.9)
        subtitle_shape.left, subtitle_shape.top = TITLE_MARGIN, Inches(4.1)
        subtitle_shape.width, subtitle_shape.height = width, Inches(1.7)
        title.text_frame.word_wrap = True
        title.text_frame.vertical_anchor = MSO_ANCHOR.BOTTOM
        title.text = c.title
        size = 36 if len(c.title) <= 60 else 30 if len(c.title) <= 100 else 24
        for paragraph in title.text_frame.paragraphs:
            paragraph.alignment = PP_ALIGN.CENTER
            for run in paragraph.runs:
                self._style(run, size, bold=True, colour=self.theme.primary)
        lines = [x for x in (f"Prepared for {c.client}" if c.client else "", c.date, c.subtitle) if x]
        subtitle = subtitle_shape.text_frame
        subtitle.word_wrap = True
        subtitle.vertical_anchor = MSO_ANCHOR.TOP
        subtitle.text = "\n".join(lines)
        for paragraph in subtitle.paragraphs:
            paragraph.alignment = PP_ALIGN.CENTER
            for run in paragraph.runs:
                self._style(run, 20)
        if c.settings.logo:
            logo = self.picture(slide, Path(c.settings.logo), Inches(0.4), Inches(2.6), Inches(1.1))
            logo.left = WIDTH - MARGIN - logo.width

    def answer_slide(self) -> None:
        """The answer, and the method in one plain line (the statistics are in the appendix)."""
        c = self.content
        slide = self.slide("The answer")
        size = 20 if len(c.answers) <= 3 else 16 if len(c.answers) <= 5 else 13
        paragraphs = [[(a.title, True), (a.predicate, False)] for a in c.answers]
        self.text(slide, paragraphs, BODY_TOP, Inches(4.6), size)
        notes = [[(c.method_summary, False)]]
        if c.failures:
            notes.append([(f"{len(c.failures)} run(s) failed and are left out: {'; '.join(c.failures)}.", False)])
        self.text(slide, notes, Inches(6.05), Inches(0.9), 12)

    def figure_slides(self) -> None:
        for figure in self.content.figures:
            slide = self.slide(figure.title)
            image = figure.untitled_png or figure.png  # the slide's title states the finding; not twice
            self.picture(slide, image, BODY_TOP, WIDTH - 2 * MARGIN, FOOTER_TOP - BODY_TOP - Inches(0.1))
            slide.notes_slide.notes_text_frame.text = figure.caption

    def summary_slide(self) -> None:
        c = self.content
        slide = self.slide("Summary: every scenario against the baseline")
        keep = [0, 2, 3, 5, 6, 7, 9]  # scenario, NPS, NPS vs baseline, retention, vs baseline, customers, CLV
        table = Table([c.summary.columns[j] for j in keep], [[row[j] for j in keep] for row in c.summary.rows])
        size = 12 if len(table.rows) <= 5 else 10
        self.table(slide, table, BODY_TOP, size, widths=[2.2, 1.6, 1.8, 1.6, 1.8, 1.6, 1.4])
        self.text(slide, [[(c.summary_note, False)]], Inches(6.3), Inches(0.6), 11)

    def uncertainty_slide(self) -> None:
        """How sure (uncertainty=parameters): the sentences, then true NPS and retention over the plausible worlds."""
        c = self.content
        sentences = c.extra.get("how_sure", [])
        if c.uncertainty is None:
            if sentences:  # draws were run, but too few plausible worlds to measure: the slide says so
                slide = self.slide("How sure: not measured, the ranges are simulation noise only")
                self.text(slide, [[(t, False)] for t in sentences], BODY_TOP, Inches(2.0), 14)
            return
        keep = ("True NPS", "Annual retention")  # the rest of the outcomes are in the report and the workbook
        rows = [row for row in c.uncertainty.rows if row[0].startswith(keep)]
        if len(rows) > SLIDE_TABLE_ROWS:  # five scenarios or more: true NPS alone fits the slide
            rows = [row for row in rows if row[0].startswith(keep[0])]
        slide = self.slide("How sure: the effects over plausible worlds, not only simulation noise")
        length = sum(len(t) for t in sentences)
        size = 13 if length <= 500 else 11 if length <= 900 else 9
        self.text(slide, [[(t, False)] for t in sentences], BODY_TOP, Inches(2.0), size)
        widths = [1.5, 1.9, 1.1, 1.5, 1.5, 1.4, 1.1, 2.2]
        top, size = BODY_TOP + Inches(2.1), 10 if len(rows) <= 6 else 8
        self.table(slide, Table(c.uncertainty.columns, rows), top, size, widths, left=(0, 1, len(widths) - 1))

    def assumption_slides(self) -> None:
        c = self.content
        slide = self.slide("Scenarios compared")
        scenarios = Table(c.scenarios.columns[:2], [row[:2] for row in c.scenarios.rows])
        self.table(slide, scenarios, BODY_TOP, 14 if len(scenarios.rows) <= 5 else 11, widths=[1.0, 2.6], text=True)
        slide = self.slide("Key assumptions")
        length = sum(len(a) for a in c.assumptions)
        size = 16 if length <= 900 else 14 if length <= 1400 else 12
        self.text(slide, [[(f"• {a}", False)] for a in c.assumptions], BODY_TOP, FOOTER_TOP - BODY_TOP, size)
        if c.calibration:
            slide = self.slide("Calibration to the client's figures")
            length = sum(len(a) for a in c.calibration)
            size = 14 if length <= 1400 else 12 if length <= 2000 else 10
            self.text(slide, [[(f"• {a}", False)] for a in c.calibration], BODY_TOP, FOOTER_TOP - BODY_TOP, size)
        if c.parameters is None:
            return
        rows = c.parameters.rows
        chunks = [rows[i : i + PARAMETER_ROWS_PER_SLIDE] for i in range(0, len(rows), PARAMETER_ROWS_PER_SLIDE)]
        for k, chunk in enumerate(chunks, start=1):
            part = f" ({k} of {len(chunks)})" if len(chunks) > 1 else ""
            slide = self.slide(f"Parameters that differ between the scenarios{part}")
            columns = [
                c.parameters.columns[0],
                *c.parameters.columns[2:],
            ]  # documented names; the keys are in the report
            rows = [[row[0], *row[2:]] for row in chunk]
            widths = [3.2] + [1.0] * (len(columns) - 1)
            self.table(slide, Table(columns, rows), BODY_TOP, 11 if len(columns) <= 5 else 9, widths)

    def method_slide(self) -> None:
        c = self.content
        slide = self.slide("Appendix: method, statistics, provenance")
        paragraphs = [[(p, False)] for p in c.method[1:]]
        paragraphs.append([(c.answer_note, False)])
        paragraphs.append([("How many comparisons. ", True), (c.comparisons_note, False)])
        if c.provenance:
            shown = "; ".join(f"{k} {v}" for k, v in c.provenance[:10])
            more = f"; and {len(c.provenance) - 10} more in comparison.json" if len(c.provenance) > 10 else ""
            paragraphs.append([("Provenance of the runs: ", True), (shown + more, False)])
        else:
            paragraphs.append([("Provenance of the runs: ", True), ("not recorded.", False)])
        paragraphs.append([("Reproduce: ", True), (c.command, False)])
        self.text(slide, paragraphs, BODY_TOP, FOOTER_TOP - BODY_TOP, 12)


def write_slides(path: Path, content: ReportContent) -> Path:
    """Write the slide deck (atomically).

    Args:
        path: Where to write ``report.pptx``.
        content: What the deliverables say (:func:`sim.report.content.build_content`).

    Returns:
        The path written.
    """
    builder = _Builder(content)
    builder.title_slide()
    builder.answer_slide()
    builder.figure_slides()
    builder.summary_slide()
    builder.uncertainty_slide()
    builder.assumption_slides()
    builder.method_slide()
    return atomic_write(path, lambda tmp: builder.deck.save(str(tmp)))
