"""Self-assessment figures for a period (Complaint Handling Code annual self-assessment and the
Tenant Satisfaction Measures CH01 and CH02), from the cases and their stages."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from typing import Any

from sqlmodel import Session, select

from intake.models import Case, CaseStage
from intake.policy import Policy


def _share(numerator: int, denominator: int) -> float | None:
    return round(100 * numerator / denominator, 1) if denominator else None


def _stage_timeliness(policy: Policy, stages: list[CaseStage]) -> dict[str, Any]:
    """Of responses sent: how many by the original due date, and by the extended one."""
    responded = [s for s in stages if s.responded_on is not None and s.acknowledged_on is not None]
    on_time = extended_on_time = extended = 0
    for stage in responded:
        original_due = policy.stage_due(stage.stage, stage.acknowledged_on)
        limit = min(stage.extension_days, policy.extension_limit(stage.stage))
        allowed_due = policy.extended_due(stage.stage, stage.acknowledged_on, limit)
        if stage.extension_days:
            extended += 1
        if stage.responded_on <= original_due:
            on_time += 1
        if stage.responded_on <= allowed_due:
            extended_on_time += 1
    return {
        "responses": len(responded),
        "within_timescale": on_time,
        "within_timescale_pct": _share(on_time, len(responded)),
        "within_timescale_with_extensions": extended_on_time,
        "within_timescale_with_extensions_pct": _share(extended_on_time, len(responded)),
        "extended": extended,
    }


def self_assessment(session: Session, policy: Policy, date_from: date, date_to: date) -> dict[str, Any]:
    """All figures for complaints received (or responded to) between two dates, inclusive."""
    if date_to < date_from:
        raise ValueError("The end date is before the start date.")
    stages = session.exec(
        select(CaseStage).where(CaseStage.opened_on >= date_from, CaseStage.opened_on <= date_to)
    ).all()
    responded = session.exec(
        select(CaseStage).where(CaseStage.responded_on >= date_from, CaseStage.responded_on <= date_to)
    ).all()
    stage1 = [s for s in stages if s.stage == 1]
    stage2 = [s for s in stages if s.stage == 2]

    today = date.today()
    ack_due = [s for s in stage1 if s.acknowledged_on is not None or s.acknowledge_by < min(today, date_to)]
    ack_on_time = [
        s for s in ack_due if s.acknowledged_on is not None and s.acknowledged_on <= s.acknowledge_by
    ]

    cases = session.exec(select(Case).where(Case.received_on >= date_from, Case.received_on <= date_to)).all()
    by_category = Counter(c.category for c in cases)
    exclusions = Counter(
        c.exclusion_reason for c in cases if c.category == "exclusion" and c.exclusion_reason
    )
    confirmed = Counter(
        c.exclusion_reason for c in cases if c.category == "exclusion" and c.exclusion_decision == "confirmed"
    )

    homes = policy.homes
    figures: dict[str, Any] = {
        "landlord": policy.landlord,
        "policy": policy.name,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "received": {"stage1": len(stage1), "stage2": len(stage2)},
        "contacts_by_category": dict(sorted(by_category.items())),
        "acknowledged_within_limit": {
            "limit_working_days": policy.timescales.acknowledge_days,
            "due": len(ack_due),
            "on_time": len(ack_on_time),
            "pct": _share(len(ack_on_time), len(ack_due)),
        },
        "stage1": _stage_timeliness(policy, [s for s in responded if s.stage == 1]),
        "stage2": _stage_timeliness(policy, [s for s in responded if s.stage == 2]),
        "exclusions_by_reason": dict(sorted(exclusions.items())),
        "exclusions_confirmed_by_reason": dict(sorted(confirmed.items())),
        "escalations": len(stage2),
        "homes": homes,
        "tsm": {
            "CH01_stage1_per_1000_homes": round(1000 * len(stage1) / homes, 2) if homes else None,
            "CH01_stage2_per_1000_homes": round(1000 * len(stage2) / homes, 2) if homes else None,
            "CH02_stage1_within_timescale_pct": _stage_timeliness(
                policy, [s for s in responded if s.stage == 1]
            )["within_timescale_pct"],
            "CH02_stage2_within_timescale_pct": _stage_timeliness(
                policy, [s for s in responded if s.stage == 2]
            )["within_timescale_pct"],
        },
        "by_month": _by_month(policy, stage1, stage2, responded),
    }
    return figures


def _by_month(
    policy: Policy, stage1: list[CaseStage], stage2: list[CaseStage], responded: list[CaseStage]
) -> list[dict]:
    months: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"stage1": 0, "stage2": 0, "responses": [], "acks": []}
    )
    for stage in stage1:
        months[f"{stage.opened_on:%Y-%m}"]["stage1"] += 1
        if stage.acknowledged_on is not None:
            months[f"{stage.opened_on:%Y-%m}"]["acks"].append(stage.acknowledged_on <= stage.acknowledge_by)
    for stage in stage2:
        months[f"{stage.opened_on:%Y-%m}"]["stage2"] += 1
    for stage in responded:
        months[f"{stage.responded_on:%Y-%m}"]["responses"].append(stage)
    rows = []
    for month in sorted(months):
        entry = months[month]
        timeliness = _stage_timeliness(policy, entry["responses"])
        rows.append(
            {
                "month": month,
                "stage1_received": entry["stage1"],
                "stage2_received": entry["stage2"],
                "acknowledged_on_time_pct": _share(sum(entry["acks"]), len(entry["acks"])),
                "responses": timeliness["responses"],
                "responses_within_timescale_pct": timeliness["within_timescale_pct"],
            }
        )
    return rows


def flatten(figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """(measure, value) rows for table and CSV output; by_month is left to the chart."""
    rows: list[tuple[str, Any]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif not isinstance(value, list):
            rows.append((prefix, value))

    walk("", {k: v for k, v in figures.items() if k != "by_month"})
    return rows
