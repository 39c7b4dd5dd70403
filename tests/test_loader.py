"""taos.agents.loader: loading DIR/NAME.py, typed k=v parameters, one clear error per failure."""

import re
from pathlib import Path

import pytest

from taos.agents import Agent, AgentLoadError, create_agent, load_agent_class, parse_params, parse_value

GOOD = """
from taos.agents import Agent

class Good(Agent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.level = self.param("level", 1)
        self.reject_unknown_params()

    def on_state(self, state):
        return []
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(text)
    return path


def test_loads_the_named_class(tmp_path: Path) -> None:
    write(tmp_path, "Good", GOOD)
    cls = load_agent_class(tmp_path, "Good")
    assert issubclass(cls, Agent) and cls.__name__ == "Good"
    agent = create_agent(cls, 4, {"level": 3})
    assert agent.uid == 4 and agent.level == 3  # type: ignore[attr-defined]


def test_an_agent_file_may_import_its_neighbours(tmp_path: Path) -> None:
    write(tmp_path, "shared_bits_for_test", "FACTOR = 7\n")
    write(
        tmp_path,
        "Neighbour",
        GOOD.replace("class Good", "from shared_bits_for_test import FACTOR\nclass Neighbour"),
    )
    assert load_agent_class(tmp_path, "Neighbour").__name__ == "Neighbour"


@pytest.mark.parametrize(
    ("files", "name", "message"),
    [
        ({}, "Missing", "Missing.py does not exist"),
        ({"Other": GOOD}, "Other", "defines no class Other"),
        ({"Plain": "class Plain:\n    pass\n"}, "Plain", "is not a subclass of taos.agents.Agent"),
        ({"Value": "Value = 3\n"}, "Value", "is not a subclass of taos.agents.Agent"),
        (
            {"Lazy": "from taos.agents import Agent\nclass Lazy(Agent):\n    pass\n"},
            "Lazy",
            "does not implement on_state",
        ),
        ({"Broken": "def (:\n"}, "Broken", "failed to import: SyntaxError"),
        (
            {"Raises": "raise RuntimeError('no config')\n"},
            "Raises",
            "failed to import: RuntimeError: no config",
        ),
        ({"Exits": "import sys\nsys.exit(3)\n"}, "Exits", "failed to import: SystemExit"),
        ({"NeedsLib": "import no_such_module_here\n"}, "NeedsLib", "ModuleNotFoundError"),
        ({}, "../etc/passwd", "is not a Python identifier"),
    ],
)
def test_load_failures_say_what_is_wrong(
    tmp_path: Path, files: dict[str, str], name: str, message: str
) -> None:
    for file_name, text in files.items():
        write(tmp_path, file_name, text)
    with pytest.raises(AgentLoadError, match=message.replace("(", r"\(")) as e:
        load_agent_class(tmp_path, name)
    assert "\n" not in str(e.value)


def test_a_constructor_error_is_a_load_error(tmp_path: Path) -> None:
    write(tmp_path, "Good", GOOD)
    cls = load_agent_class(tmp_path, "Good")
    with pytest.raises(
        AgentLoadError, match=re.escape("Good(0, ...) failed: ValueError: parameter level must be int")
    ):
        create_agent(cls, 0, {"level": "high"})
    with pytest.raises(AgentLoadError, match="unknown parameter\\(s\\): colour"):
        create_agent(cls, 0, {"colour": "red"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-20", -20),
        ("0.0025", 0.0025),
        ("1e-3", 0.001),
        ("-.5", -0.5),
        ("true", True),
        ("False", False),
        ("PassiveAggressiveRegressor", "PassiveAggressiveRegressor"),
        ('"12"', "12"),
        ("'true'", "true"),
        ('""', ""),
        ("nan", "nan"),
        ("1.2.3", "1.2.3"),
        ("a=b", "a=b"),
    ],
)
def test_values_are_typed(text: str, value: object) -> None:
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_params_parse_into_a_typed_dict() -> None:
    params = parse_params(
        ["min_quantity=0.1", "expiry_period=200", "model=PassiveAggressiveRegressor", "on=true"]
    )
    assert params == {
        "min_quantity": 0.1,
        "expiry_period": 200,
        "model": "PassiveAggressiveRegressor",
        "on": True,
    }
    assert parse_params([]) == {}
    assert parse_params(["url=http://x?a=b"]) == {"url": "http://x?a=b"}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["novalue"], "not of the form name=value"),
        (["=3"], "not of the form name=value"),
        (["1x=3"], "not of the form name=value"),
        (["a=1", "a=2"], "given twice"),
        (["a="], "has no value"),
    ],
)
def test_bad_params_are_refused(items: list[str], message: str) -> None:
    with pytest.raises(AgentLoadError, match=message):
        parse_params(items)
