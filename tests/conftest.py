"""Shared helpers: compose a configuration like the CLI does and run it; run a console script; check user errors.

Populations are small (1,000-5,000 customers) and horizons short (at most a year), so a run
takes well under a second; runs that several tests share are cached for the session.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from hydra.core.config_store import ConfigStore

from sim.config import compose_config
from sim.engine.model import SiloModel

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p.stem for p in (REPO / "scenarios").glob("*.yaml"))
BIN = Path(sys.executable).parent  # this virtual environment's console scripts


def run_command(
    program: str,
    *args: str,
    cwd: Path,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one of silosim's console scripts (``silosim``, ``silosim-compare``, ...) as a user would."""
    return subprocess.run(
        [str(BIN / program), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def run_main(program: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a console script's ``main(argv)`` in this process, as :func:`run_command` would run the script.

    Its exit status (``SystemExit``), stdout and stderr are captured; the working directory, ``sys.argv`` and
    the environment are restored afterwards. For bad-input tables: no process, no fresh imports or JIT.
    """
    (entry,) = metadata.entry_points(group="console_scripts", name=program)
    main = entry.load()
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_cwd, saved_argv, saved_env = os.getcwd(), sys.argv, dict(os.environ)
    code: int = 0
    try:
        os.chdir(cwd)
        sys.argv = [program, *args]
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                main(list(args))
            except SystemExit as exc:
                if isinstance(exc.code, str):
                    print(exc.code, file=sys.stderr)
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([program, *args], code, stdout.getvalue(), stderr.getvalue())


def assert_user_error(out: subprocess.CompletedProcess[str], program: str, fragments: Iterable[str] = ()) -> str:
    """A user error as the brief asks: exit 2, one paragraph headed ``<program>: error:``, no traceback,
    naming every fragment; returns the paragraph with its line breaks folded."""
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.startswith(f"{program}: error:") and "Traceback" not in out.stderr, out.stderr
    assert "\n\n" not in out.stderr.strip()  # one paragraph
    paragraph = " ".join(out.stderr.split())
    for fragment in fragments:
        assert fragment in paragraph, (fragment, paragraph)
    return paragraph


# Debian's chromium, driven by Playwright through executable_path (Playwright's own download is not used).
CHROMIUM = os.environ.get("SILOSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def run_model(overrides: Iterable[str] = (), customers: int = 2000, weeks: int = 52, seed: int = 0) -> SiloModel:
    """Compose a configuration from Hydra overrides (as ``silosim`` would), build the model and run it."""
    cfg = compose_config([f"customers={customers}", f"weeks={weeks}", f"seed={seed}", *overrides])
    return SiloModel(cfg).run()


_CACHE: dict[tuple[tuple[str, ...], int, int, int], SiloModel] = {}


def cached_model(overrides: Iterable[str] = (), customers: int = 2000, weeks: int = 52, seed: int = 0) -> SiloModel:
    """Like :func:`run_model`, but each configuration runs once per session (treat the model as read-only)."""
    key = (tuple(overrides), customers, weeks, seed)
    if key not in _CACHE:
        _CACHE[key] = run_model(key[0], customers, weeks, seed)
    return _CACHE[key]


def metrics(overrides: Iterable[str] = (), customers: int = 2000, weeks: int = 52, seed: int = 0) -> pd.DataFrame:
    """The metrics frame of a cached run (a copy, so tests cannot disturb each other)."""
    return cached_model(overrides, customers, weeks, seed).metrics_frame()


@pytest.fixture(scope="session")
def run() -> Callable[..., SiloModel]:
    """``run(overrides, customers=2000, weeks=52, seed=0)`` -> a fresh, finished SiloModel."""
    return run_model


@pytest.fixture(scope="session")
def cached() -> Callable[..., SiloModel]:
    """``cached(overrides, customers=2000, weeks=52, seed=0)`` -> a finished SiloModel shared by the session."""
    return cached_model


@pytest.fixture(scope="session")
def metrics_of() -> Callable[..., pd.DataFrame]:
    """``metrics_of(overrides, ...)`` -> the metrics frame of a cached run."""
    return metrics


@pytest.fixture(scope="session")
def baseline() -> SiloModel:
    """The siloed baseline, 2,000 customers, one year, seed 0 (shared; read-only)."""
    return cached_model(["scenario=siloed_scorecards"])


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed on demand; skip (with the reason) only if that is impossible."""
    if not os.access(CHROMIUM, os.X_OK):
        subprocess.run([str(REPO / ".ci" / "ensure_chromium")], check=False, timeout=900)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"{CHROMIUM} is missing and .ci/ensure_chromium could not install it "
            "(that needs root, apt-get and Debian's package servers)"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: pip install -e '.[dev]'")
    return CHROMIUM


# ------------------------------------------------------------------------ scheduling under pytest-xdist
# ``make test`` runs the suite on every core with ``--dist loadgroup`` (pyproject.toml's addopts). Each worker
# builds its own module-scoped fixtures, so the tests that share one (a comparison directory, a calibration, the
# docking runs) are sent to one worker as a group: built once, not once per worker that happens to get one of them.
# Everything else is spread test by test.
_SHARED_SCOPES = ("package", "module", "class")


def pytest_itemcollected(item: pytest.Item) -> None:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    if any(defs and defs[-1].scope in _SHARED_SCOPES for defs in info.name2fixturedefs.values()):
        item.add_marker(pytest.mark.xdist_group(Path(item.nodeid.split("::")[0]).stem))


def _group_in_node_id(item: pytest.Item) -> None:
    """Suffix the node id with its group (``@test_docking``), which is how the scheduler sees the group.

    pytest-xdist 3.8 does this by writing ``item._nodeid``, which pytest 9.2 no longer reads (its node ids are
    structured: pytest-dev/pytest-xdist#1386), so every group would be spread test by test without a word. This
    does what the fix proposed there does; where xdist's own suffix took, it changes nothing."""
    names = sorted(
        {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
    )
    nodeid = item.nodeid
    if names and hasattr(item, "_id") and nodeid.rfind("@") <= nodeid.rfind("]"):
        from _pytest.nodeid import coerce_node_id  # pytest >= 9.2

        item._id = coerce_node_id(f"{nodeid}@{'_'.join(names)}")


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0].split("@")[0]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest work first, so that no long test starts last and holds the run's end (``--no-loadscope-reorder``
    keeps this order under xdist). Whole modules move, in pytest's order within each, so a module-scoped fixture is
    never built twice in one process: first the modules whose slow tests share a fixture (one indivisible unit of
    work), then those with other slow tests, then the end-to-end ones, then the rest; a module marked
    ``start_first`` (the docking: its runs take twice any other unit's time, on two processes of their own) before
    all of them."""

    def rank(item: pytest.Item) -> int:
        slow, e2e = item.get_closest_marker("slow"), item.get_closest_marker("e2e")
        if item.get_closest_marker("start_first"):
            return 0
        if slow and item.get_closest_marker("xdist_group"):
            return 1
        return 2 if slow else 3 if e2e else 4

    ranks: dict[str, int] = {}
    for item in items:
        ranks[_module(item)] = min(ranks.get(_module(item), 4), rank(item))
    items.sort(key=lambda item: ranks[_module(item)])
    if getattr(config.option, "loadgroup", False):  # set in the workers of --dist loadgroup
        for item in items:
            _group_in_node_id(item)


@contextmanager
def forgetting_user_groups() -> Iterator[None]:
    """What runs inside leaves the ConfigStore's scenario and experiment groups, and their environment variables, as
    it found them (a user's scenario directory registered by a command run in-process is forgotten afterwards)."""
    variables = ("SILOSIM_SCENARIO_DIR", "SILOSIM_EXPERIMENT_DIR")
    saved = {variable: os.environ.pop(variable, None) for variable in variables}
    repo = ConfigStore.instance().repo
    before = {group: set(repo.get(group, {})) for group in ("scenario", "experiment")}
    try:
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        for group, names in before.items():
            for name in set(repo.get(group, {})) - names:
                del repo[group][name]


@pytest.fixture(autouse=True)
def _forget_user_groups() -> Iterator[None]:
    """Every test that registers a user's scenario directory leaves the ConfigStore and environment as it found them.

    Otherwise a later test in the same worker (the dashboard's scenario list) would see the test's scenarios. A module
    fixture that registers one uses :func:`forgetting_user_groups` itself.
    """
    with forgetting_user_groups():
        yield
