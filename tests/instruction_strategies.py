"""Hypothesis strategies for raw (undecoded) instructions, with fields drawn from the whole range
the wire carries: the inputs of the tests of ``quick_check`` and of the validation on columns."""

from __future__ import annotations

import math

from hypothesis import strategies as st

NOW = 7_200 * 10**9
"""The simulated time the strategies' GTT expiries are drawn around."""

FLOATS = st.one_of(
    st.sampled_from([300.0, 299.99, 299.995, 0.5, 0.0001, 0.00015, 1e-4, 1e10, 1e12, 1e13, 1e308, 0.0, -1.0]),
    st.sampled_from([math.inf, -math.inf, math.nan, 5e-324, 2.0**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-6, max_value=1e6),
    st.integers(min_value=1, max_value=10**6).map(lambda n: n / 100),  # on the tick grid, mostly
)
INTS = st.one_of(
    st.sampled_from([-(2**63), -1, 0, 1, 2, 3, 7, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1]),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
)
NUMBERS = st.one_of(FLOATS, INTS)
OPTIONAL_INTS = st.one_of(st.none(), INTS)

# the fields limit and market orders share
_ORDER = {
    "book": st.one_of(st.integers(0, 3), INTS),
    "side": st.sampled_from([1, 2]),
    "quantity": NUMBERS,
    "stp": st.sampled_from([0, 1, 2, 3]),
    "client_order_id": OPTIONAL_INTS,
    "delay_ns": st.one_of(st.just(0), INTS),
}
LIMIT = st.fixed_dictionaries(
    {
        "kind": st.just(1),
        **_ORDER,
        "price": NUMBERS,
        "time_in_force": st.sampled_from([1, 2, 3, 4]),
        "expiry_ns": st.one_of(st.none(), st.just(NOW + 1), INTS),
        "post_only": st.booleans(),
    }
)
MARKET = st.fixed_dictionaries({"kind": st.just(2), **_ORDER, "currency": st.sampled_from([1, 2])})
CANCEL = st.fixed_dictionaries(
    {
        "kind": st.just(3),
        "book": st.one_of(st.integers(0, 3), INTS),
        "order_id": st.one_of(st.integers(-2, 5), INTS),
        "quantity": st.one_of(st.none(), NUMBERS),
        "delay_ns": st.one_of(st.just(0), INTS),
    }
)
TARGET = st.fixed_dictionaries(
    {
        "kind": st.just(5),
        "book": st.integers(0, 3),
        "direction": st.sampled_from([0, 1, 2]),
        "leverage": FLOATS,
    }
)

INSTRUCTION = st.one_of(LIMIT, MARKET, CANCEL, TARGET)
