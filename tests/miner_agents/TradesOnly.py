"""A test agent that asks for the books' trades only (``book_events = TRADES``): replies
Cancel(book 0, order 1), after sleeping ``sleep_s`` seconds (optional) on its first state."""

import time

from taos.agents import Agent
from taos.protocol import BookEvents, Cancel


class TradesOnly(Agent):
    book_events = BookEvents.TRADES

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.states = 0

    def on_state(self, state):
        self.states += 1
        if self.params.get("sleep_s") and self.states == 1:
            time.sleep(float(self.params["sleep_s"]))
        return [Cancel(0, 1)]
