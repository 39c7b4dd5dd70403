"""League reference: trend following on the mid: when the mid moved more than ``threshold`` over the
last ``lookback`` steps, it moves toward ``size`` x its starting base above (up) or below (down)
neutral, ``chunk`` base a step.

Parameters: ``lookback=24 threshold=0.001 size=0.3 chunk=1.0`` (10 bp in 2 minutes: about two
standard deviations of the default fundamental's 2-minute moves at its mean news intensity)."""

from collections import deque

from league_common import LeagueAgent


class MomentumAgent(LeagueAgent):
    sign = 1.0  # a mean-reversion trader is the same with -1

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.lookback = self.param("lookback", 24)
        self.threshold = self.param("threshold", 0.001)
        self.size = self.param("size", 0.3)
        self.chunk = self.param("chunk", 1.0)
        self.reject_unknown_params()
        self.mids = {}

    def on_state(self, state):
        out = []
        for book, account in self.books(state):
            mids = self.mids.setdefault(book.book, deque(maxlen=self.lookback + 1))
            mids.append(book.mid)
            if len(mids) <= self.lookback:
                continue
            move = mids[-1] / mids[0] - 1
            if abs(move) < self.threshold:
                continue
            direction = self.sign * (1.0 if move > 0 else -1.0)
            target = self.neutral(book.book) * (1 + direction * self.size)
            out += self.toward(book, account, target, self.chunk)
        return out
