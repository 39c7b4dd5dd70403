"""Loading an agent class from ``DIR/NAME.py`` and typing its ``k=v`` parameters.

Every failure raises ``AgentLoadError`` with one line that says what is wrong;
the miner prints it and stops before serving.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from taos.agents.agent import Agent, Param

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class AgentLoadError(Exception):
    """The agent cannot be loaded or constructed; the message says why."""


def parse_value(text: str) -> Param:
    """``true``/``false`` → bool, an integer → int, a decimal → float, ``"..."`` or
    ``'...'`` → the text inside, anything else → the text itself."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_params(items: Iterable[str]) -> dict[str, Param]:
    """``["k=v", ...]`` → ``{k: typed v}``; a malformed item or a repeated key is an error."""
    params: dict[str, Param] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _KEY.fullmatch(key):
            raise AgentLoadError(f"agent parameter {item!r} is not of the form name=value")
        if key in params:
            raise AgentLoadError(f"agent parameter {key} is given twice")
        if value == "":
            raise AgentLoadError(f'agent parameter {key} has no value (write {key}="" for an empty text)')
        params[key] = parse_value(value)
    return params


def load_agent_class(path: str | Path, name: str) -> type[Agent]:
    """The class ``name`` defined in ``path/name.py``; it must subclass ``Agent`` and
    implement ``on_state``. The folder is appended to ``sys.path`` so that the file
    can import modules next to it."""
    if not name.isidentifier():
        raise AgentLoadError(f"agent name {name!r} is not a Python identifier")
    folder = Path(path).expanduser()
    file = folder / f"{name}.py"
    if not file.is_file():
        raise AgentLoadError(f"agent file {file} does not exist")
    module_name = f"taos_agent_{name}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise AgentLoadError(f"agent file {file} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # an agent file may raise anything, even SystemExit
        sys.modules.pop(module_name, None)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise AgentLoadError(f"agent file {file} failed to import: {type(e).__name__}: {e}") from e
    cls = getattr(module, name, None)
    if cls is None:
        raise AgentLoadError(f"agent file {file} defines no class {name}")
    if not inspect.isclass(cls) or not issubclass(cls, Agent):
        raise AgentLoadError(f"{name} in {file} is not a subclass of taos.agents.Agent")
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise AgentLoadError(f"{name} in {file} does not implement {missing}")
    return cls


def create_agent(cls: type[Agent], uid: int, params: Mapping[str, Param]) -> Agent:
    """An instance of ``cls``; an exception of its constructor (e.g. a bad parameter)
    becomes an AgentLoadError."""
    try:
        return cls(uid, dict(params))
    except Exception as e:
        raise AgentLoadError(f"{cls.__name__}({uid}, ...) failed: {type(e).__name__}: {e}") from e
