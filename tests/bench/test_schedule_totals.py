"""bench/schedule_runs.py: schedules are summed over the inputs, each against its own every-frame row."""

from __future__ import annotations

from bench.schedule_runs import ScheduleRow, format_schedule_totals


def row(input_name: str, schedule: str, cost: float, hota: float) -> ScheduleRow:
    return ScheduleRow(input_name, schedule, cost, hota, 0.0, 0.0, 0)


def test_totals_compare_each_input_with_its_own_every_frame_row() -> None:
    rows = [
        row("a", "every_frame", 1.0, 0.60),
        row("a", "x", 0.2, 0.59),  # -0.01: below the bound
        row("b", "every_frame", 1.0, 0.70),
        row("b", "x", 0.4, 0.704),  # +0.004
        row("c", "x", 0.3, 0.10),  # no every-frame row for c: not counted
    ]
    lines = format_schedule_totals(rows).splitlines()
    assert len(lines) == 3
    assert lines[2] == "| x | 2 | -0.0030 | -0.0100 | 1 | 0.30 |"
