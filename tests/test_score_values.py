"""Value comparison: the official scorer's holes (names, case, dates, numbers, multi-values)."""

from __future__ import annotations

import datetime as dt

import pytest

from midib.score.values import dates_in, same_value, value_present

D = dt.date(2004, 1, 19)


@pytest.mark.parametrize("text", ["20040119", "2004-01-19", "01/19/2004", "19.01.2004",
                                  "19-Jan-2004", "19-JAN-2004", "January 19, 2004", "Jan 19 2004",
                                  "seen on 20040119083000.5 by", "scan 2004/01/19."])
def test_dates_recognised_in_any_spelling(text: str) -> None:
    assert D in dates_in(text)


@pytest.mark.parametrize("text", ["1.2.3.1220040119555", "200401190", "no date", "2004"])
def test_digit_runs_are_not_dates(text: str) -> None:
    assert D not in dates_in(text)


@pytest.mark.parametrize("observed", ["JOHN DOE", "DOE, J", "doe^john", "Mr. John Doe"])
def test_name_left_reordered_is_a_leak(observed: str) -> None:
    assert value_present("PN", "DOE^JOHN", [observed])


@pytest.mark.parametrize("observed", ["ANONYMOUS", "DOES^NOT", "", "JOHNSON^X"])
def test_replaced_name_is_not_a_leak(observed: str) -> None:
    assert not value_present("PN", "DOE^JOHN", [observed])


def test_reformatted_date_is_a_leak_and_shifted_one_is_not() -> None:
    assert value_present("DA", "20040119", ["19-Jan-2004"])
    assert value_present("DT", "20040119", ["20040119120000"])
    assert not value_present("DA", "20040119", ["20031011"])


def test_multi_valued_compared_value_by_value() -> None:
    assert value_present("LO", "ALPHA\\BRAVO99", ["X", "bravo99"])
    assert same_value("CS", "ORIGINAL\\PRIMARY", ["ORIGINAL", "PRIMARY"])
    assert not same_value("CS", "ORIGINAL\\PRIMARY", ["PRIMARY", "ORIGINAL"])


def test_numbers_as_numbers_only_for_numeric_vrs() -> None:
    assert same_value("DS", "1.0", ["1"])
    assert same_value("IS", "0012", ["12"])
    assert not same_value("LO", "1.0", ["1"])


def test_case_and_punctuation_normalised_for_text() -> None:
    assert same_value("LO", "Chest, PA view", ["CHEST PA VIEW"])
    assert value_present("LO", "MRN-12345", ["mrn 12345"])
    assert not value_present("LO", "12345", ["9123456"])
