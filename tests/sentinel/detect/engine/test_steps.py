"""Where a step ends: bounded, on window ends, and a look-back past an alert-window boundary when behind."""

from __future__ import annotations

from sentinel.detect.engine.steps import step_end

MIN = 60_000
HOUR = 60 * MIN


def test_a_rule_behind_ends_its_steps_a_lookback_past_an_alert_window_boundary() -> None:
    start, limit = 10 * HOUR, 20 * HOUR
    ends = []
    while start < limit:
        end = step_end(start, limit, 60, MIN, 5 * MIN, HOUR)
        assert start < end <= start + 60 * MIN and end % MIN == 0  # bounded, whole windows
        ends.append(end)
        start = end
    assert ends[:3] == [10 * HOUR + 5 * MIN, 11 * HOUR + 5 * MIN, 12 * HOUR + 5 * MIN]
    assert ends[-1] == limit  # no gap: the last step reaches the limit


def test_a_rule_that_is_not_behind_or_cannot_align_takes_the_plain_step() -> None:
    assert step_end(10 * HOUR, 10 * HOUR + 3 * MIN, 60, MIN, 5 * MIN, HOUR) == 10 * HOUR + 3 * MIN
    # a look-back that is not a whole number of windows: no aligned end is a window end
    assert step_end(10 * HOUR, 20 * HOUR, 60, 7 * MIN, 5 * MIN, HOUR) == 10 * HOUR + 420 * MIN
    # steps shorter than the alert window may hold no aligned end
    assert step_end(10 * HOUR + 6 * MIN, 20 * HOUR, 10, MIN, 5 * MIN, HOUR) == 10 * HOUR + 16 * MIN
