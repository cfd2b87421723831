"""The pure margin arithmetic: exact by construction, checked by property tests."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costledger.margins.arithmetic import AtLimit, Margin, allocate, allocate_by, flag, per_month, percentile

NANO = Decimal("0.000000001")
CENT = Decimal("0.01")

amounts = st.decimals(min_value=0, max_value=10**6, places=9, allow_nan=False, allow_infinity=False)
cents = st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n) * CENT)
weights = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=40).filter(lambda w: sum(w) > 0)


@given(revenue=amounts, refunds=amounts, fees=amounts, variable=amounts, extra=amounts, fixed=amounts)
def test_margin_is_revenue_minus_refunds_fees_and_costs_exactly(revenue, refunds, fees, variable, extra, fixed):
    m = Margin(revenue, refunds, fees, variable, extra, fixed)
    assert m.margin == revenue - refunds - fees - variable - extra - fixed
    assert m.margin + m.cost == m.net_revenue
    # Adding margins adds every part: a plan's margin is the sum of its users'.
    assert (m + m).margin == 2 * m.margin


@given(total=cents, weights=weights)
def test_allocation_sums_exactly_and_each_part_is_within_one_cent_of_its_share(total, weights):
    parts = allocate(total, weights, CENT)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(total) * weight / sum(weights)
        assert abs(Fraction(part) - exact) < Fraction(CENT)
        assert part == part.quantize(CENT)


@given(total=st.integers(min_value=0, max_value=10**15).map(lambda n: Decimal(n) * NANO), weights=weights)
def test_allocation_in_nano_dollars_sums_exactly(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(Fraction(part) - Fraction(total) * weight / sum(weights)) < Fraction(NANO)


@given(weights=st.lists(st.decimals(min_value=0, max_value=1000, places=3), min_size=1, max_size=10))
def test_allocation_accepts_decimal_weights(weights):
    if sum(weights) == 0:
        return
    assert sum(allocate(Decimal("20.00"), weights, CENT)) == Decimal("20.00")


def test_largest_remainder_gives_the_odd_cent_to_the_largest_remainder():
    # $20 over 3 sessions: 6.67 / 6.67 / 6.66 — ties go to the earlier part.
    assert allocate(Decimal(20), [1, 1, 1], CENT) == [Decimal("6.67"), Decimal("6.67"), Decimal("6.66")]
    # 1, 2 → shares 3.333…, 6.666…: the remainder .666 beats .333.
    assert allocate(Decimal(10), [1, 2], CENT) == [Decimal("3.33"), Decimal("6.67")]
    assert allocate_by(Decimal(1), {"a": 3, "b": 1}, CENT) == {"a": Decimal("0.75"), "b": Decimal("0.25")}


def test_allocation_refuses_what_it_cannot_split_exactly():
    with pytest.raises(ValueError, match="whole number"):
        allocate(Decimal("0.005"), [1, 1], CENT)
    with pytest.raises(ValueError, match="no weight"):
        allocate(Decimal(5), [0, 0], CENT)
    with pytest.raises(ValueError, match="negative"):
        allocate(Decimal(-1), [1], CENT)
    assert allocate(Decimal(0), [0, 0], CENT) == [0, 0]


def test_percentile_is_nearest_rank():
    values = [Decimal(v) for v in ("5", "1", "4", "2", "3", "10", "6", "7", "8", "9")]
    assert percentile(values, 50) == Decimal(5)
    assert percentile(values, 90) == Decimal(9)
    assert percentile(values, 100) == Decimal(10)
    assert percentile([Decimal("0.7")], 90) == Decimal("0.7")
    with pytest.raises(ValueError):
        percentile([], 50)


@given(values=st.lists(amounts, min_size=1, max_size=50))
def test_percentiles_are_observed_values_in_order(values):
    p50, p90 = percentile(values, 50), percentile(values, 90)
    assert p50 in values and p90 in values
    assert min(values) <= p50 <= p90 <= max(values)


def test_at_limit_and_flags():
    # Creator: $29, 100 sessions at $0.24 each, Stripe fee 2.9 % + 0.30 = 1.141.
    at = AtLimit(Decimal(29), Decimal("1.141"), 100, Decimal("0.24"))
    assert at.cost == Decimal("25.141")
    assert at.margin == Decimal("3.859")
    assert flag(at.margin, Decimal(29), Decimal("0.2")) == "thin"
    assert flag(at.margin, Decimal(29), None) == "ok"
    assert flag(Decimal("-0.01"), Decimal(29), None) == "negative"


def test_per_month_scales_to_thirty_days_rounding_down_to_the_cent():
    assert per_month(Decimal("7"), 7) == Decimal("30.00")
    assert per_month(Decimal("1"), 90) == Decimal("0.33")
