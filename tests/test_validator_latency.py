"""Response time -> simulated delay (taos.validator.latency), with hand-computed values."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taos.protocol import Cancel, Direction, PlaceLimit, Side, TargetPosition
from taos.validator.latency import (
    LATENCY_MODELS,
    LatencyModel,
    LinearLatency,
    instruction_delay_ns,
    latency_model,
)

MS = 1_000_000


def test_defaults_are_the_spec_values() -> None:
    model = LinearLatency()
    assert (model.min_delay_s, model.max_delay_s, model.timeout_s) == (0.010, 0.500, 3.0)
    assert model.name == "linear"
    assert isinstance(model, LatencyModel)


@pytest.mark.parametrize(
    ("response_time_s", "expected_ns"),
    [
        (0.0, 10 * MS),  # instant answer: the minimum
        (0.03, 10 * MS),  # 500 ms * 0.03 / 3 = 5 ms < 10 ms
        (0.06, 10 * MS),  # 500 ms * 0.06 / 3 = 10 ms, exactly the minimum
        (0.3, 50 * MS),  # 500 ms * 0.1
        (1.5, 250 * MS),  # half the timeout: half the maximum
        (2.4, 400 * MS),  # 500 ms * 0.8
        (2.999, 499_833_333),  # 500 ms * 2.999 / 3 = 499.8333... ms, rounded to the nearest ns
        (1, 166_666_667),  # an int works: 500 ms / 3 = 166.666666... ms
    ],
)
def test_linear_delay_hand_computed(response_time_s: float, expected_ns: int) -> None:
    assert LinearLatency().delay_ns(response_time_s) == expected_ns


@pytest.mark.parametrize("response_time_s", [3.0, 3.0000001, 10.0, math.inf])
def test_at_or_after_the_timeout_is_late(response_time_s: float) -> None:
    assert LinearLatency().delay_ns(response_time_s) is None


@pytest.mark.parametrize("response_time_s", [-0.001, -1.0, -math.inf, math.nan])
def test_negative_or_nan_response_time_is_an_error(response_time_s: float) -> None:
    with pytest.raises(ValueError, match="response time"):
        LinearLatency().delay_ns(response_time_s)


@pytest.mark.parametrize("response_time_s", ["1.0", None, True])
def test_non_numeric_response_time_is_an_error(response_time_s: object) -> None:
    with pytest.raises(ValueError, match="response time"):
        LinearLatency().delay_ns(response_time_s)  # type: ignore[arg-type]


def test_custom_parameters() -> None:
    model = LinearLatency(min_delay_s=0.0, max_delay_s=1.0, timeout_s=2.0)
    assert model.delay_ns(0.0) == 0
    assert model.delay_ns(0.5) == 250 * MS  # 1 s * 0.5 / 2
    assert model.delay_ns(1.999) == 999_500_000
    assert model.delay_ns(2.0) is None


def test_min_equal_to_max_is_a_constant_delay() -> None:
    model = LinearLatency(min_delay_s=0.2, max_delay_s=0.2, timeout_s=1.0)
    assert [model.delay_ns(t) for t in (0.0, 0.5, 0.99)] == [200 * MS, 200 * MS, 200 * MS]


@pytest.mark.parametrize(
    "params",
    [
        {"min_delay_s": -0.001},
        {"min_delay_s": 0.6},  # above max_delay_s = 0.5
        {"max_delay_s": math.inf},
        {"min_delay_s": math.nan},
        {"timeout_s": 0.0},
        {"timeout_s": -1.0},
        {"timeout_s": math.inf},
    ],
)
def test_bad_parameters_are_refused(params: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LinearLatency(**params)


def test_model_is_immutable() -> None:
    model = LinearLatency()
    with pytest.raises(AttributeError):
        model.timeout_s = 5.0  # type: ignore[misc]


@given(st.floats(min_value=0.0, max_value=2.9999, allow_nan=False))
def test_delay_is_within_bounds_before_the_timeout(response_time_s: float) -> None:
    delay = LinearLatency().delay_ns(response_time_s)
    assert delay is not None
    assert 10 * MS <= delay <= 500 * MS


@given(st.floats(min_value=0.0, max_value=2.99), st.floats(min_value=0.0, max_value=2.99))
def test_delay_does_not_decrease_with_response_time(a: float, b: float) -> None:
    model = LinearLatency()
    lo, hi = sorted((a, b))
    delay_lo, delay_hi = model.delay_ns(lo), model.delay_ns(hi)
    assert delay_lo is not None and delay_hi is not None
    assert delay_lo <= delay_hi


def test_model_by_name() -> None:
    assert LATENCY_MODELS["linear"] is LinearLatency
    assert latency_model("linear") == LinearLatency()
    assert latency_model("linear", timeout_s=5.0) == LinearLatency(timeout_s=5.0)
    with pytest.raises(ValueError, match="unknown latency model 'gaussian'"):
        latency_model("gaussian")


def test_a_model_must_implement_delay_ns() -> None:
    class Incomplete(LatencyModel):
        name = "incomplete"

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def test_a_replacement_model_plugs_in() -> None:
    class Fixed(LatencyModel):
        name = "fixed"

        def delay_ns(self, response_time_s: float) -> int | None:
            return 7 if response_time_s < 1 else None

    model: LatencyModel = Fixed()
    assert model.delay_ns(0.5) == 7
    assert model.delay_ns(1.0) is None


# --- the instruction's own extra delay -------------------------------------------------------

SECOND = 1_000_000_000


def test_instruction_delay_adds_the_extra_delay() -> None:
    order = PlaceLimit(book=0, side=Side.BUY, price=100.0, quantity=1.0, delay_ns=2 * MS)
    assert instruction_delay_ns(250 * MS, order, max_extra_delay_ns=SECOND) == 252 * MS


def test_instruction_delay_without_extra_is_the_model_delay() -> None:
    assert instruction_delay_ns(10 * MS, Cancel(book=1, order_id=5), max_extra_delay_ns=SECOND) == 10 * MS


def test_extra_delay_up_to_the_maximum_is_allowed() -> None:
    target = TargetPosition(book=0, direction=Direction.LONG, delay_ns=SECOND)
    assert instruction_delay_ns(10 * MS, target, max_extra_delay_ns=SECOND) == SECOND + 10 * MS


def test_extra_delay_over_the_maximum_is_refused() -> None:
    target = TargetPosition(book=0, direction=Direction.LONG, delay_ns=SECOND + 1)
    with pytest.raises(ValueError, match=r"outside \[0, 1000000000\]"):
        instruction_delay_ns(10 * MS, target, max_extra_delay_ns=SECOND)


def test_negative_extra_delay_is_refused() -> None:
    cancel = Cancel(book=0, order_id=5, delay_ns=-1)
    with pytest.raises(ValueError, match="extra delay_ns -1"):
        instruction_delay_ns(10 * MS, cancel, max_extra_delay_ns=SECOND)


@pytest.mark.parametrize("model_delay", [-1, 1.5, True])
def test_bad_model_delay_is_refused(model_delay: object) -> None:
    with pytest.raises(ValueError, match="model delay"):
        instruction_delay_ns(model_delay, Cancel(book=0, order_id=5), max_extra_delay_ns=SECOND)  # type: ignore[arg-type]
