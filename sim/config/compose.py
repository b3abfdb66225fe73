"""The one way to compose a configuration with Hydra, and the one explainer of what went wrong.

Every command and library function that needs a configuration calls :func:`compose` (or
:func:`compose_config` for a run of the model). The primary configs live in ``conf/`` at the top of
the repository, shipped inside the wheel as the package ``sim._conf`` and found through Hydra's
``pkg://`` search path, so a non-editable install works as well as a checkout. A composition
error of any kind (an unknown scenario, a misspelt key, a value of the wrong type, a file that is
not a calibrated file) becomes one :class:`~sim.config.errors.ConfigError` paragraph naming the
key, the value and what is allowed; it never echoes a file's content or Hydra's search path.

The user's own files are data: a scenario directory (``scenario_dir=PATH``), an experiment
directory (``experiment_dir=PATH``) and a calibrated file (``calibration=PATH``) are read as YAML
mappings and registered in Hydra's ConfigStore; nothing in them is imported or run, and no
OmegaConf interpolation or resolver in them is evaluated (``${oc.env:...}`` and the like are
refused, naming the file and the key), so a file shared by someone else cannot copy the
environment into a deliverable. A file is at most :data:`MAX_FILE_BYTES`, and its YAML aliases
may expand to at most :data:`MAX_VALUES` values (an alias bomb is refused before it grows). A
calibrated file must carry the ``calibration_source`` marker silosim-calibrate writes, and may set
only model parameters (never the seed, the population or the horizon). The project's own ``conf/``
keeps its interpolations.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException, ValidationError

from sim.config.errors import ConfigError
from sim.config.run import RunConfig
from sim.config.walk import find, fmt_range, suggest_key

__all__ = [
    "CONF_MODULE",
    "USER_DIR_KEYS",
    "compose",
    "compose_config",
    "group_options",
    "hydra_context",
    "load_yaml_mapping",
    "register_group_dir",
    "register_schemas",
    "register_user_dirs_from_environment",
    "split_user_dirs",
    "to_config",
]

CONF_MODULE = "sim._conf"  # conf/ (pyproject.toml maps it into the package)
SCHEMA_NAME = "silosim_schema"
# key=value arguments that name a directory of the user's own group files, and the group they fill
USER_DIR_KEYS = {"scenario_dir": "scenario", "experiment_dir": "experiment"}
# The directories are also recorded in the environment, so a launcher's worker processes see them.
_DIR_ENV = {"scenario": "SILOSIM_SCENARIO_DIR", "experiment": "SILOSIM_EXPERIMENT_DIR"}
_CALIBRATION_FILES: dict[tuple[str, Path], str] = {}  # (group, file) -> its registered option
# groups whose option may be a file path: what the file should be, and the package it is applied at
_PATH_GROUPS = {
    "calibration": ("the calibrated.yaml (or closest_fit.yaml) that silosim-calibrate wrote", "_global_"),
    "journey": ("a journey file (stages and touchpoints, as silosim-journey import writes)", "journey"),
}
MAX_FILE_BYTES = 1_000_000  # a user's YAML file; the largest bundled scenario is about 2 KB
MAX_VALUES = 100_000  # values in a user's YAML file once its aliases are expanded (a scenario holds a few hundred)
MAX_NAME = 64  # characters in the name of a user's scenario or experiment file (it names directories and labels)
CALIBRATION_MARKER = "calibration_source"  # silosim-calibrate writes it into every calibrated (or closest-fit) file
# A calibration on the client's journey carries that journey under this key: applied with the calibrated file
CALIBRATION_JOURNEY = "calibration_journey"
CALIBRATED_FILE, CLOSEST_FIT_FILE = "calibrated.yaml", "closest_fit.yaml"  # what calibration=DIR looks for
_CALIBRATION_JOURNEYS: dict[Path, str] = {}  # calibrated file -> the registered journey option it carries
_CALIBRATION_INDUSTRIES: dict[Path, str] = {}  # calibrated file -> the industry preset it carries ("" for none)
# What a calibrated file may not set: what a calibration does not fit (the run's seed, population, horizon, name).
CALIBRATION_RESERVED = ("seed", "customers", "weeks", "scenario_name")
_SCHEMAS: dict[str, Any] = {SCHEMA_NAME: RunConfig}


def register_schemas(**schemas: Any) -> None:
    """Register structured schemas in Hydra's ConfigStore (``silosim_schema`` always; others by name)."""
    _SCHEMAS.update(schemas)
    store = ConfigStore.instance()
    for name, node in _SCHEMAS.items():
        if _STORED.get(name) is not node or f"{name}.yaml" not in store.repo:  # stored once (see _composition_key)
            store.store(name=name, node=node)
            _STORED[name] = node


