"""Compose files merged as ``docker compose -f a.yaml -f b.yaml --profile p config`` merges
them, without Docker: for tests/test_compose_gpu_run.py.

Why a merger of our own: the developers' machines and CI have at most the docker CLI, with
no engine and no compose plugin (``docker compose`` is "unknown command"), and no maintained
Python library implements compose's merge: ``docker-compose`` 1.x, the Python one, has been
unmaintained since 2021 and knows neither ``!reset`` nor ``env_file``'s long syntax, and the
PyPI packages that bundle the Go binary are third-party rebuilds. When a real compose is
installed, tests/test_compose_gpu_run.py checks this merger against its ``config`` output.

It follows the Compose Specification (its "Merge and override", "Interpolation" and
``env_file`` sections) for what platform/compose*.yaml use, and refuses, rather than
guesses, anything else it meets (``NotImplementedError``):

* YAML anchors, aliases and ``<<`` merge keys (PyYAML resolves them, as compose does);
* ``!reset`` (drop the attribute) and ``!override`` (replace it, do not merge);
* mappings merge key by key; ``command``, ``entrypoint`` and ``healthcheck.test`` are
  replaced; ``volumes`` merge by target; ``environment`` by variable; other lists append;
* ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``,
  ``${VAR:+alt}``, ``${VAR+alt}``, ``$VAR``; ``$$`` is a literal ``$`` (what the
  container receives: ``config``'s own output writes it back as ``$$``);
* ``env_file`` (short and long syntax, ``required: false``), paths relative to the project
  directory (the first file's folder); a service's ``environment`` wins over its env files.
"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any

import yaml


class _Reset:
    def __repr__(self) -> str:
        return "!reset"


RESET = _Reset()


class Override:
    """A value tagged ``!override``: it replaces what the earlier files said."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!reset", lambda loader, node: RESET)
_Loader.add_constructor("!override", lambda loader, node: Override(
    loader.construct_mapping(node, deep=True) if isinstance(node, yaml.MappingNode)
    else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
    else loader.construct_scalar(node)))


# --- Interpolation ----------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VARIABLE = re.compile(
    rf"\$(?:(?P<escaped>\$)|\{{(?P<braced>{_NAME})(?:(?P<op>:?[-?+])(?P<arg>[^}}]*))?\}}"
    rf"|(?P<bare>{_NAME})|(?P<invalid>))")


def interpolate(text: str, variables: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        if match["invalid"] is not None:
            raise NotImplementedError(f"unsupported interpolation in {text!r}")
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"] or ""
        if "$" in arg:
            raise NotImplementedError(f"nested interpolation in {text!r}")
        value = variables.get(name)
        present = value is not None and (value != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return value if present else arg
        if op in (":?", "?"):
            if not present:
                raise ValueError(f"required variable {name} is missing a value: {arg}")
            return value
        if op in (":+", "+"):
            return arg if present else ""
        return value or ""

    return _VARIABLE.sub(one, text)


def _interpolated(node: Any, variables: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, dict):
        return {key: _interpolated(value, variables) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolated(value, variables) for value in node]
    if isinstance(node, Override):
        return Override(_interpolated(node.value, variables))
    return node  # numbers, booleans, None, RESET


# --- Normal forms -----------------------------------------------------------------------


def _environment(value: Any) -> dict[str, str | None]:
    if isinstance(value, dict):
        return {k: None if v is None else _scalar(v) for k, v in value.items()}
    out: dict[str, str | None] = {}
    for item in value or []:
        key, sep, val = item.partition("=")
        out[key] = val if sep else None
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _volume(value: Any) -> dict:
    if isinstance(value, dict):
        return value
    parts = value.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0]}
    source, target = parts[0], parts[1]
    kind = "bind" if source.startswith((".", "/", "~")) else "volume"
    out = {"type": kind, "source": source, "target": target}
    if len(parts) > 2:
        out["read_only"] = "ro" in parts[2].split(",")
    return out


