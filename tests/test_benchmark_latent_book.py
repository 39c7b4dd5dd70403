"""benchmarks/latent_book.py: the latent order book model behind docs/models.md ("What a latent
book needs"): its trades take exactly the latent volume beyond the price, its stationary book does
not drift, and its impact is a square root only with a long memory and a small exogenous flow."""

import json
import math
from types import ModuleType

import numpy as np
import pytest
from repository import ROOT, load_script


@pytest.fixture(scope="module")
def lb() -> ModuleType:
    return load_script(ROOT / "benchmarks" / "latent_book.py", "latent_book_benchmark")


def sells(book) -> float:  # type: ignore[no-untyped-def]
    return float(np.maximum(-book.phi, 0).sum())


def buys(book) -> float:  # type: ignore[no-untyped-def]
    return float(np.maximum(book.phi, 0).sum())


def test_a_buy_takes_its_volume_of_sells_and_moves_the_price_up(lb) -> None:  # type: ignore[no-untyped-def]
    book = lb.LatentBook(lb.Case("t", ((86400.0, 0.0075),), 0.0))
    before_sells, before_buys, p0 = sells(book), buys(book), book.price
    book.trade(0.05)
    assert sells(book) == pytest.approx(before_sells - 0.05, rel=1e-9)
    assert buys(book) == pytest.approx(before_buys, rel=1e-12)
    assert book.price > p0
    book.trade(-0.12)
    assert buys(book) == pytest.approx(before_buys - 0.12, rel=1e-9)
    assert book.price < p0


def test_the_stationary_book_stays_put_without_flow(lb) -> None:  # type: ignore[no-untyped-def]
    case = lb.Case("t", ((3600.0, 0.0075),), 0.0)
    book = lb.LatentBook(case)
    p0, phi0 = book.price, book.phi.copy()
    for _ in range(720):  # an hour
        book.evolve(lb.STEP_S)
    assert book.price == p0
    # the grid's ends do not take part in the diffusion; the rest stays the profile
    assert np.abs(book.phi - phi0)[:, 10:-10].max() < 0.01 * 0.0075


def test_a_copy_is_independent(lb) -> None:  # type: ignore[no-untyped-def]
    book = lb.LatentBook(lb.Case("t", ((86400.0, 0.0075),), 0.0))
    other = book.copy()
    other.trade(0.2)
    assert other.price > book.price and sells(other) < sells(book)


def test_square_root_only_with_a_long_memory(lb) -> None:  # type: ignore[no-untyped-def]
    long, _ = lb.impacts(lb.Case("t", ((30 * 86400.0, 0.0075),), 0.0), runs=1)
    day, _ = lb.impacts(lb.Case("t", ((86400.0, 0.0075),), 0.0), runs=1)
    hour, _ = lb.impacts(lb.Case("t", ((3600.0, 0.0075),), 0.0), runs=1)
    assert np.all(np.diff(long) > 0)
    assert 0.4 <= lb.exponent(long) <= 0.7
    assert lb.exponent(day) > 0.7
    assert hour[0] <= 0 and math.isnan(lb.exponent(hour))  # the smallest metaorder cannot move it


THREE = ((30 * 86400.0, 0.004), (86400.0, 0.004), (3600.0, 0.004))


def test_components_at_one_price_trade_with_each_other(lb) -> None:  # type: ignore[no-untyped-def]
    book = lb.LatentBook(lb.Case("t", THREE, 0.0))
    rng = np.random.default_rng(3)
    book.phi = rng.normal(size=book.phi.shape) * 0.01  # buys and sells mixed at every price
    net = book.phi.sum(axis=0)
    book._annihilate()
    assert np.allclose(book.phi.sum(axis=0), net, rtol=0, atol=1e-15)  # what is left is the net
    assert np.all((book.phi >= 0).all(axis=0) | (book.phi <= 0).all(axis=0))  # one side per price