_STORED: dict[str, Any] = {}  # schema name -> the schema last stored under it


@contextmanager
def hydra_context() -> Iterator[None]:
    """Hydra initialised on the packaged ``conf/`` (``pkg://sim._conf``), for composing or listing options."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        yield


def compose(config_name: str, overrides: Sequence[str] = (), *, return_hydra_config: bool = False) -> DictConfig:
    """Compose a primary config of ``conf/`` with overrides, or raise one explained ConfigError.

    Args:
        config_name: ``config`` (a run of the model), ``compare``, ``calibrate`` or ``policy``.
        overrides: Hydra overrides; ``calibration=PATH`` applies a calibrated file.
        return_hydra_config: Keep the ``hydra`` node (sweeper parameters, run directories).

    Returns:
        The composed configuration.

    Raises:
        ConfigError: For any composition failure, naming the key, the value and what is allowed.
    """
    return _compose(config_name, overrides, return_hydra_config, cwd_matters=return_hydra_config)


def _compose(config_name: str, overrides: Sequence[str], hydra_node: bool, cwd_matters: bool) -> DictConfig:
    """:func:`compose`, where ``cwd_matters`` says whether the caller reads the hydra node's working directory."""
    from hydra import compose as hydra_compose

    overrides = prepare_calibration_overrides(list(overrides))
    register_schemas()
    key, sources = _composition_key(config_name, overrides, hydra_node, cwd_matters)
    if key in _COMPOSED:
        _COMPOSED.move_to_end(key)
        return copy.deepcopy(_COMPOSED[key][0])
    try:
        with hydra_context():
            cfg = hydra_compose(config_name=config_name, overrides=overrides, return_hydra_config=hydra_node)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(explain(exc, overrides, config_name)) from None
    _COMPOSED[key] = (copy.deepcopy(cfg), sources)
    if len(_COMPOSED) > COMPOSED_KEPT:
        _COMPOSED.popitem(last=False)
    return cfg


# Composing takes Hydra a third of a second; a deep copy of the result, a fiftieth. The same composition is asked
# for again and again (every run of a sweep's worker, every what-if of the dashboard, the test suite), so each result
# is kept, keyed on everything it depends on: the primary config and the overrides (calibration and journey files
# already registered under their own names), the files of conf/ (their sizes and modification times), every node of
# Hydra's ConfigStore (by identity: a user's scenario directory registered again gives new nodes) and, for the
# hydra node, the working directory. The nodes are held with the entry, so their identities cannot be reused.
COMPOSED_KEPT = 256
_COMPOSED: OrderedDict[tuple[Any, ...], tuple[DictConfig, tuple[Any, ...]]] = OrderedDict()


