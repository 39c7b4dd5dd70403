"""The trading rules of SPEC §10.2: their settings (taos.validator.rules), each rule's accept/reject
at its boundary in validation, and the validator applying them (rate limit, sessions, open count,
metrics)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from protocol_samples import SECOND, simulation
from validator_market import NEUTRAL, UID, answer, make_validator, notices, set_market

from taos.protocol import (
    Cancel,
    Direction,
    OrderRejected,
    PlaceLimit,
    PlaceMarket,
    RejectReason,
    ReplyRejected,
    Side,
    TargetAccepted,
    TargetPosition,
    encode_reply,
)
from taos.validator.rules import (
    RateLimiter,
    RulesSettings,
    Session,
    closed_books,
    parse_books,
    parse_clock,
    parse_sessions,
    rules_from_options,
)
from taos.validator.validation import RejectRule, ValidationContext, ValidationResult, validate_reply

NOW = 1_000 * SECOND
SIM = simulation(books=3)
MINUTE = 60 * SECOND


def context(**rules: object) -> ValidationContext:
    return ValidationContext.for_simulation(SIM, NOW, **rules)


def validate(*instructions: object, **rules: object) -> ValidationResult:
    return validate_reply(UID, encode_reply(list(instructions)), context(**rules))  # type: ignore[arg-type]


def limit(book: int = 0, cid: int | None = None) -> PlaceLimit:
    return PlaceLimit(book, Side.BUY, 300.0, 0.5, client_order_id=cid)


# --- settings -------------------------------------------------------------------------------------


def test_preset_taos_has_every_rule_off_and_ptn_every_rule_on() -> None:
    taos = RulesSettings.preset("taos")
    assert taos == RulesSettings()
    assert (taos.max_leverage, taos.max_open, taos.position_interval_s, taos.rate_limit) == (1.0, 0, 0.0, 0)
    assert taos.sessions == ()
    ptn = RulesSettings.preset("ptn")
    assert (ptn.max_leverage, ptn.max_open, ptn.position_interval_s) == (1.0, 200, 60.0)
    assert (ptn.rate_limit, ptn.rate_window_s, ptn.sessions) == (120, 60.0, ())
    assert ptn.position_interval_ns == 60 * SECOND
    with pytest.raises(ValueError, match="unknown rules preset 'sn8'"):
        RulesSettings.preset("sn8")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_leverage": 0.0}, "max_leverage must be a finite number > 0"),
        ({"max_leverage": float("inf")}, "max_leverage must be a finite number > 0"),
        ({"max_open": -1}, r"max_open must be an integer >= 0 \(0 = off\)"),
        ({"max_open": 2.5}, "max_open must be an integer"),
        ({"rate_limit": True}, "rate_limit must be an integer"),
        ({"position_interval_s": -1.0}, "position_interval_s must be a finite number >= 0"),
        ({"rate_window_s": 0.0}, "rate_window_s must be a finite number > 0"),
        ({"sessions": [Session(None, 0, 60)]}, "sessions must be a tuple of Session"),
    ],
)
def test_bad_settings_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(RulesSettings(), **changes)


def test_command_line_options_override_the_preset_and_errors_name_the_flag(tmp_path: Path) -> None:
    rules = rules_from_options("ptn", max_open=50, position_interval_s=None, rate_limit=0)
    assert (rules.max_open, rules.position_interval_s, rules.rate_limit) == (50, 60.0, 0)
    rules = rules_from_options("taos", sessions='[{books = "0-1", open = "09:30", close = "16:00"}]')
    assert rules.sessions == (Session(frozenset({0, 1}), 34_200.0, 57_600.0),)
    file = tmp_path / "sessions.toml"
    file.write_text('[[sessions]]\nbooks = [2]\nopen = 0\nclose = "12:00"\n')
    assert rules_from_options("taos", sessions=str(file)).sessions == (
        Session(frozenset({2}), 0.0, 43_200.0),
    )
    assert rules_from_options("ptn", sessions="none").sessions == ()
    with pytest.raises(ValueError, match=r"--rules.max-open must be an integer >= 0 \(0 = off\), got -3"):
        rules_from_options("ptn", max_open=-3)
    with pytest.raises(ValueError, match=r"--rules\.rate-window must be a finite number > 0"):
        rules_from_options("ptn", rate_window_s=0.0)
    with pytest.raises(ValueError, match=r"--rules\.preset must be one of taos, ptn"):
        rules_from_options("other")
    with pytest.raises(ValueError, match=r"--rules\.sessions: not a TOML array of tables"):
        rules_from_options("taos", sessions="[{books = }]")
    with pytest.raises(ValueError, match=r"--rules\.sessions: cannot read"):
        rules_from_options("taos", sessions=str(tmp_path / "missing.toml"))
    (tmp_path / "empty.toml").write_text("x = 1\n")
    with pytest.raises(ValueError, match="has no sessions array"):
        rules_from_options("taos", sessions=str(tmp_path / "empty.toml"))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("09:30", 34_200.0), ("9:30:15", 34_215.0), ("00:00", 0.0), ("24:00", 86_400.0), (3600, 3600.0)],
)
def test_clock_times(value: object, seconds: float) -> None:
    assert parse_clock(value, "open") == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9h30", "must be HH:MM"),
        ("10:61", "is not a time of day"),
        ("25:00", "outside the day"),
        (-1, "outside the day"),
        (True, "must be HH:MM"),
    ],
)
def test_bad_clock_times(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"open.*{message}"):
        parse_clock(value, "open")


def test_book_lists() -> None:
    assert parse_books(None, "b") is None and parse_books("*", "b") is None
    assert parse_books("0-3,7", "b") == frozenset({0, 1, 2, 3, 7})
    assert parse_books(5, "b") == frozenset({5})
    assert parse_books([1, "2-3"], "b") == frozenset({1, 2, 3})
    for bad, message in (
        ("3-1", "runs backwards"),
        ("x", "is not a book id"),
        ([], "names no book"),
        (1.5, "must be"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_books(bad, "b")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"books": 1}, "must be a list of tables"),
        (["x"], r"sessions\[0\] must be a table"),
        ([{"open": "09:00"}], r"sessions\[0\]: close is missing"),
        ([{"open": "09:00", "close": "10:00", "days": 5}], "unknown key 'days'"),
        ([{"open": "09:00", "close": "09:00"}], "a session needs a length"),
        ([{"books": "a", "open": "09:00", "close": "10:00"}], r"sessions\[0\].books"),
    ],
)
def test_bad_sessions(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sessions(value)


def test_sessions_are_open_from_open_inclusive_to_close_exclusive_every_day() -> None:
    s = Session(None, 34_200.0, 57_600.0)  # 09:30 - 16:00
    at = lambda h, m, sec=0.0, day=0: round(((day * 24 + h) * 3600 + m * 60 + sec) * SECOND)  # noqa: E731
    assert not s.is_open(at(9, 29, 59.999))
    assert s.is_open(at(9, 30))
    assert s.is_open(at(15, 59, 59.999))
    assert not s.is_open(at(16, 0))
    assert s.is_open(at(9, 30, day=3)) and not s.is_open(at(16, 0, day=3))
    night = Session(None, 79_200.0, 7_200.0)  # 22:00 - 02:00, over midnight
    assert night.is_open(at(23, 0)) and night.is_open(at(1, 59, 59)) and night.is_open(at(0, 0, day=1))
    assert not night.is_open(at(2, 0)) and not night.is_open(at(21, 59, 59))


def test_closed_books_are_those_named_and_out_of_all_their_sessions() -> None:
    sessions = parse_sessions(
        [
            {"books": "0-1", "open": "09:00", "close": "12:00"},
            {"books": "1", "open": "13:00", "close": "17:00"},  # book 1 has a lunch break
        ]
    )
    at = lambda h: h * 3600 * SECOND  # noqa: E731
    assert closed_books(sessions, at(10), 3) == frozenset()
    assert closed_books(sessions, at(12), 3) == frozenset({0, 1})  # book 2 is named by none: open
    assert closed_books(sessions, at(14), 3) == frozenset({0})
    assert closed_books((), at(3), 3) == frozenset()
    with pytest.raises(ValueError, match=r"sessions\[0\] names book 5, but there are 3 books"):
        RulesSettings(sessions=(Session(frozenset({5}), 0, 60),)).check_books(3)


def test_rate_limiter_lets_at_most_n_through_in_any_window() -> None:
    now = [0.0]
    r = RateLimiter(3, 60.0, clock=lambda: now[0])
    assert [r.allow("a") for _ in range(4)] == [True, True, True, False]
    assert r.allow("b")  # per key
    now[0] = 59.999
    assert not r.allow("a")  # refused ones do not count, but the three at 0 still do
    now[0] = 60.0
    assert [r.allow("a") for _ in range(4)] == [True, True, True, False]  # the window has passed
    assert [RateLimiter(0, 1.0, clock=lambda: 0.0).allow("a") for _ in range(5)] == [True] * 5


# --- each rule at its boundary (validation) -------------------------------------------------------


def test_max_open_keeps_the_200th_and_refuses_the_201st() -> None:
    result = validate(limit(0, 1), limit(1, 2), Cancel(0, 5), max_open=200, open_count=199)
    assert [a.index for a in result.accepted] == [0, 2]  # the cancel is no placement
    (r,) = result.rejected
    assert (r.index, r.rule, r.reason) == (1, RejectRule.MAX_OPEN, RejectReason.INVALID_INSTRUCTION)
    (n,) = result.notices
    assert isinstance(n, OrderRejected) and (n.book, n.client_order_id) == (1, 2)
    assert n.detail == (
        "max_open: 200 open orders and positions (with this reply's placements), the most allowed is "
        "200: no further placements"
    )
    assert len(validate(limit(0), max_open=200, open_count=200).rejected) == 1
    assert len(validate(limit(0), max_open=0, open_count=10_000).accepted) == 1  # off


def test_max_open_counts_market_orders_and_targets_that_open_a_position() -> None:
    instructions = (
        PlaceMarket(0, Side.SELL, 0.1),  # 198 → 199
        TargetPosition(1, Direction.LONG),  # holds a position on book 1: opens nothing
        TargetPosition(2, Direction.FLAT),  # FLAT opens nothing
        TargetPosition(0, Direction.SHORT),  # 199 → 200
        PlaceLimit(2, Side.SELL, 301.0, 0.1),  # refused
        TargetPosition(2, Direction.LONG),  # refused: the FLAT target for book 2 came first anyway
    )
    result = validate(*instructions, max_open=200, open_count=198, position_sides={1: -1})
    assert [a.index for a in result.accepted] == [0, 1, 2, 3]
    assert [(r.index, r.rule) for r in result.rejected] == [
        (4, RejectRule.MAX_OPEN),
        (5, RejectRule.TARGET_REPEATED),
    ]


def test_a_position_change_59_9_s_after_the_last_is_refused_and_60_s_after_is_accepted() -> None:
    target = TargetPosition(0, Direction.LONG, client_order_id=11)
    early = validate(target, position_interval_ns=MINUTE, last_target_ns={0: NOW - 59_900_000_000})
    (n,) = early.notices
    assert isinstance(n, OrderRejected) and n.client_order_id == 11
    assert n.detail == (
        "position_interval: the last position change on book 0 was 59.9 s ago; at most one per 60 s "
        "of simulated time"
    )
    assert early.rejected[0].rule is RejectRule.POSITION_INTERVAL
    on_time = validate(target, position_interval_ns=MINUTE, last_target_ns={0: NOW - MINUTE})
    assert len(on_time.accepted) == 1
    # other books, other instructions and an interval of 0 are not affected
    recent = {0: NOW - SECOND}
    assert (
        len(
            validate(
                TargetPosition(1, Direction.LONG), position_interval_ns=MINUTE, last_target_ns=recent
            ).accepted
        )
        == 1
    )
    assert (
        len(
            validate(
                limit(0), PlaceMarket(0, Side.BUY, 0.1), position_interval_ns=MINUTE, last_target_ns=recent
            ).accepted
        )
        == 2
    )
    assert len(validate(target, position_interval_ns=0, last_target_ns=recent).accepted) == 1


def test_outside_its_session_a_book_takes_only_cancels() -> None:
    instructions = (
        limit(1, 1),
        PlaceMarket(1, Side.BUY, 0.1, client_order_id=2),
        TargetPosition(1, Direction.LONG, client_order_id=3),
        Cancel(1, 44),
        limit(0, 4),  # book 0 is open
    )
    result = validate(*instructions, closed_books=frozenset({1}))
    assert [a.index for a in result.accepted] == [3, 4]
    assert all(r.rule is RejectRule.SESSION for r in result.rejected)
    assert [(n.reason, n.client_order_id) for n in result.notices] == [
        (RejectReason.MARKET_CLOSED, 1),
        (RejectReason.MARKET_CLOSED, 2),
        (RejectReason.MARKET_CLOSED, 3),
    ]
    # NOW = 1,000 s = 00:16:40 of the first simulated day
    assert result.notices[0].detail == (
        "session: book 1 is outside its trading session at 00:16:40 of the simulated day: only cancels "
        "are allowed"
    )


def test_market_closed_is_numbered_21() -> None:
    assert RejectReason.MARKET_CLOSED == 21


# --- the validator applies the rules --------------------------------------------------------------


def rejection_counts(metrics: object) -> dict[str, float]:
    return {
        s.labels["reason"]: s.value
        for f in metrics.registry.collect()  # type: ignore[attr-defined]
        for s in f.samples
        if s.name == "taos_validator_rejections_total"
    }


def test_the_rate_limit_ignores_replies_beyond_it_with_a_notice(tmp_path: Path) -> None:
    from taos.validator.metrics import ValidatorMetrics

    now = [0.0]
    v = make_validator(tmp_path, RulesSettings(rate_limit=2, rate_window_s=60.0))
    v.rate.clock = lambda: now[0]
    v.metrics = ValidatorMetrics(process_metrics=False)
    for _ in range(3):
        v.accept(answer(limit(0, 1)))
    assert len(v.pending) == 0  # the third reply was ignored
    (n,) = notices(v)
    assert n == ReplyRejected(
        ts_ns=0, detail="rate_limit: more than 2 replies from this hotkey within 60 s: this reply is ignored"
    )
    v.accept({UID: answer(limit(0, 1))[UID], 2: answer(limit(0, 1))[UID]})
    assert v.pending["agent"].tolist() == [2]  # uid 1 still over its limit, uid 2 has its own
    now[0] = 60.0
    v.accept(answer(limit(0, 1)))
    assert len(v.pending) == 1
    assert rejection_counts(v.metrics) == {"rate_limit": 2}


def test_a_timeout_does_not_use_the_rate_limit(tmp_path: Path) -> None:
    from taos.validator.outcome import QueryOutcome
    from taos.validator.transport import Answer

    v = make_validator(tmp_path, RulesSettings(rate_limit=1))
    v.rate.clock = lambda: 0.0
    v.accept({UID: Answer(b"", 5.0, "no answer within 3 s", QueryOutcome.TIMEOUT)})
    v.accept(answer(limit(0, 1)))
    assert len(v.pending) == 1


def test_sessions_refuse_placements_at_the_validators_time(tmp_path: Path) -> None:
    sessions = parse_sessions([{"books": "0", "open": "09:30", "close": "16:00"}])
    v = make_validator(tmp_path, RulesSettings(sessions=sessions))
    v.accept(answer(limit(0, 1), limit(1, 2), TargetPosition(0, Direction.LONG, client_order_id=3)))
    assert v.pending["client_order_id"].tolist() == [2]  # 00:00: book 0 is closed, book 1 has no session
    assert [(n.reason, n.client_order_id) for n in notices(v)] == [
        (RejectReason.MARKET_CLOSED, 1),
        (RejectReason.MARKET_CLOSED, 3),
    ]


def test_sessions_naming_a_missing_book_stop_the_validator(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="names book 9, but there are 2 books"):
        make_validator(
            tmp_path, RulesSettings(sessions=parse_sessions([{"books": 9, "open": 0, "close": 60}]))
        )


def test_the_open_count_is_engine_orders_on_every_book_plus_open_positions(tmp_path: Path) -> None:
    v = make_validator(tmp_path, RulesSettings(max_open=5))
    set_market(v, orders=3)  # 3 open orders on book 0
    base = np.full((3, 2), NEUTRAL * 1e-4)
    base[UID, 1] += 2e-4  # two lots over neutral on book 1: one open position
    v.positions.observe(0, base, NEUTRAL * 1e-4, np.ones((3, 2)), np.full(2, 300.0))  # 0.06 ≥ 1 % of 1
    assert v.positions.open_count(UID) == 1
    v.accept(answer(limit(0, 1), limit(0, 2), limit(0, 3)))
    assert v.pending["client_order_id"].tolist() == [1]  # 3 + 1 + 1 = 5: the second is refused
    assert [n.detail.split(":")[0] for n in notices(v)] == ["max_open", "max_open"]


def test_position_changes_are_spaced_by_the_interval_in_sim_time(tmp_path: Path) -> None:
    v = make_validator(tmp_path, RulesSettings(position_interval_s=60.0))
    v.accept(answer(TargetPosition(0, Direction.LONG, 0.1, client_order_id=1)))
    assert isinstance(notices(v)[0], TargetAccepted) and v.last_target_ns[UID, 0] == 0
    for _ in range(11):  # 55 s of simulated time
        v.step()
    set_market(v)
    v.accept(answer(TargetPosition(0, Direction.FLAT, client_order_id=2)))
    (n,) = notices(v)
    assert isinstance(n, OrderRejected) and n.detail.startswith("position_interval: ")
    v.step()  # 60 s
    set_market(v)
    v.accept(answer(TargetPosition(0, Direction.FLAT, client_order_id=3)))
    assert isinstance(notices(v)[0], TargetAccepted) and v.last_target_ns[UID, 0] == MINUTE


def test_every_rule_counts_its_rejections_in_the_metrics(tmp_path: Path) -> None:
    from taos.validator.metrics import ValidatorMetrics

    sessions = parse_sessions([{"books": "1", "open": "09:30", "close": "16:00"}])
    v = make_validator(tmp_path, RulesSettings(max_open=1, position_interval_s=60.0, sessions=sessions))
    v.metrics = ValidatorMetrics(process_metrics=False)
    v.last_target_ns[UID, 0] = 0
    v.accept(
        answer(
            limit(1),  # session
            TargetPosition(0, Direction.LONG),  # position_interval
            limit(0),  # accepted: 0 + 1 = the one allowed
            PlaceMarket(0, Side.BUY, 0.1),  # max_open
        )
    )
    set_market(v, mid=(float("nan"), 30_000.0))
    v.last_target_ns[UID, 0] = np.iinfo(np.int64).min
    v.accept(answer(TargetPosition(0, Direction.FLAT), TargetPosition(0, Direction.FLAT)))  # no_mid x 2
    assert rejection_counts(v.metrics) == {"session": 1, "position_interval": 1, "max_open": 1, "no_mid": 2}


def test_the_rules_ignore_everything_by_default(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.last_target_ns[UID, 0] = 0
    set_market(v, orders=10_000)
    v.accept(answer(*(limit(0, i) for i in range(1, 6)), TargetPosition(0, Direction.LONG)))
    assert v.pending["client_order_id"].tolist() == [1, 2, 3, 4, 5, 0]
    assert v.pending["qty_lots"][-1] == 3_333_333  # the target, with no client order id
