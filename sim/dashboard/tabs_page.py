"""The dashboard's three pages as tabs in the app bar, named for people (Solara's own tabs show the paths)."""

from __future__ import annotations

import solara
import solara.lab

__all__ = ["PAGES", "Navigation"]

# path, tab label
PAGES = (("/", "Live model"), ("/ab", "A/B what-if"), ("/results", "Results"))


@solara.component
def Navigation() -> None:
    """Tabs for the pages, in the app bar; the current page's tab is selected."""
    router = solara.use_router()
    paths = [path for path, _ in PAGES]
    current = "/" + router.path.strip("/").split("/")[0] if router.path.strip("/") else "/"
    index = paths.index(current) if current in paths else 0
    with solara.AppBar(), solara.lab.Tabs(value=index, on_value=lambda i: router.push(paths[i]), align="center"):
        for _, label in PAGES:
            solara.lab.Tab(label)
