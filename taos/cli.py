"""The ``taos`` command: one argparse parser whose subcommands are τaos's programs.

    taos local      run a full market on this machine (simulator, validator loop, local agents)
    taos sweep      run many simulations (seeds x parameter values) in parallel
    taos league     run the reference agents and check what each scoring preset pays for
    taos facts      print the stylized facts of a run folder
    taos validator  run a validator (the flags of ``python -m taos.validator``)
    taos miner      run a miner (the flags of ``python -m taos.miner``)

Each command keeps its own parser and entry point in its module (``python -m taos.validator`` and
``taos validator`` are one parser and one code path); this module only names them. Only the chosen
command's module is imported: ``taos miner`` works without the simulator extension, and ``taos
--help`` imports nothing heavy. ``taos COMMAND --help`` lists the command's flags.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    module: str
    parser: str
    """The module's function that returns the command's ``argparse.ArgumentParser``."""
    main: str
    """The module's function ``main(argv) -> exit code`` that parses ``argv`` with that parser and runs."""

    def load(self) -> tuple[Callable[[], argparse.ArgumentParser], Callable[[Sequence[str]], int]]:
        module = importlib.import_module(self.module)
        return getattr(module, self.parser), getattr(module, self.main)


COMMANDS = (
    Command(
        "local",
        "run a full market on this machine: simulator, validator loop and local agents",
        "taos.local.cli",
        "local_parser",
        "local",
    ),
    Command(
        "sweep",
        "run many independent simulations (seeds x parameter values) in parallel",
        "taos.local.sweep",
        "parser",
        "main",
    ),
    Command(
        "league",
        "run the reference agents and check what each scoring preset pays for",
        "taos.local.league",
        "parser",
        "main",
    ),
    Command(
        "facts",
        "print the stylized facts of a run folder of taos local",
        "taos.analysis.cli",
        "facts_parser",
        "facts",
    ),
    Command(
        "validator", "run a τaos validator (python -m taos.validator)", "taos.validator.cli", "parser", "main"
    ),
    Command(
        "miner",
        "serve a trading agent to validators (python -m taos.miner)",
        "taos.miner.cli",
        "parser",
        "main",
    ),
)


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``taos`` parser. The subcommand ``command`` (if any) gets its module's flags; the
    others are listed by name and summary only, so that their modules need not be imported."""
    top = argparse.ArgumentParser(
        prog="taos",
        description="τaos: an agent-based market simulator and trading subnet.",
        epilog="`taos COMMAND --help` lists the options of a command.",
    )
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for c in COMMANDS:
        if c.name == command:
            own = c.load()[0]()
            sub.add_parser(
                c.name,
                help=c.summary,
                description=own.description,
                epilog=own.epilog,
                formatter_class=own.formatter_class,
                parents=[own],
                add_help=False,  # the command's own -h/--help comes with its flags
            )
        else:
            sub.add_parser(c.name, help=c.summary, description=c.summary)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((c for c in COMMANDS if args and c.name == args[0]), None)
    name = f"taos {command.name}" if command else "taos"
    try:
        # argparse checks the whole line (usage, errors and help name `taos COMMAND`); the
        # command's own main then parses its arguments again with the same parser and runs
        parser(command.name if command else None).parse_args(args)
        if command is None:  # parse_args exits unless a command comes first
            raise AssertionError(f"no command in {args}")
        return command.load()[1](args[1:])
    except BrokenPipeError:  # the output piped into a reader that stopped (taos facts ... | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
    except ImportError as e:
        if not str(e).startswith("taos.simulator needs"):
            raise
        # a miner-only install (TAOS_NO_SIMULATOR=1) running a command that needs the simulator
        print(f"{name}: error: {e}", file=sys.stderr)
        return 1
