"""The examples in the library's docstrings run, and hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sim

MODULES = sorted(m.name for m in pkgutil.walk_packages(sim.__path__, "sim.") if m.name != "sim._conf")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {name}"


def test_there_are_doctests_to_run() -> None:
    """The measures carry worked examples (NPS of a known score list, and so on)."""
    attempted = sum(doctest.testmod(importlib.import_module(n)).attempted for n in ("sim.engine.metrics",))
    assert attempted >= 5
