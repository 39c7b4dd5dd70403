"""A clock the tests move by hand: call it for the time, set ``now`` to move it."""


class ManualClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
