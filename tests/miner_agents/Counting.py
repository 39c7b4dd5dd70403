"""A test agent for the miner's worker processes: replies Cancel(book 0, order n) to its n-th state.

Parameters (all optional): ``fail_once`` (the first state raises), ``sleep_s`` (the first state
sleeps that long), ``junk`` (the reply holds an item that is not an instruction), ``many`` (the reply
holds that many instructions), ``refuse_if`` (a file: the constructor raises when it exists and
creates it otherwise, so only the first instance builds), ``end_file`` (``on_end`` writes the
validator's hotkey into that file), ``block_for`` (validator hotkeys, comma-separated: their states
block for ever in ``time.sleep``), ``hold_gil_for`` (a validator hotkey: that validator's states hold
the GIL in one C call for ``hold_s`` seconds, 60 by default), ``shared`` (all validators' instances
in one worker process)."""

import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for its helper gil.py
from gil import hold_gil

from taos.agents import Agent
from taos.protocol import Cancel

log = logging.getLogger("taos.miner.test_agent")


class Counting(Agent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.states = 0
        refuse_if = self.params.get("refuse_if")
        if refuse_if:
            if Path(str(refuse_if)).exists():
                raise ValueError("no model file")
            Path(str(refuse_if)).write_text("built")
        log.info("Counting built in pid %d", os.getpid())

    def on_start(self, simulation):
        log.info("Counting started simulation %s (%d books)", simulation.simulation_id, simulation.books)

    def on_state(self, state):
        self.states += 1
        log.info("Counting in pid %d serves validator %s", os.getpid(), self.validator)
        if self.validator in str(self.params.get("block_for", "")).split(","):
            time.sleep(3600)
        if self.params.get("hold_gil_for") == self.validator:
            hold_gil(float(self.params.get("hold_s", 60.0)))
        if self.params.get("fail_once") and self.states == 1:
            raise RuntimeError("first state goes wrong")
        if self.params.get("sleep_s") and self.states == 1:
            time.sleep(float(self.params["sleep_s"]))
        if self.params.get("junk"):
            return [Cancel(0, self.states), "junk"]
        if self.params.get("many"):
            return [Cancel(0, n) for n in range(int(self.params["many"]))]
        return [Cancel(0, self.states)]

    def on_end(self):
        end_file = self.params.get("end_file")
        if end_file:
            with open(str(end_file), "a") as f:
                f.write(f"{self.validator}\n")
