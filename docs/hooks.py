"""MkDocs hook: the reference pages that are generated from the code at every build, so they cannot drift.

A page asks for a generated section with a marker comment on a line of its own:

- ``<!-- generated: commands -->``: every console script of ``[project.scripts]`` in pyproject.toml with the
  help page it prints (``NAME --help``, run in one subprocess of this Python, so a new command appears by itself);
- ``<!-- generated: config-groups -->``: the primary configurations and every option of every config group under
  ``conf/`` with the header comment that documents it;
- ``<!-- generated: comparison-outcomes -->``: the outcomes of every comparison's summary table (the outcome registry's
  ``comparison=True`` entries), whose columns the output contract names.

Wired in by ``hooks:`` in mkdocs.yml; ``make docs`` runs it, and ``tests/test_docs.py`` builds the site strictly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)
HELP_TIMEOUT_SECONDS = 600  # all the commands' pages, on a busy machine


def console_scripts() -> dict[str, str]:
    """The console scripts of pyproject.toml, name -> ``module:function``."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return dict(tomllib.load(f)["project"]["scripts"])


# Run in one subprocess of this interpreter: imports every command once (one start-up, not one per command), calls
# each ``main(["--help"])`` with its output captured, and prints {target: [exit status, help text]} as JSON.
HELP_SCRIPT = """
import contextlib, io, importlib, json, sys
sys.argv[0] = "prog"
texts = {}
for target in sys.argv[1:]:
    module, function = target.split(":")
    main = getattr(importlib.import_module(module), function)
    out = io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out):
        try:
            main(["--help"])
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    texts[target] = [status, out.getvalue()]
json.dump(texts, sys.stdout)
"""


def help_texts(targets: list[str]) -> dict[str, str]:
    """What ``main(["--help"])`` of each console script's ``module:function`` prints."""
    env = {**os.environ, "COLUMNS": "100", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed argument list)
        [sys.executable, "-c", HELP_SCRIPT, *targets],
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT_SECONDS,
        env=env,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the commands' --help pages could not be collected:\n{done.stderr[-3000:]}")
    texts = {}
    for target, (status, text) in json.loads(done.stdout).items():
        if status != 0:
            raise RuntimeError(f"{target} --help exited with {status}:\n{text}")
        texts[target] = text.strip()
    return texts


def commands_section() -> str:
    """One section per console script: its name, its entry point and its help page."""
    scripts = sorted(console_scripts().items())
    texts = help_texts([target for _, target in scripts])
    out = []
    for name, target in scripts:
        text = texts[target].replace("usage: prog", f"usage: {name}")
        out += [f"## `{name}`", "", f"Entry point `{target}`. `{name} --help` prints:", "", "```text", text, "```", ""]
    return "\n".join(out)


def header_comment(path: Path) -> str:
    """The prose a YAML file opens with (its first comment paragraph, without ``# @package`` and example lines)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith("@package"):
            continue
        if lines and (not text or line.startswith("#  ")):  # a blank line, or indented examples: the prose ends
            break
        if text:
            lines.append(text)
    return " ".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "(no header comment)"


def config_groups_section() -> str:
    """The primary configurations, then each config group with its options and their header comments."""
    out = ["## Primary configurations", "", "| file | what it configures |", "|---|---|"]
    out += [f"| `conf/{p.name}` | {_cell(header_comment(p))} |" for p in sorted(CONF.glob("*.yaml"))]
    # os.walk follows links: conf/scenario is a link to scenarios/ (Path.rglob does not follow it on Python 3.12).
    groups = sorted(
        Path(d)
        for d, _, names in os.walk(CONF, followlinks=True)
        if Path(d) != CONF and any(n.endswith(".yaml") for n in names)
    )
    for group_dir in groups:
        group = group_dir.relative_to(CONF).as_posix()
        shown = "`scenarios/` (linked as `conf/scenario`)" if group == "scenario" else f"`conf/{group}/`"
        out += ["", f"## `{group}`", "", f"Options in {shown}, chosen with `{group}=NAME`.", ""]
        out += ["| option | what it is |", "|---|---|"]
        out += [f"| `{p.stem}` | {_cell(header_comment(p))} |" for p in sorted(group_dir.glob("*.yaml"))]
    return "\n".join(out) + "\n"


def comparison_outcomes_section() -> str:
    """The outcomes every comparison's summary table holds, from the outcome registry: name, label, unit."""
    import sim

    registry = sys.modules[sim.Outcome.__module__].OUTCOMES  # the registry lives beside the Outcome class
    rows = [o for o in registry.values() if o.comparison]
    out = ["| `<outcome>` | label | unit | in `summary.json` |", "|---|---|---|---|"]
    out += [
        f"| `{o.name}` | {_cell(o.label)} | {o.unit} | {f'`{o.summary_key}`' if o.summary_key else ''} |" for o in rows
    ]
    return "\n".join(out) + "\n"


SECTIONS = {
    "commands": commands_section,
    "config-groups": config_groups_section,
    "comparison-outcomes": comparison_outcomes_section,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace every generation marker of a page by the section it names."""

    def generate(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SECTIONS:
            raise KeyError(f"{page.file.src_path}: unknown generated section '{name}' (known: {', '.join(SECTIONS)})")
        return SECTIONS[name]()

    return MARKER.sub(generate, markdown)
