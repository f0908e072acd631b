"""Numbers and words of the paper (minimax.reporting.paper_format): no "0.000" for a small value,
no raw exponent, no "1 of 1 fits are", no listed zeros."""

from __future__ import annotations

import math

import pytest

from minimax.reporting.paper_format import (
    count_words,
    join_words,
    short_verdict,
    tally,
    tex_cell,
    tex_ci,
    tex_exp,
    tex_num,
    verdict_class,
    verdict_phrase,
)


@pytest.mark.parametrize(
    "value, kw, text",
    [
        (0.3, {}, "0.300"),
        (-0.303, {}, "\\ensuremath{-0.303}"),
        (7.3e-5, {}, "\\ensuremath{7.3\\times10^{-5}}"),
        (0.0073, {}, "0.0073"),
        (0.00012, {}, "\\ensuremath{1.2\\times10^{-4}}"),
        (41000, {}, "\\ensuremath{41{,}000}"),
        (8000, {}, "8000"),
        (0.036, {"signed": True}, "\\ensuremath{+0.036}"),
        (math.nan, {}, "---"),
        (0.2, {"digits": 2}, "0.20"),
    ],
)
def test_tex_num(value, kw, text):
    assert tex_num(value, **kw) == text


def test_a_small_positive_value_never_prints_as_zero():
    for v in (4e-4, 9e-4, 0.0004, 0.0049):
        assert tex_num(v) not in ("0.000", "0.00", "0")
    assert tex_ci(-0.1244, -0.0042) == "[\\ensuremath{-0.124}, \\ensuremath{-0.004}]"


def test_an_exponent_prints_at_its_absolute_accuracy():
    # the uniform baseline's exponent is 0 up to float noise: it must read 0.000, not 2e-16
    assert tex_exp(-2.2e-16) == "0.000" and tex_exp(6.5e-29) == "0.000"
    assert tex_exp(0.2886) == "0.289" and tex_exp(-0.0104) == "\\ensuremath{-0.010}"
    assert tex_exp(0.013, signed=True) == "\\ensuremath{+0.013}"
    assert tex_ci(-1.6e-7, 1.6e-7) == "[0.000, 0.000]"


def test_tex_cell_turns_exponents_and_minus_signs_into_latex():
    assert tex_cell("7.3e-05") == "$7.3\\times10^{-5}$"
    assert tex_cell("-0.2") == "$-$0.2"
    assert tex_cell("250–8000") == "250--8000"
    assert tex_cell("steps_run") == "steps\\_run"


def test_words():
    assert count_words(1, "fit") == "one fit" and count_words(4, "fit") == "four fits"
    assert count_words(0, "row") == "no rows" and count_words(13, "size") == "13 sizes"
    assert join_words(["a"]) == "a" and join_words(["a", "b", "c"]) == "a, b and c"


def test_tally_reads_as_prose():
    assert tally(1, [(1, "are flatter than the theory")], subject="DDPM") == (
        "The one DDPM fit is flatter than the theory."
    )
    text = tally(4, [(0, "are equivalent"), (1, "are flatter"), (0, "are steeper"),
                     (3, "are not resolved by this design")], subject="DDPM")  # fmt: skip
    assert (
        text == "Of the four DDPM fits, one is flatter and three are not resolved by this design."
    )
    assert tally(3, [(3, "are equivalent")], subject="KDE") == "All three KDE fits are equivalent."
    assert tally(2, [(2, "are flatter")], subject="KDE") == "Both KDE fits are flatter."
    assert tally(0, [], subject="DDPM") == "There is no DDPM fit."


def test_verdicts_in_words():
    gated = ("measurement chain is the limit: no explicit-density control scored from samples "
             "in this arm (fit alone: not resolved by this design: CI half-width 0.071 > δ = 0.05)")  # fmt: skip
    assert verdict_class(gated) == "gated"
    assert short_verdict(gated) == "not judged†: not resolved (w = 0.071)"
    assert "the fit alone would read not resolved by this design" in verdict_phrase(gated)
    assert short_verdict("equivalent to theory within ±0.05") == "equivalent (±0.05)"
    assert verdict_class("flatter") == "flatter"
    assert verdict_class("not measurable: floors") == "unmeasured"
