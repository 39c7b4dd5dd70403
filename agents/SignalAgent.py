"""Trades the signals received by the signal server (mining/run_receive_signals_server.py).

At every state it sends its validator, as ``TargetPosition`` instructions, the received signals
that validator has not had yet (LONG, SHORT or FLAT on a book, at the signal's leverage), each with
the signal's ``client_order_id``. The validator's ``TargetAccepted`` and ``OrderRejected`` notices
are recorded; a signal moves to ``processed_signals/`` once every validator that queries the miner
acknowledged it, or to ``failed_signals/`` with the reasons (see docs/signals.md).

Parameters: ``signals_dir`` (the folder of ``received_signals/``, relative to the miner's working
folder; ``mining``), ``ack_timeout_s`` (a signal not acknowledged by then fails; 300),
``validator_window_s`` (a validator that has not queried for that long no longer counts; 120),
``resend_after_s`` (a signal sent but not answered is sent again, same id, after that long; 60).
All instances of a miner process share one store of the folder.
"""

import logging

from taos.agents import Agent
from taos.protocol import (
    BookEvents,
    Direction,
    Instruction,
    MarketState,
    OrderRejected,
    ReplyRejected,
    TargetAccepted,
)
from taos.signals import shared_store

log = logging.getLogger("taos.miner")


class SignalAgent(Agent):
    shared_process = True  # the instances of all validators share the store of this process
    book_events = BookEvents.NONE  # it trades on signals: its states carry no book events

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        signals_dir = self.param("signals_dir", "mining")
        ack_timeout_s = self.param("ack_timeout_s", 300.0)
        validator_window_s = self.param("validator_window_s", 120.0)
        resend_after_s = self.param("resend_after_s", 60.0)
        self.reject_unknown_params()
        self.store = shared_store(
            signals_dir,
            ack_timeout_s=ack_timeout_s,
            validator_window_s=validator_window_s,
            resend_after_s=resend_after_s,
        )
        self.last_sent: list[int] = []  # the client_order_ids of the previous reply

    def _hotkey(self) -> str:
        if self.validator is None:
            raise RuntimeError("SignalAgent serves an unknown validator (Agent.validator is not set)")
        return self.validator

    def on_target_accepted(self, notice: TargetAccepted) -> None:
        if notice.client_order_id is None:
            return
        if not self.store.acknowledge(
            self._hotkey(),
            notice.client_order_id,
            ts_ns=notice.ts_ns,
            leverage=notice.leverage,
            quantity=notice.quantity,
        ):
            log.debug("TargetAccepted %d is no pending signal's", notice.client_order_id)

    def on_order_rejected(self, notice: OrderRejected) -> None:
        if notice.client_order_id is None:
            return
        if not self.store.reject(
            self._hotkey(), notice.client_order_id, reason=notice.reason.name, detail=notice.detail
        ):
            log.debug("OrderRejected %d is no pending signal's", notice.client_order_id)

    def on_reply_rejected(self, notice: ReplyRejected) -> None:
        self.store.reply_dropped(self._hotkey(), self.last_sent)

    def on_state(self, state: MarketState) -> list[Instruction]:
        signals = self.store.poll(self._hotkey(), state.simulation.books)
        out: list[Instruction] = []
        for s in signals:
            direction = Direction[s.order_type]
            # FLAT has no leverage; the protocol's default is sent.
            leverage = s.leverage if direction != Direction.FLAT else 1.0
            out.append(self.target(s.book_id, direction, leverage, client_order_id=s.client_order_id))
        self.last_sent = [s.client_order_id for s in signals]
        return out