def test_several_components_give_up_exactly_the_volume_traded(lb) -> None:  # type: ignore[no-untyped-def]
    book = lb.LatentBook(lb.Case("t", THREE, 0.0))
    for _ in range(60):
        book.evolve(lb.STEP_S)
    before, p0 = sells(book), book.price
    book.trade(0.03)
    assert sells(book) == pytest.approx(before - 0.03, rel=1e-9) and book.price > p0


def test_the_exponents_need_positive_impacts(lb) -> None:  # type: ignore[no-untyped-def]
    root = np.array([1.0, 3**0.5, 10**0.5, 30**0.5, 100**0.5])
    assert lb.exponent(root) == pytest.approx(0.5)
    assert lb.local_exponents(root) == pytest.approx([0.5] * 4)
    assert math.isnan(lb.exponent(np.array([0.0, 1, 2, 3, 4])))
    local = lb.local_exponents(np.array([0.0, 1, 3, 9, 27]))
    assert math.isnan(local[0]) and local[1:] == pytest.approx(
        [math.log(3) / math.log(10 / 3), 1, math.log(3) / math.log(10 / 3)]
    )


def test_the_report_as_json_and_text(lb, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # three of the cases: without an exogenous flow (one too short-lived to move), and with one (all
    # eight take too long for a test)
    monkeypatch.setattr(lb, "CASES", (lb.CASES[0], lb.CASES[2], lb.CASES[3]))
    assert lb.main(["--runs", "2", "--hours", "0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sizes"] == list(lb.SIZES)
    assert [c["case"] for c in data["cases"]] == [c.name for c in lb.CASES]
    for c in data["cases"]:
        assert len(c["impact_ticks"]) == len(lb.SIZES) == len(c["se_ticks"])
        assert c["exponent"] is None or 0 < c["exponent"] < 3
        assert c["exponent_se"] is None or c["exponent_se"] >= 0
        assert len(c["local_exponents"]) == len(lb.SIZES) - 1
        if c["noise"] == 0:
            assert c["bounce"] is None
        else:
            assert c["bounce"]["minute_sd_ticks"] > 0 and -1 <= c["bounce"]["implied_rho1"] <= 1
            assert c["bounce"]["level_sd_ticks"] > 0
    assert data["fundamental_minute_ticks"] == pytest.approx(9.49, abs=0.005)
    assert lb.main(["--runs", "2", "--hours", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.count("exponent") == len(lb.CASES)
    assert out.count("rho1") == out.count("level s.d.") == sum(c.noise > 0 for c in lb.CASES)
    assert "n/a (an impact <= 0)" in out  # the 1-hour memory


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--runs", "1"], "--runs must be at least 2"),
        (["--hours", "0.1"], "--hours must be between 0.5 and 1000"),
    ],
)
def test_bad_arguments_are_refused(lb, capsys, args, why) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as e:
        lb.main(args)
    assert e.value.code == 2
    assert why in capsys.readouterr().err


def test_the_price_bounces_in_the_book_frame(lb) -> None:  # type: ignore[no-untyped-def]
    moves = lb.bounce(lb.Case("t", THREE, 0.0047), hours=2.0)
    assert moves.minute_sd > 0 and moves.acf1 < -0.1  # the book pushes a displaced price back
    assert moves.level_sd > 0
    # a deeper book strays less
    deep = lb.bounce(lb.Case("t", tuple((m, 4 * d) for m, d in THREE), 0.0047), hours=2.0)
    assert 0 < deep.level_sd < moves.level_sd and deep.minute_sd < moves.minute_sd
    # a book too deep for the flow to move does not move, and has no autocorrelation
    still = lb.bounce(lb.Case("t", ((3600.0, 10.0),), 0.0047), hours=0.5)
    assert still.minute_sd == 0 and still.level_sd == 0 and math.isnan(still.acf1)


def test_the_implied_rho1_weighs_the_bounce_by_its_share_of_the_variance(lb) -> None:  # type: ignore[no-untyped-def]
    assert lb.implied_rho1(3.0, -0.4, fundamental_sd=4.0) == pytest.approx(-0.4 * 9 / 25)
    assert lb.implied_rho1(0.0, float("nan")) == 0.0
    assert lb.implied_rho1(1e6, -0.4) == pytest.approx(-0.4)