def _normalised_service(service: dict) -> dict:
    service = dict(service)
    if "environment" in service and service["environment"] is not RESET:
        service["environment"] = _environment(service["environment"])
    if isinstance(service.get("depends_on"), list):
        service["depends_on"] = {name: {"condition": "service_started"}
                                 for name in service["depends_on"]}
    if "env_file" in service and service["env_file"] is not RESET:
        files = service["env_file"]
        files = [files] if isinstance(files, str) else files
        service["env_file"] = [{"path": f, "required": True} if isinstance(f, str)
                               else {"required": True, **f} for f in files]
    for key in ("command", "entrypoint"):
        if isinstance(service.get(key), str):
            service[key] = shlex.split(service[key])
    if isinstance(service.get("volumes"), list):
        service["volumes"] = [_volume(v) for v in service["volumes"]]
    return service


# --- Merge ------------------------------------------------------------------------------

_REPLACED = {("command",), ("entrypoint",), ("healthcheck", "test")}


def _plain(value: Any) -> Any:
    """``value`` with no tags left: ``!reset`` entries dropped, ``!override`` unwrapped (in
    the first file, or under a key no earlier file had, they have nothing to act on)."""
    if isinstance(value, Override):
        return _plain(value.value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not RESET}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not RESET]
    return copy.deepcopy(value)


def _merge(base: Any, override: Any, path: tuple[str, ...]) -> Any:
    if isinstance(override, Override):
        return _plain(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            if value is RESET:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = _merge(merged[key], value, (*path, key))
            else:
                merged[key] = _plain(value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        if path[2:] in _REPLACED:  # ("services", name, ...)
            return _plain(override)
        if path[2:] == ("volumes",):
            by_target = {v["target"]: v for v in base}
            by_target.update({v["target"]: v for v in override})
            return list(by_target.values())
        return base + [v for v in _plain(override) if v not in base]
    return _plain(override)


_SUPPORTED_TOP = {"name", "services", "volumes", "networks"}


def _load(path: Path, variables: dict[str, str]) -> dict:
    data = yaml.load(path.read_text(), Loader=_Loader) or {}
    extra = {k for k in data if not k.startswith("x-")} - _SUPPORTED_TOP
    if extra:
        raise NotImplementedError(f"{path.name}: top-level {sorted(extra)}")
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    data = _interpolated(data, variables)
    data["services"] = {name: _normalised_service(s)
                        for name, s in (data.get("services") or {}).items()}
    return data


# --- env files --------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """compose's dotenv format, the part of it that compose.env uses; values with ``$`` (which
    compose would interpolate) are refused."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").lstrip()
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", key.strip()):
            raise NotImplementedError(f"{path.name}:{number}: {raw!r}")
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            quote, value = value[0], value[1:-1]
            if quote == '"' and ("$" in value or "\\" in value):
                raise NotImplementedError(f"{path.name}:{number}: escapes or $ in {raw!r}")
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0]
            if "$" in value:
                raise NotImplementedError(f"{path.name}:{number}: $ in {raw!r}")
        values[key.strip()] = value
    return values


# --- The project ------------------------------------------------------------------------


def config(files: list[Path], *, profiles: list[str] = (), environ: dict[str, str]) -> dict:
    """The merged project: its services active under ``profiles``, each with its final
    ``environment`` (env files read in, ``env_file`` dropped, as ``config`` prints it).
    ``environ`` is the shell's environment for interpolation; the project directory's
    ``.env`` fills in what it lacks, as compose does."""
    project_dir = files[0].resolve().parent
    variables = dict(environ)
    if (project_dir / ".env").is_file():
        variables = {**read_env_file(project_dir / ".env"), **variables}
    merged: dict = {}
    for path in files:
        merged = _merge(merged, _load(path, variables), ())
    services = {}
    for name, service in merged.get("services", {}).items():
        wanted = service.get("profiles")
        if wanted and not set(wanted) & set(profiles):
            continue
        environment: dict[str, str] = {}
        for env_file in service.pop("env_file", []):
            path = project_dir / env_file["path"]
            if path.is_file():
                environment.update(read_env_file(path))
            elif env_file.get("required", True):
                raise FileNotFoundError(f"env file {path} not found")
        for key, value in service.get("environment", {}).items():
            if value is None:  # "KEY" alone: from the shell, else unset
                if key in variables:
                    environment[key] = variables[key]
                else:
                    environment.pop(key, None)
            else:
                environment[key] = value
        service["environment"] = environment
        if not service.get("depends_on"):
            service.pop("depends_on", None)
        for dep in (service.get("depends_on") or {}).values():
            dep.setdefault("required", True)
        services[name] = service
    return {**merged, "services": services}
