"""How the dashboard puts numbers into words: percentages and natural frequencies."""
import pytest

from model.views import in_words, percent, points, rounds_to_zero_points


@pytest.mark.parametrize("p, text", [(0, "0%"), (1e-9, "<1%"), (0.004, "<1%"), (0.02, "2%"),
                                     (0.5, "50%"), (0.994, "99%"), (0.999, ">99%"), (1, "100%")])
def test_percent_never_reads_zero_or_certain_when_it_is_not(p, text):
    assert percent(p) == text


@pytest.mark.parametrize("p, words", [(0, "fewer than 1 in 100"), (0.004, "fewer than 1 in 100"),
                                      (0.01, "about 1 in 100"), (0.025, "about 1 in 40"),
                                      (0.09, "about 1 in 11"), (0.1, "about 1 in 10"),
                                      (0.148, "about 1 in 7"), (0.0165, "about 1 in 60"),
                                      (0.2, "about 2 in 10"),
                                      (0.3, "about 3 in 10"), (0.94, "about 9 in 10"),
                                      (0.95, "more than 9 in 10"), (0.994, "more than 9 in 10"),
                                      (0.999, "almost all"), (1, "almost all")])
def test_natural_frequencies_follow_the_rounding(p, words):
    assert in_words(p) == words


def test_natural_frequencies_never_go_down_as_the_probability_rises():
    def rank(words):
        if words == "fewer than 1 in 100":
            return 0
        if words == "almost all":
            return 1
        if words == "more than 9 in 10":
            return 0.95
        n, d = words.removeprefix("about ").split(" in ")
        return int(n) / int(d)
    ranks = [rank(in_words(i / 10000)) for i in range(10001)]
    assert ranks[1:] == sorted(ranks[1:])


def test_tiny_differences_are_not_drawn_as_points():
    assert rounds_to_zero_points(0.0004) and rounds_to_zero_points(-0.0001)
    assert not rounds_to_zero_points(0.002)
    assert points(0.123) == "+12 points"
