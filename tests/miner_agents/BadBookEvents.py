"""A test agent whose ``book_events`` is no ``BookEvents``: it cannot be loaded."""

from taos.agents import Agent


class BadBookEvents(Agent):
    book_events = 7  # type: ignore[assignment]

    def on_state(self, state):
        return []
