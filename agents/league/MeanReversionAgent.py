"""League reference: the momentum trader turned around: after a move of more than ``threshold``
over ``lookback`` steps it bets on the way back.

Parameters: as MomentumAgent."""

from MomentumAgent import MomentumAgent


class MeanReversionAgent(MomentumAgent):
    sign = -1.0
