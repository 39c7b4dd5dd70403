"""League reference: never trades (its score must be 0)."""

from league_common import LeagueAgent


class DoNothingAgent(LeagueAgent):
    def on_state(self, state):
        return []
