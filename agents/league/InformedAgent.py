"""League reference: the informed trader. It knows the fundamental price ``horizon_s`` ahead, with a
relative noise of ``noise`` (a research instrument: the league runner hands it the path through
``oracle``; no such thing exists on the subnet, where it does nothing). When the forecast is more
than ``threshold`` above the mid it moves toward ``size`` x its starting base above neutral, when it
is below, as far below; in between it keeps its inventory. ``chunk`` base a step.

Parameters: ``horizon_s=600.0 noise=0.0005 threshold=0.003 size=0.5 chunk=2.0 seed=0``."""

import random

from league_common import LeagueAgent


class InformedAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.horizon_ns = round(self.param("horizon_s", 600.0) * 1e9)
        self.noise = self.param("noise", 0.0005)
        self.threshold = self.param("threshold", 0.003)
        self.size = self.param("size", 0.5)
        self.chunk = self.param("chunk", 2.0)
        self.rng = random.Random(self.param("seed", 0) or uid)
        self.reject_unknown_params()
        self.oracle = None  # (book, time_ns) -> the fundamental price then; set by the league runner

    def on_state(self, state):
        if self.oracle is None:
            return []
        out = []
        for book, account in self.books(state):
            forecast = self.oracle(book.book, state.timestamp_ns + self.horizon_ns)
            forecast *= 1 + self.noise * self.rng.gauss(0.0, 1.0)
            edge = forecast / book.mid - 1
            if abs(edge) < self.threshold:
                continue
            target = self.neutral(book.book) * (1 + (self.size if edge > 0 else -self.size))
            out += self.toward(book, account, target, self.chunk)
        return out
