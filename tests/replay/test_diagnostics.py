"""Diagnostics on the built-in scenarios: captured and inferred evidence."""

from __future__ import annotations

from durascope.replay import Finding, Model, build_bundle, diagnose
from durascope.replay._bundle import bundle_to_model


def kinds(findings: list[Finding], instance: str) -> set[tuple[str, str]]:
    return {(f.kind, f.severity) for f in findings if f.instance == instance}


def test_healthy_scenarios_have_no_warnings_or_errors(scenario_model: Model) -> None:
    findings = diagnose(scenario_model)
    for healthy in ("healthy-loop", "fanout-checkout", "cancel-pipeline", "orphan-after-orphan"):
        tree = diagnose(scenario_model, healthy)
        assert [f for f in tree if f.severity != "info"] == [], healthy
    assert not any(f.instance.startswith("healthy-loop") for f in findings)


def test_legacy_loop_collides_and_hangs(scenario_model: Model) -> None:
    findings = diagnose(scenario_model, "legacy-loop")
    assert kinds(findings, "legacy-loop") == {
        ("child_id_collision", "error"),
        ("stuck_parent", "error"),
    }
    collision = next(f for f in findings if f.kind == "child_id_collision")
    assert (collision.execution, collision.event_id) == (2, 2)
    assert collision.evidence == "captured"
    assert {(r.role, r.instance, r.execution) for r in collision.related} == {
        ("hit", "legacy-loop::sub::2", None),
        ("held by", "legacy-loop", 1),
    }
    assert collision.turn is not None


def test_fixed_outliving_child_is_filtered_and_legacy_is_misrouted(scenario_model: Model) -> None:
    fixed = diagnose(scenario_model, "fixed-supervisor")
    assert kinds(fixed, "fixed-supervisor") == {("filtered_notification", "warning")}
    filtered = next(f for f in fixed if f.kind == "filtered_notification")
    assert (filtered.execution, filtered.event_id) == (1, 2)
    legacy = diagnose(scenario_model, "legacy-supervisor")
    assert kinds(legacy, "legacy-supervisor") == {("misrouted_notification", "error")}
    misrouted = next(f for f in legacy if f.kind == "misrouted_notification")
    assert misrouted.execution == 2
    assert ("sent by", "legacy-supervisor::sub::2") in {
        (r.role, r.instance) for r in misrouted.related
    }


def test_collisions_fail_fast_under_the_fix_and_hang_under_legacy(scenario_model: Model) -> None:
    fixed = diagnose(scenario_model, "fixed-collision-report-tue")
    assert kinds(fixed, "fixed-collision-report-tue") == {("child_id_collision", "warning")}
    legacy = diagnose(scenario_model, "legacy-collision-report-tue")
    assert kinds(legacy, "legacy-collision-report-tue") == {
        ("child_id_collision", "error"),
        ("stuck_parent", "error"),
    }


def test_nondeterminism_and_orphans(scenario_model: Model) -> None:
    findings = diagnose(scenario_model)
    nd = [f for f in findings if f.kind == "nondeterminism"]
    assert [f.instance for f in nd] == ["deploy-approval"]
    assert "custom status mismatch" in nd[0].message  # duroxide's words for this change
    orphans = [f for f in findings if f.kind == "orphan_message"]
    assert [(f.instance, f.severity, f.evidence) for f in orphans] == [
        ("queued-ghost", "warning", "inferred"),  # still queued (raised with no runtime up)
        ("final-dispatch::sub::6", "info", "captured"),  # cancel of a never-started child
        ("orphan-does-not-exist", "info", "captured"),
    ]


def test_inferred_diagnosis_without_a_journal_finds_the_seed_bugs(scenario_model: Model) -> None:
    scenario_model.load_all()
    bundle = build_bundle(scenario_model)
    stripped = bundle.model_copy(
        update={
            "instances": tuple(i.model_copy(update={"turns": ()}) for i in bundle.instances),
            "orphan_turns": (),
        }
    )
    model = bundle_to_model(stripped, "no-journal")
    findings = diagnose(model)
    assert {f.evidence for f in findings} == {"inferred"}
    assert ("child_id_collision", "error") in kinds(findings, "legacy-loop")
    assert ("stuck_parent", "error") in kinds(findings, "legacy-loop")
    assert ("misrouted_notification", "error") in kinds(findings, "legacy-supervisor")
    assert ("filtered_notification", "warning") in kinds(findings, "fixed-supervisor")
    assert ("nondeterminism", "error") in kinds(findings, "deploy-approval")
    assert not any(f.instance.startswith("healthy-loop") for f in findings)


def test_findings_are_sorted_errors_first(scenario_model: Model) -> None:
    findings = diagnose(scenario_model)
    order = {"error": 0, "warning": 1, "info": 2}
    assert [order[f.severity] for f in findings] == sorted(order[f.severity] for f in findings)


def test_an_inferred_misroute_is_not_also_reported_as_filtered(scenario_model: Model) -> None:
    scenario_model.load_all()
    bundle = build_bundle(scenario_model, instance_id="legacy-supervisor")
    stripped = bundle.model_copy(
        update={"instances": tuple(i.model_copy(update={"turns": ()}) for i in bundle.instances)}
    )
    findings = diagnose(bundle_to_model(stripped, "no-journal"))
    assert {f.kind for f in findings if f.instance == "legacy-supervisor"} == {
        "misrouted_notification"
    }
