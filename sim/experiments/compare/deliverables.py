"""The settings of a comparison's deliverables: client, title, logo, theme, paper, template.

``report.*`` settings of ``silosim-compare`` (and of ``silosim-compare from=DIR``, which rebuilds the
deliverables of a finished comparison) apply alike to the HTML report, its PDF, the slide deck and
the workbook. They are checked before anything runs: a colour that is not ``#RRGGBB``, a logo that
is not a PNG, JPEG or GIF file, an unknown paper size or a template directory without a template
each give one paragraph naming the key, the value and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

__all__ = [
    "LOGO_TYPES",
    "PAPERS",
    "TEMPLATE_FILES",
    "ReportConf",
    "ThemeConf",
    "logo_kind",
    "quoted",
    "report_errors",
]

PAPERS = ("a4", "letter")
# Logos the HTML page, the slides (python-pptx) and the workbook (openpyxl) can all embed, by their first bytes.
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif", b"GIF89a": "gif"}
LOGO_MAX_BYTES = 5_000_000
TEMPLATE_FILES = ("report.html.j2", "report.css")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_FONT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 \-]{0,39}$")  # a family name; it goes into CSS, slides and cells
MAX_TEXT = 120
MAX_CURRENCY = 5


@dataclass
class ThemeConf:
    """Colours and font of the deliverables (figures keep their colour-blind-safe scenario palette).

    Attributes:
        primary: Headings, the answer's frame, table headers (``#RRGGBB``).
        accent: Warnings and highlights (``#RRGGBB``).
        text: Body text (``#RRGGBB``).
        font: Font family name, e.g. ``Arial`` or ``Georgia`` (letters, digits, spaces and hyphens).
    """

    primary: str = "#0072B2"
    accent: str = "#D55E00"
    text: str = "#1A1A1A"
    font: str = "Arial"


@dataclass
class ReportConf:
    """What the deliverables say about themselves and how they look.

    Attributes:
        client: The client's name, on the title page and slide, and in the workbook (empty: none).
        title: The report's title (empty: the client and the scenarios' display titles, e.g. "Contoso Ltd: Our
            plan vs Siloed scorecards").
        currency: The currency of revenue and lifetime value, a code or a symbol (``EUR``, ``$``; empty: amounts
            are shown as "currency units", which is what ``market.value_mean`` is in).
        logo: A PNG, JPEG or GIF file shown on the title page, the title slide and the workbook.
        theme: Colours and font.
        paper: ``a4`` or ``letter``: the page size of report.pdf and of the printed report.
        pdf: Print report.pdf with headless Chromium when it is installed.
        template_dir: A directory holding your own ``report.html.j2`` and/or ``report.css`` (Jinja2),
            used instead of the bundled ones.
    """

    client: str = ""
    title: str = ""
    currency: str = ""
    logo: str | None = None
    theme: ThemeConf = field(default_factory=ThemeConf)
    paper: str = "a4"
    pdf: bool = True
    template_dir: str | None = None


def quoted(argument: str) -> str:
    """A ``report.*=value`` argument with its value quoted for Hydra, so ``#0072B2`` or ``O'Brien & Co`` pass.

    Values already quoted, and ``null``, ``true`` and ``false``, are left alone; other arguments too.

    >>> quoted("report.theme.primary=#AA3377")
    "report.theme.primary='#AA3377'"
    >>> quoted("report.pdf=false")
    'report.pdf=false'
    """
    key, sep, value = argument.partition("=")
    if not sep or not key.lstrip("+~").startswith("report.") or value in ("null", "true", "false"):
        return argument
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return argument
    # Hydra's quoted strings: a quote is escaped with a backslash, and backslashes just before a quote are doubled
    escaped = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return f"{key}='{escaped}'"


def logo_kind(path: Path) -> str | None:
    """``png``, ``jpeg`` or ``gif`` from a file's first bytes, or None."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError:
        return None
    return next((kind for magic, kind in LOGO_TYPES.items() if head.startswith(magic)), None)


def _logo_errors(logo: str | None) -> list[str]:
    if not logo:
        return []
    path = Path(logo).expanduser()
    allowed = "a PNG, JPEG or GIF image file"
    if not path.exists():
        return [f"`report.logo` is '{logo}', but there is no such file; pass {allowed}"]
    if not path.is_file():
        return [f"`report.logo` is '{logo}', but that is a directory; pass {allowed}"]
    if path.stat().st_size > LOGO_MAX_BYTES:
        return [f"`report.logo` is '{logo}', but it is larger than {LOGO_MAX_BYTES // 1_000_000} MB; pass {allowed}"]
    if logo_kind(path) is None:
        return [f"`report.logo` is '{logo}', but that is not {allowed} (SVG cannot go into slides)"]
    return []


def _template_errors(template_dir: str | None) -> list[str]:
    """The directory exists, holds a template, and each template file parses (Jinja2 syntax)."""
    if not template_dir:
        return []
    path = Path(template_dir).expanduser()
    if not path.is_dir():
        return [f"`report.template_dir` is '{template_dir}', but that is not a directory"]
    present = [path / name for name in TEMPLATE_FILES if (path / name).is_file()]
    if not present:
        return [
            f"`report.template_dir` is '{template_dir}', but it holds neither of {list(TEMPLATE_FILES)}; copy them "
            "from sim/report/templates/ and edit them"
        ]
    errors = []
    for file in present:
        try:
            jinja2.Environment(autoescape=True).parse(file.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            errors.append(f"`report.template_dir` holds {file.name}, which is not a text file")
        except jinja2.TemplateSyntaxError as exc:
            errors.append(
                f"`report.template_dir` holds {file.name}, which is not a valid Jinja2 template (line {exc.lineno}: "
                f"{exc.message})"
            )
    return errors


def _text_errors(report: ReportConf) -> list[str]:
    errors = []
    for key, value in (("client", report.client), ("title", report.title)):
        if len(value) > MAX_TEXT or "\n" in value:
            errors.append(
                f"`report.{key}` is {value[:40]!r}..., but it must be one line of at most {MAX_TEXT} characters"
            )
    if len(report.currency) > MAX_CURRENCY or any(c.isspace() or c.isdigit() for c in report.currency):
        errors.append(
            f"`report.currency` is {report.currency!r}, but it must be a currency code or symbol of at most "
            f"{MAX_CURRENCY} characters without spaces or digits, e.g. EUR, USD or $"
        )
    return errors


def _theme_errors(theme: ThemeConf) -> list[str]:
    errors = [
        f"`report.theme.{key}` is {value!r}, but it must be a colour written #RRGGBB, e.g. #0072B2"
        for key, value in (("primary", theme.primary), ("accent", theme.accent), ("text", theme.text))
        if not _COLOUR.match(str(value))
    ]
    if not _FONT.match(str(theme.font)):
        errors.append(
            f"`report.theme.font` is {theme.font!r}, but it must be a font family name such as Arial or Georgia "
            "(letters, digits, spaces and hyphens, at most 40 characters)"
        )
    return errors


def report_errors(report: ReportConf) -> list[str]:
    """Every problem with the deliverables' settings, each naming the key, the value and what is allowed.

    Args:
        report: The ``report`` settings.

    Returns:
        One phrase per problem (empty if none).
    """
    errors = _text_errors(report) + _theme_errors(report.theme)
    if report.paper not in PAPERS:
        errors.append(f"`report.paper` is {report.paper!r}, but it must be one of {list(PAPERS)}")
    return errors + _logo_errors(report.logo) + _template_errors(report.template_dir)
