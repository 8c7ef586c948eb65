"""The turn panel stays short on huge turns and lists inferred work items."""

from __future__ import annotations

from bench.bench_tui import synthesize_fan_out
from durascope.replay import Timeline, build_bundle
from durascope.replay._bundle import bundle_to_model
from durascope.tui.widgets.turn_panel import SECTION_LINES, turn_text


def test_a_start_turn_of_thousands_of_schedules_shows_a_page_and_a_count() -> None:
    model = synthesize_fan_out("fan", 2_000)
    start = Timeline.of(model.instance("fan")).turns[0]
    assert len(start.delta) == 2_001 and len(start.sent) == 2_000
    lines = turn_text(start).plain.splitlines()
    assert len([line for line in lines if "TimerCreated" in line]) == SECTION_LINES - 1
    assert "  … 1,901 more (the History tab lists them)" in lines
    assert len([line for line in lines if line.startswith("  TimerFired -> fan")]) == (
        SECTION_LINES
    )
    assert "  … 1,900 more (one per schedule above)" in lines


def test_inferred_turns_list_what_the_runtime_sends() -> None:
    bundle = build_bundle(synthesize_fan_out("fan", 3))
    stripped = bundle.model_copy(
        update={"instances": tuple(i.model_copy(update={"turns": ()}) for i in bundle.instances)}
    )
    start = Timeline.of(bundle_to_model(stripped, "no journal").instance("fan")).turns[0]
    assert start.evidence == "inferred"
    lines = turn_text(start).plain.splitlines()
    assert "  (inferred: what the runtime sends for these events)" in lines
    assert [line for line in lines if line.startswith("  TimerFired -> fan")] == [
        "  TimerFired -> fan exec 1 (orchestrator)"
    ] * 3
