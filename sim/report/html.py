"""The comparison report: one self-contained HTML page a consultant can email, open or print.

It leads with the answer in plain words and numbers, then shows the figures (embedded as base64
PNG, so the page opens from a file or an attachment with nothing else), the summary table, the
scenarios and the key assumptions, the method (with how many comparisons the answer makes and how
they are adjusted, and the provenance of the runs) and the command that reproduces it.

The page is a Jinja2 template (``templates/report.html.j2`` with ``templates/report.css``),
rendered with autoescaping in Jinja2's sandbox, so every value is escaped and a template reaches
nothing but the report's values; ``report.template_dir`` names a directory whose own
``report.html.j2`` or ``report.css`` is used instead, to rebrand the report without touching Python.
Print styles lay it out on A4 or Letter (``report.paper``).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from pathlib import Path

import jinja2
import jinja2.sandbox
import markupsafe

from sim.experiments.compare.deliverables import logo_kind
from sim.experiments.runs.files import atomic_write
from sim.report.content import ReportContent, Table

__all__ = ["PAPER_CSS", "SECTIONS", "render_report", "table_html", "write_report"]

SECTIONS = ("answer", "figures", "summary", "assumptions", "method", "reproduce")
PAPER_CSS = {"a4": "A4", "letter": "Letter"}


def _environment(template_dir: str | None) -> jinja2.Environment:
    """The bundled templates (strict: a missing value is a bug), or the user's first and then the bundled ones.

    Both render in Jinja2's sandbox: a user's template reaches the report's values, never Python's internals
    (``{{ c.__class__ }}`` raises ``SecurityError``, and the bundled template is used instead).
    """
    loaders: list[jinja2.BaseLoader] = []
    if template_dir:
        loaders.append(jinja2.FileSystemLoader(str(Path(template_dir).expanduser())))
    loaders.append(jinja2.PackageLoader("sim.report", "templates"))
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.Undefined if template_dir else jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["breakable"] = _breakable
    return env


def _breakable(value: object) -> markupsafe.Markup:
    """The value escaped, with a line-break opportunity after each dot, underscore and slash.

    A narrow table column then wraps a dotted key or a path between its parts (``feedback.inner_loop.`` /
    ``capacity``), never inside a word.

    >>> str(_breakable("feedback.inner_loop.capacity"))
    'feedback.<wbr>inner_<wbr>loop.<wbr>capacity'
    """
    return markupsafe.Markup("<wbr>").join(re.split(r"(?<=[._/])(?=.)", str(value)))  # joins escaped parts


def _data_uri(path: Path, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_report(content: ReportContent, warn: Callable[[str], None] | None = None) -> str:
    """The report page as HTML text.

    A user's template (``report.template_dir``) is checked for syntax before any run starts; if it
    still fails while rendering (say, a filter applied to a missing value), the bundled template is
    used and ``warn`` is told why, so the runs' report is never lost to a template.

    Args:
        content: What the deliverables say (:func:`sim.report.content.build_content`).
        warn: Called with a one-line message if the user's template failed.

    Returns:
        The page.
    """
    settings = content.settings
    logo = None
    if settings.logo:
        kind = logo_kind(Path(settings.logo))
        logo = _data_uri(Path(settings.logo), kind) if kind else None
    values = {
        "c": content,
        "images": {f.name: _data_uri(f.png) for f in content.figures},
        "logo": logo,
        "paper": PAPER_CSS.get(settings.paper, "A4"),
    }
    if settings.template_dir:
        try:
            return _environment(settings.template_dir).get_template("report.html.j2").render(values)
        except jinja2.TemplateError as exc:
            if warn is not None:
                warn(
                    f"the template in report.template_dir '{settings.template_dir}' failed ({type(exc).__name__}: "
                    f"{exc}); report.html uses the bundled template"
                )
    return _environment(None).get_template("report.html.j2").render(values)


def write_report(path: Path, content: ReportContent, warn: Callable[[str], None] | None = None) -> Path:
    """Write the self-contained HTML report (atomically).

    Args:
        path: Where to write ``report.html``.
        content: What the deliverables say.
        warn: Told if the user's template failed and the bundled one was used.

    Returns:
        The path written.
    """
    text = render_report(content, warn)
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def table_html(table: Table, css_class: str = "summary") -> str:
    """A table as escaped HTML (for pages that show the summary table outside the report)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in table.rows)
    style = "border-collapse:collapse;font-size:0.85em"
    return f"<table class='{css_class}' style='{style}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
