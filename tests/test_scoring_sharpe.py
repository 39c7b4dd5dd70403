"""Sharpe of inventory values, its batched form and its normalisation: hand-computed values."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from taos.scoring import normalize_sharpe, penalize_noisy_losses, sharpe, sharpe_batch, typical_std

# [100, 101, 103, 102] → r = [1, 2, -1], n = 3, mean 2/3,
# population variance mean(r²) - mean² = (1 + 4 + 1)/3 - 4/9 = 14/9, std = √14/3,
# S = √3 · (2/3) / (√14/3) = 2√3/√14 ≈ 0.9258
EXAMPLE = [100.0, 101.0, 103.0, 102.0]
EXAMPLE_S = 2.0 * math.sqrt(3.0) / math.sqrt(14.0)


def test_hand_computed_example() -> None:
    assert sharpe(EXAMPLE) == pytest.approx(EXAMPLE_S, rel=1e-12)
    assert abs(EXAMPLE_S - 0.9258201) < 1e-7


def test_second_hand_computed_example() -> None:
    # [0, 2, 1, 4] → r = [2, -1, 3], mean 4/3, mean(r²) = 14/3, variance 14/3 - 16/9 = 26/9,
    # S = √3 · (4/3) / (√26/3) = 4√3/√26 ≈ 1.3587
    assert sharpe([0.0, 2.0, 1.0, 4.0]) == pytest.approx(4.0 * math.sqrt(3.0) / math.sqrt(26.0), rel=1e-12)


def test_falling_series_has_the_opposite_sign() -> None:
    assert sharpe([-v for v in EXAMPLE]) == pytest.approx(-EXAMPLE_S, rel=1e-12)


@pytest.mark.parametrize("values", [[], [100.0], [100.0, 101.0]])
def test_fewer_than_two_returns_is_zero(values: list[float]) -> None:
    assert sharpe(values) == 0.0


def test_constant_series_is_zero() -> None:
    assert sharpe([5.0, 5.0, 5.0, 5.0]) == 0.0


def test_equal_returns_have_zero_std_and_give_zero() -> None:
    assert sharpe([1.0, 2.0, 3.0, 4.0]) == 0.0


def test_rounding_noise_of_equal_returns_counts_as_zero_std() -> None:
    # 0.2-0.1, 0.3-0.2, 0.4-0.3 differ in the last bits; without the tolerance S would be ~1e16
    r = np.diff([0.1, 0.2, 0.3, 0.4])
    assert np.std(r) > 0.0
    assert sharpe([0.1, 0.2, 0.3, 0.4]) == 0.0


def test_nan_drops_the_returns_touching_it() -> None:
    # [100, 101, NaN, 103, 102, 104]: returns 101-100 = 1, 102-103 = -1, 104-102 = 2;
    # 101 → NaN and NaN → 103 are dropped (no return spans the boundary), so r = [1, -1, 2]:
    # the same multiset as the example → the same S
    assert sharpe([100.0, 101.0, np.nan, 103.0, 102.0, 104.0]) == pytest.approx(EXAMPLE_S, rel=1e-12)


def test_infinite_values_are_missing_like_nan() -> None:
    assert sharpe([100.0, 101.0, np.inf, 103.0, 102.0, 104.0]) == pytest.approx(EXAMPLE_S, rel=1e-12)
    assert sharpe([100.0, 101.0, -np.inf, 103.0, 102.0, 104.0]) == pytest.approx(EXAMPLE_S, rel=1e-12)


@pytest.mark.parametrize("values", [[np.nan] * 5, [1.0, np.nan, 2.0, np.nan, 3.0], [np.nan, 1.0, 2.0]])
def test_too_few_returns_after_nan_is_zero(values: list[float]) -> None:
    assert sharpe(values) == 0.0


def test_scalar_form_wants_one_dimension() -> None:
    with pytest.raises(ValueError, match="values must be one-dimensional"):
        sharpe([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="values must be numeric"):
        sharpe(["a", "b"])


def test_batch_hand_values_and_shape() -> None:
    rows = np.array(
        [
            [*EXAMPLE, np.nan],
            [100.0, 101.0, np.nan, 103.0, 102.0],  # r = [-1] only → 0
            [5.0, 5.0, 5.0, 5.0, 5.0],  # constant → 0
            [0.0, 2.0, 1.0, 4.0, np.nan],
        ]
    )
    out = sharpe_batch(rows)
    assert out.shape == (4,)
    assert out == pytest.approx([EXAMPLE_S, 0.0, 0.0, 4.0 * math.sqrt(3.0) / math.sqrt(26.0)], rel=1e-12)


def test_batch_over_miners_and_books() -> None:
    values = np.tile(np.array(EXAMPLE), (3, 2, 1))
    values[1, 0] = 7.0
    out = sharpe_batch(values)
    assert out.shape == (3, 2)
    assert out[1, 0] == 0.0
    assert out[0, 0] == pytest.approx(EXAMPLE_S) and out[2, 1] == pytest.approx(EXAMPLE_S)


@pytest.mark.parametrize("window", [0, 1, 2])
def test_batch_short_windows_are_zero(window: int) -> None:
    assert sharpe_batch(np.ones((4, window))).tolist() == [0.0] * 4


def test_batch_of_one_series_and_of_none() -> None:
    assert sharpe_batch(EXAMPLE).shape == ()
    assert float(sharpe_batch(EXAMPLE)) == pytest.approx(EXAMPLE_S)
    assert sharpe_batch(np.zeros((0, 10))).shape == (0,)


def test_batch_rejects_a_scalar() -> None:
    with pytest.raises(ValueError, match="at least one dimension"):
        sharpe_batch(3.0)


def test_batch_rounding_noise_counts_as_zero_std() -> None:
    assert sharpe_batch([[0.1, 0.2, 0.3, 0.4]]).tolist() == [0.0]


# Quarter-integers: differences are exact, so the zero-std rule cannot sit on a rounding edge.
quarters = st.integers(-4000, 4000).map(lambda i: i / 4.0)
windows = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=12),
    elements=st.one_of(quarters, st.just(np.nan)),
)


@given(windows)
def test_batch_equals_a_loop_of_the_scalar_form(values: np.ndarray) -> None:
    batch = sharpe_batch(values)
    loop = [sharpe(row) for row in values]
    assert batch.shape == (values.shape[0],)
    assert batch.tolist() == pytest.approx(loop, rel=1e-9, abs=1e-12)


@given(st.lists(quarters, max_size=30), st.floats(0.5, 100.0), st.floats(-1e3, 1e3))
def test_sharpe_is_invariant_to_scale_and_shift(values: list[float], scale: float, shift: float) -> None:
    base = sharpe(values)
    moved = sharpe([scale * v + shift for v in values])
    assert moved == pytest.approx(base, rel=1e-6, abs=1e-9)


# --- normalisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        (0.0, 0.5),  # (0 + 10) / 20
        (4.0, 0.7),  # (4 + 10) / 20
        (-4.0, 0.3),  # (-4 + 10) / 20
        (10.0, 1.0),
        (15.0, 1.0),  # clipped to 10
        (-15.0, 0.0),  # clipped to -10
        (math.inf, 1.0),
        (-math.inf, 0.0),
    ],
)
def test_normalize_sharpe_hand_values(s: float, expected: float) -> None:
    assert float(normalize_sharpe(s)) == pytest.approx(expected)


def test_normalize_sharpe_nan_and_shapes() -> None:
    assert math.isnan(float(normalize_sharpe(math.nan)))
    assert normalize_sharpe(1.0).shape == ()
    assert normalize_sharpe([]).shape == (0,)
    assert normalize_sharpe([[0.0, 2.0]]) == pytest.approx(np.array([[0.5, 0.6]]))


@given(st.lists(st.floats(allow_nan=False), max_size=30))
def test_normalize_sharpe_is_in_unit_interval_and_monotone(s: list[float]) -> None:
    out = normalize_sharpe(sorted(s))
    assert np.all((out >= 0.0) & (out <= 1.0))
    assert np.all(np.diff(out) >= 0.0)


# --- losing books: the typical s.d. and Israelsen's refinement ----------------------------------


def test_the_typical_std_is_the_median_of_the_eligible_nonzero_ones_per_book() -> None:
    std = [[1.0, 0.0, 5.0], [3.0, 0.0, 0.0], [2.0, 7.0, 9.0], [100.0, 4.0, 1.0]]
    eligible = [[True, True, True], [True, True, True], [True, True, False], [False, True, True]]
    # book 0: 1, 3, 2 → 2; book 1: only 7 and 4 are nonzero → 5.5; book 2: 5 and 1 → 3
    assert typical_std(std, eligible).tolist() == [2.0, 5.5, 3.0]
    out = typical_std([[0.0, 1.0]], [[True, False]])  # nobody eligible with noise: NaN
    assert np.isnan(out).all()
    assert typical_std([[np.nan], [2.0], [4.0]], [[True]] * 3).tolist() == [3.0]  # NaN left out


@pytest.mark.parametrize(
    ("std", "eligible", "message"),
    [
        ([1.0, 2.0], [True, True], r"\(miners, books\)"),
        ([[1.0, 2.0]], [[True]], "one shape"),
        ([[-1.0]], [[True]], ">= 0"),
        ([[np.inf]], [[True]], "finite"),
    ],
)
def test_bad_typical_std_inputs_are_refused(std: object, eligible: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        typical_std(std, eligible)  # type: ignore[arg-type]


def test_only_a_loss_noisier_than_the_typical_one_is_scored_with_the_typical_noise() -> None:
    s = np.array([[-1.0, -1.0, 2.0, 0.0, -3.0]])
    std = np.array([[4.0, 1.0, 9.0, 5.0, 3.0]])
    typical = np.array([2.0, 2.0, 2.0, 2.0, np.nan])
    # -1 x 4/2 = -2; a quieter loss, a gain, a zero and a book without a typical s.d. keep S
    assert penalize_noisy_losses(s, std, typical).tolist() == [[-2.0, -1.0, 2.0, 0.0, -3.0]]


@given(
    mean=st.floats(-10.0, -1e-3),
    sd_a=st.floats(1e-3, 1e3),
    sd_b=st.floats(1e-3, 1e3),
    typical=st.floats(1e-3, 1e3),
)
def test_noise_beyond_the_typical_amount_never_lifts_a_loss(
    mean: float, sd_a: float, sd_b: float, typical: float
) -> None:
    """Sharpe alone rises toward 0 as noise grows. With the rule a loss scores at most what it would
    with the typical s.d., and beyond that noise changes nothing."""
    n = 720
    lo, hi = min(sd_a, sd_b), max(sd_a, sd_b)
    quiet, noisy = (float(penalize_noisy_losses(math.sqrt(n) * mean / sd, sd, typical)) for sd in (lo, hi))
    ceiling = math.sqrt(n) * mean / typical
    assert quiet <= ceiling * (1 - 1e-12) and noisy <= ceiling * (1 - 1e-12)
    if lo >= typical:
        assert noisy == pytest.approx(quiet, rel=1e-12) and noisy == pytest.approx(ceiling, rel=1e-12)
    if hi <= typical:  # at most the typical noise: the plain Sharpe ratio
        assert noisy == math.sqrt(n) * mean / hi
