"""A test agent whose ``on_state`` raises ``ValueError('x')`` on every state (``after``: only from
its ``after``-th state on; before that it answers nothing)."""

from taos.agents import Agent


class Raising(Agent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.states = 0

    def on_state(self, state):
        self.states += 1
        if self.states >= int(self.params.get("after", 1)):
            raise ValueError("x")
        return []