def _composition_key(
    config_name: str, overrides: list[str], hydra_node: bool, cwd_matters: bool
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The cache key of a composition, and the ConfigStore nodes it names (kept alive with the entry)."""
    nodes: list[Any] = []

    def walk(tree: dict[str, Any]) -> None:
        for name in sorted(tree):
            if isinstance(tree[name], dict):
                walk(tree[name])
            else:
                nodes.append(tree[name])

    walk(ConfigStore.instance().repo)
    files = []
    for directory in _conf_directories():
        for root, _, names in os.walk(directory, followlinks=True):
            for name in names:
                stat = os.stat(os.path.join(root, name))
                files.append((root, name, stat.st_size, stat.st_mtime_ns))
    cwd = os.getcwd() if cwd_matters else None
    key = (config_name, tuple(overrides), hydra_node, cwd, tuple(sorted(files)), tuple(id(n) for n in nodes))
    return key, tuple(nodes)


def _conf_directories() -> list[str]:
    """The directories of the packaged conf/ (``sim._conf``)."""
    import importlib

    return list(importlib.import_module(CONF_MODULE).__path__)


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """Compose a run's configuration as the ``silosim`` command would, with ``scenario_name`` resolved.

    Args:
        overrides: Hydra overrides, e.g. ``["scenario=closed_loop_followup", "customers=2000"]``;
            ``calibration=PATH`` applies a calibrated file.

    Returns:
        The composed configuration (struct mode, without the ``hydra`` node).

    Raises:
        ConfigError: If the configuration cannot be composed.
    """
    cfg = _compose("config", overrides, hydra_node=True, cwd_matters=False)  # only its choices are read
    scenario = cfg.hydra.runtime.choices.get("scenario", "custom")
    OmegaConf.set_struct(cfg, False)
    del cfg["hydra"]
    cfg.scenario_name = scenario
    OmegaConf.set_struct(cfg, True)
    return cfg


def to_config(cfg: DictConfig | RunConfig) -> RunConfig:
    """The typed dataclass tree of a composed configuration.

    Raises:
        ConfigError: If a value does not fit the schema.
    """
    if isinstance(cfg, RunConfig):
        return cfg
    try:
        obj = OmegaConf.to_object(cfg)
        if not isinstance(obj, RunConfig):  # composed without the schema
            obj = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig), cfg))
    except OmegaConfBaseException as exc:
        raise ConfigError(explain(exc, [], "config")) from None
    if not isinstance(obj, RunConfig):
        raise ConfigError(f"The configuration is not a silosim configuration (got {type(obj).__name__}).")
    extra = sorted(_keys(OmegaConf.to_container(cfg, resolve=False)) - _typed_keys(obj))
    if extra:  # added with Hydra's `+key=value`, which bypasses the schema
        raise ConfigError(_unknown_key(extra[0], "config"))
    return obj


def _typed_keys(node: Any, prefix: str = "") -> set[str]:
    """Every dotted key of a typed configuration: its dataclass fields and the keys of its mappings, nested.

    The keys :func:`_keys` finds in the same tree as a container, read from the dataclasses directly (building the
    container through ``OmegaConf.structured`` cost as much as a small run).
    """
    if dataclasses.is_dataclass(node):
        items = ((f.name, getattr(node, f.name)) for f in dataclasses.fields(node))
    elif isinstance(node, dict):
        items = node.items()
    else:
        return set()
    out = set()
    for key, value in items:
        out.add(f"{prefix}{key}")
        out |= _typed_keys(value, f"{prefix}{key}.")
    return out


def _keys(node: Any, prefix: str = "") -> set[str]:
    """Every dotted key of a nested mapping."""
    if not isinstance(node, dict):
        return set()
    out = set()
    for key, value in node.items():
        out.add(f"{prefix}{key}")
        out |= _keys(value, f"{prefix}{key}.")
    return out


def group_options(group: str, config_name: str = "config") -> list[str]:
    """The options of a config group (bundled files plus the user's registered ones), sorted."""
    from hydra.core.global_hydra import GlobalHydra

    with hydra_context():
        loader = GlobalHydra.instance().config_loader()
        return sorted(loader.get_group_options(group))


# ------------------------------------------------------------------- the user's own files
def load_yaml_mapping(path: Path, what: str, key: str) -> DictConfig:
    """Read a YAML file that must hold a mapping of plain data, without ever echoing its content in an error.

    The file is data: at most :data:`MAX_FILE_BYTES`, its aliases expanding to at most :data:`MAX_VALUES`
    values, and no OmegaConf interpolation (``${...}``: ``oc.env``, ``oc.decode``, custom resolvers) anywhere
    in it, so nothing from the environment or elsewhere in the configuration is copied in.

    Args:
        path: The file.
        what: What the file should be, for the message ("a scenario file").
        key: The setting that named it (``calibration``, ``scenario_dir``).

    Returns:
        The mapping.

    Raises:
        ConfigError: If the file cannot be read, is too large, is not YAML, holds no mapping, expands too far
            or holds an interpolation.
    """
    shown = f"`{key}` names '{path}'"
    text = _read_text(path, shown, what)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{shown}, but it is not valid YAML{where}; pass {what}.") from None
    except RecursionError:
        raise ConfigError(f"{shown}, but it is nested too deeply to be settings; pass {what}.") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a YAML {type(data).__name__}, not a mapping of settings"
        raise ConfigError(f"{shown}, but that file is {kind}; pass {what}.")
    problem = _data_problem(data)
    if problem:
        raise ConfigError(f"{shown}, but {problem}; pass {what}.")
    try:
        return OmegaConf.create(data)
    except (OmegaConfBaseException, ValueError):
        raise ConfigError(f"{shown}, but its settings cannot be read as a configuration; pass {what}.") from None


def _read_text(path: Path, shown: str, what: str) -> str:
    """A settings file's text, refused if it is a directory, missing, too large, binary or unreadable."""
    if path.is_dir():
        raise ConfigError(f"{shown}, but that is a directory; {what} is a YAML file.")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{shown}, but it is {size:,} bytes, more than the {MAX_FILE_BYTES:,} bytes a settings file may "
                f"hold; pass {what}."
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{shown}, but there is no such file; pass {what}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}, but that is not a text file; pass {what} (YAML).") from None
    except OSError as exc:
        raise ConfigError(f"{shown}, but it cannot be read ({exc.strerror or type(exc).__name__}).") from None


def _data_problem(data: dict[Any, Any]) -> str | None:
    """Why a loaded YAML mapping is not plain data (an alias bomb, a cycle, an interpolation), or None."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()

    def size(node: Any) -> int:
        """Values under ``node`` once aliases are expanded (each shared node counted where it is used)."""
        if not isinstance(node, dict | list):
            return 1
        if id(node) in busy:
            raise _RecursiveError
        if id(node) not in sizes:
            busy.add(id(node))
            children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
            sizes[id(node)] = 1 + sum(min(size(child), MAX_VALUES + 1) for child in children)
            busy.discard(id(node))
        return sizes[id(node)]

    try:
        total = size(data)
    except (_RecursiveError, RecursionError):
        return "its YAML aliases refer to themselves (a recursive structure), which settings cannot be"
    if total > MAX_VALUES:
        return (
            f"its YAML aliases (*name) expand to more than {MAX_VALUES:,} values (an alias bomb?); write the "
            "settings out without aliases"
        )
    found = _interpolation(data, "")
    if found:
        where, _ = found
        return (
            f"`{where}` holds an interpolation (${{...}}); settings files are data, so no interpolation or resolver "
            "(oc.env, oc.decode, ...) in them is evaluated. Write the value itself"
        )
    return None


class _RecursiveError(Exception):
    """A YAML structure that contains itself."""


def _interpolation(node: Any, prefix: str) -> tuple[str, str] | None:
    """The first dotted key whose value (or key) holds ``${``, with that text, or None."""
    if isinstance(node, str):
        return (prefix or "(the file)", node) if "${" in node else None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for name, value in items:
        where = f"{prefix}[{name}]" if isinstance(node, list) else f"{prefix}.{name}" if prefix else str(name)
        if isinstance(name, str) and "${" in name:
            return where, name
        found = _interpolation(value, where)
        if found:
            return found
    return None


def _calibration_problem(node: DictConfig) -> str | None:
    """Why a mapping is not a calibrated file (no marker, or a setting a calibration does not fit), or None."""
    from sim.config.schema import SiloConfig

    data = OmegaConf.to_container(node, resolve=False)
    assert isinstance(data, dict)  # noqa: S101 - load_yaml_mapping returns a mapping
    if not isinstance(data.get(CALIBRATION_MARKER), str):
        looks = " (it sets `about`, like a scenario file)" if "about" in data else ""
        return (
            f"that is not a calibrated file{looks}: it lacks the `{CALIBRATION_MARKER}` line silosim-calibrate "
            "writes into every calibrated.yaml and closest_fit.yaml. Pass a file silosim-calibrate wrote; a "
            "scenario goes to scenario_dir= and scenarios=[...]"
        )
    allowed = {f.name for f in dataclasses.fields(SiloConfig)} - set(CALIBRATION_RESERVED)
    wrong = sorted(str(k) for k in data if k not in allowed)
    if wrong:
        return (
            f"it sets {', '.join(f'`{k}`' for k in wrong)}, which a calibration does not fit: a calibrated file "
            f"may set model parameters only (never {', '.join(CALIBRATION_RESERVED)}, which each command sets "
            "itself, nor labels or run settings). Remove those lines, or recalibrate"
        )
    return None


def prepare_calibration_overrides(overrides: list[str]) -> list[str]:
    """Make ``calibration=PATH`` and ``journey=PATH`` (or with ``+``) selectable by Hydra.

    A calibrated file written by ``silosim-calibrate`` is registered in the ConfigStore as an
    option of the ``calibration`` group (applied at the global package, before the scenario, so a
    scenario still overrides what it changes), and the override is rewritten to select it;
    ``calibration=DIR`` names the calibration's output directory and selects its ``calibrated.yaml``.
    A calibration made on a client's journey carries it (``calibration_journey``): that journey is
    selected too, unless the overrides select one themselves. A journey file written by
    ``silosim-journey import`` is registered the same way as an option of the ``journey`` group, in
    place of ``conf/journey/default.yaml``.

    Args:
        overrides: Hydra overrides.

    Returns:
        The overrides with any calibration or journey path replaced by the registered option's name.

    Raises:
        ConfigError: If the file cannot be read, is not a YAML mapping, or is not a calibrated file.
    """
    out = []
    given = {key.lstrip("+"): value for key, _, value in (a.partition("=") for a in overrides)}  # the last wins
    journey_given = "journey" in given
    industry = given.get("industry") or None
    industry = None if industry == "null" else industry
    for arg in overrides:
        key, sep, value = arg.partition("=")
        group = key.lstrip("+")
        if not sep or group not in _PATH_GROUPS:
            out.append(arg)
            continue
        if value.endswith((".yaml", ".yml")) or "/" in value:
            path = Path(value).expanduser().resolve()
            if group == "calibration" and path.is_dir():
                path = _calibrated_file_in(path)
            if (group, path) not in _CALIBRATION_FILES:
                _register_path(group, path)
            value = _CALIBRATION_FILES[group, path]
            if group == "calibration" and industry is not None:
                _refuse_second_preset(path, industry)
            journey = _CALIBRATION_JOURNEYS.get(path) if group == "calibration" else None
            if journey and not journey_given:  # the journey it was calibrated on, unless another is asked for
                out.append(f"journey={journey}")
        out.append(f"{group}={value}")
    return out


def _refuse_second_preset(path: Path, industry: str) -> None:
    """A calibrated file is a whole baseline (its preset, if any, written in): a second preset under it would mix."""
    carried = _CALIBRATION_INDUSTRIES.get(path, "")
    if carried == industry:
        return  # the same preset the file carries: composes to the file alone
    basis = f"the industry preset '{carried}'" if carried else "the model defaults (no industry preset)"
    raise ConfigError(
        f"`industry` is '{industry}', but `calibration` names '{path}', a baseline calibrated from {basis}: "
        f"applying '{industry}' under it would mix that preset's unfitted settings into the calibrated baseline. "
        "Leave `industry` out (the calibrated file alone gives the baseline that was fitted), or recalibrate "
        f"from the preset with silosim-calibrate model.industry={industry}."
    )


def _register_path(group: str, path: Path) -> None:
    """Register a calibrated or journey file as an option of its group (a calibration's journey too)."""
    what, package = _PATH_GROUPS[group]
    node = load_yaml_mapping(path, what, group)
    if group == "calibration":
        journey = node.pop(CALIBRATION_JOURNEY, None) if isinstance(node, DictConfig) else None
        problem = _calibration_problem(node)
        if problem is None and journey is not None and not isinstance(journey, DictConfig):
            problem = f"its `{CALIBRATION_JOURNEY}` is not a journey (stages and touchpoints); recalibrate"
        if problem:
            raise ConfigError(f"`calibration` names '{path}', but {problem}.")
        node[CALIBRATION_MARKER] = str(path)  # where it was read from (it may have moved since it was written)
        carried = OmegaConf.select(node, "industry.name", default="")
        _CALIBRATION_INDUSTRIES[path] = str(carried or "")
        if journey is not None:
            name = f"{path.stem}_journey_{len(_CALIBRATION_FILES)}"
            ConfigStore.instance().store(group="journey", name=name, node=journey, package="journey")
            _CALIBRATION_JOURNEYS[path] = name
    name = f"{path.stem}_{len(_CALIBRATION_FILES)}"
    ConfigStore.instance().store(group=group, name=name, node=node, package=package)
    _CALIBRATION_FILES[group, path] = name


def _calibrated_file_in(directory: Path) -> Path:
    """``calibration=DIR``: the calibrated.yaml silosim-calibrate wrote into DIR (its ``out_dir``)."""
    if (directory / CALIBRATED_FILE).is_file():
        return directory / CALIBRATED_FILE
    if (directory / CLOSEST_FIT_FILE).is_file():
        raise ConfigError(
            f"`calibration` names the directory '{directory}', which holds {CLOSEST_FIT_FILE} but no "
            f"{CALIBRATED_FILE}: that calibration did not meet its targets (fit.md says which). Pass "
            f"calibration={directory / CLOSEST_FIT_FILE} to use the closest fit knowingly, or calibrate again."
        )
    raise ConfigError(
        f"`calibration` names the directory '{directory}', but it holds no {CALIBRATED_FILE}: it is not a "
        "calibration's output directory (silosim-calibrate out_dir=...), or that calibration has not finished "
        "(the same silosim-calibrate command resumes it). Pass that directory or its calibrated.yaml."
    )


def split_user_dirs(arguments: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Take ``scenario_dir=...`` and ``experiment_dir=...`` out of the arguments.

    Returns:
        The other arguments, and group -> directory for each one given.
    """
    rest, dirs = [], {}
    for arg in arguments:
        key, sep, value = arg.partition("=")
        if sep and key in USER_DIR_KEYS:
            dirs[USER_DIR_KEYS[key]] = value
        else:
            rest.append(arg)
    return rest, dirs


def register_group_dir(group: str, path: str | Path) -> Path:
    """Make every ``*.yaml`` in ``path`` selectable as ``<group>=<name>`` (``scenario`` or ``experiment``).

    Files are loaded as data (YAML only; nothing in them is imported or run) and applied at the
    global package, like the bundled scenarios that begin ``# @package _global_``. The directory is
    recorded in the environment, so a launcher's worker processes see the same files.

    Args:
        group: ``scenario`` or ``experiment``.
        path: A directory of ``<name>.yaml`` files.

    Returns:
        The directory.

    Raises:
        ConfigError: If it is not a readable directory of YAML mappings.
    """
    directory = Path(path).expanduser()
    key = f"{group}_dir"
    if not directory.is_dir() or not os.access(directory, os.R_OK | os.X_OK):
        kind = "a file" if directory.is_file() else "not a readable directory"
        raise ConfigError(
            f"`{key}` is '{path}', but that is {kind}. Pass a directory that holds {group} YAML files "
            f"(one file per {group}, named <{group}>.yaml)."
        )
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"`{key}` is '{path}', but it holds no *.yaml {group} files.")
    store = ConfigStore.instance()
    for file in files:
        if len(file.stem) > MAX_NAME:
            raise ConfigError(
                f"`{key}` holds '{file.stem[:40]}...yaml', whose name is {len(file.stem)} characters long; "
                f"{group} names are at most {MAX_NAME} characters (they name run directories and labels)."
            )
        node = load_yaml_mapping(file, f"a {group} file (a YAML mapping of settings)", key)
        store.store(group=group, name=file.stem, node=node, package="_global_")
    os.environ[_DIR_ENV[group]] = str(directory.resolve())
    return directory


def register_user_dirs_from_environment() -> None:
    """In a launcher's worker process: the schema and the user's scenario and experiment directories."""
    register_schemas()
    for group, env in _DIR_ENV.items():
        if os.environ.get(env) and Path(os.environ[env]).is_dir():
            register_group_dir(group, os.environ[env])


# ---------------------------------------------------------------------------- explaining
_MISSING_OPTION = re.compile(r"Could not (?:find|load) '(?P<group>[\w/]+)/(?P<name>[^']*)'")
_NOT_IN_DEFAULTS = re.compile(r"Could not override '(?P<group>[\w.]+)'\. No match in the defaults list")
_APPEND_HINT = re.compile(r"Could not (?:override|append to) '(?P<key>[^']+)'")
_MERGING = re.compile(r"Error merging override (?P<override>\S+)")
_IN_FILE = re.compile(r"In '(?P<source>[^']+)':")
_PARSE = re.compile(r"Error parsing override '(?P<arg>[^']*)'")
_KINDS = {"Integer": "a whole number", "Float": "a number", "Boolean": "true or false", "String": "a string"}
_KIND_WORDS = {int: "a whole number", float: "a number", bool: "true or false"}


def explain(exc: BaseException, overrides: Sequence[str], config_name: str) -> str:
    """One sentence for a composition error: the key, the value and what is allowed.

    Args:
        exc: What Hydra or OmegaConf raised.
        overrides: The overrides that were composed.
        config_name: The primary config (``config``, ``compare``, ``calibrate``, ``policy``).

    Returns:
        The sentence (never a file's content, never Hydra's search path).
    """
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    values = _override_values(overrides)
    merging = _MERGING.search(text)
    if merging:  # the override Hydra was applying names the value (a key may be given twice)
        values.update(_override_values([merging["override"]]))
    match = _MISSING_OPTION.search(text)
    if match:
        return _unknown_option(match["group"], match["name"], config_name)
    match = _NOT_IN_DEFAULTS.search(text)
    if match:
        group = match["group"]
        return _unknown_option(group, values.get(group, "?"), config_name)
    cause = exc.__cause__ or exc.__context__ or exc
    key = getattr(cause, "full_key", None) or getattr(exc, "full_key", None)
    if key and isinstance(cause, OmegaConfBaseException):
        where = _IN_FILE.match(text)
        origin = f"It is set in {where['source']}.yaml. " if where and "/" in where["source"] else ""
        return _bad_value(str(key), cause, values, config_name, origin)
    match = _PARSE.search(text) or (_PARSE.search(str(cause)) if cause is not exc else None)
    if match or type(exc).__name__ == "OverrideParseException":
        arg = match["arg"] if match else _unparsable(overrides)
        return (
            f"The argument '{arg}' is not a valid setting: give key=value pairs (lists as [a,b], quoted "
            "strings as 'text'), e.g. customers=5000 scenario=closed_loop_followup."
        )
    match = _APPEND_HINT.search(text)
    if match:
        return _unknown_key(match["key"], config_name, values)
    return f"The {_WHAT.get(config_name, 'configuration')} could not be composed: {' '.join(first.split())[:200]}"


_WHAT = {
    "config": "configuration",
    "compare": "comparison's settings",
    "calibrate": "calibration's settings",
    "policy": "policy search's settings",
}
_NOT_A = {
    "config": "not a configuration key",
    "compare": "not a setting of silosim-compare",
    "calibrate": "not a calibration setting",
    "policy": "not a policy-search setting",
}
_GROUP_HINTS = {
    "scenario": " For your own scenario files, add scenario_dir=PATH (a directory of <name>.yaml files).",
    "experiment": " For your own experiment files, add experiment_dir=PATH.",
    "calibration": " Pass the path of the calibrated.yaml that silosim-calibrate wrote (ending in .yaml).",
}


def _unparsable(overrides: Sequence[str]) -> str:
    """The first override Hydra's grammar cannot parse."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_override(override)
        except Exception:  # the grammar's own error types vary
            return override
    return " ".join(overrides)


def _override_values(overrides: Sequence[str]) -> dict[str, str]:
    out = {}
    for arg in overrides:
        key, sep, value = arg.partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def _unknown_option(group: str, name: str, config_name: str) -> str:
    try:
        options = group_options(group, config_name)
    except Exception:  # listing is a courtesy; the message stands without it
        options = []
    allowed = f" Allowed: {', '.join(options)}." if options else ""
    return f"`{group}` is '{name}', but there is no such {group}.{allowed}{_GROUP_HINTS.get(group, '')}"


def _unknown_key(key: str, config_name: str, values: dict[str, str] | None = None) -> str:
    if key == "calibration":
        shown = (values or {}).get("calibration", "?")
        return (
            f"`calibration` is '{shown}', but that is not a calibrated file. Pass the path of the calibrated.yaml "
            "(or closest_fit.yaml) that silosim-calibrate wrote."
        )
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    try:
        node = compose(config_name)
        if parent:
            node = OmegaConf.select(node, parent)
        allowed = ", ".join(str(k) for k in node) if isinstance(node, DictConfig) else ""
    except ConfigError:
        allowed = ""
    where = f"`{parent}`" if parent else "the top level"
    listed = f" Keys allowed under {where}: {allowed}." if allowed else ""
    hint = suggest_key(key) if config_name == "config" else ""
    docs = " (docs/parameters.md lists every key.)" if config_name == "config" else " (--help lists the settings.)"
    return f"`{key}` is {_NOT_A.get(config_name, 'not a configuration key')}.{listed}{hint}{docs}"


def _bad_value(
    key: str, cause: OmegaConfBaseException, values: dict[str, str], config_name: str, origin: str = ""
) -> str:
    message = str(cause)
    if "not in" in message:
        unknown = _unknown_key(key, config_name, values)
        return unknown.replace(" Keys allowed", f" {origin}Keys allowed", 1) if origin else unknown
    value = values.get(key, getattr(cause, "value", None))
    param = find(RunConfig(), key) if config_name == "config" else None
    kind = next((words for name, words in _KINDS.items() if f"converted to {name}" in message), None)
    if isinstance(cause, ValidationError) and param is not None and param.kind is not None:
        kind = _KIND_WORDS[param.kind]
    meaning = f" ({param.doc})" if param is not None and param.doc else ""
    if kind:
        bounds = (
            f", {fmt_range(param.lo, param.hi)}" if param is not None and (param.lo, param.hi) != (None, None) else ""
        )
        return f"`{key}` is {value!r}, but it must be {kind}{bounds}{meaning}."
    first = " ".join(message.strip().splitlines()[0].split())[:200].rstrip(".")
    return f"`{key}` could not be set to {value!r}: {first}.{meaning} {origin}".rstrip()
