"""Self-assessment figures: received by stage, timeliness with and without extensions, exclusions."""

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime

from intake.cases import NewCase, acknowledge, current_stage, open_case
from intake.models import CaseStage
from intake.policy import parse_policy
from intake.report import self_assessment

POLICY = parse_policy("""
name = "report-test"
landlord = "Report Homes"
homes = 2000
[office]
phone = "0100"
email = "a@example.org"
[[exclusions]]
reason = "out_of_time"
wording = "more than 12 months ago"
""")


def complaint(session, received, acknowledged=None, responded=None, extension=0):
    case = open_case(
        session,
        POLICY,
        None,
        NewCase(
            category="complaint",
            channel="sms",
            received_at=datetime.combine(received, datetime.min.time(), UTC).replace(hour=10),
        ),
    )
    if acknowledged:
        acknowledge(session, POLICY, case, acknowledged, "test")
    stage = current_stage(session, case)
    if responded:
        stage.extension_days = extension
        stage.responded_on = responded
        session.add(stage)
    return case


def escalate(session, case, opened, acknowledged, responded):
    session.add(
        CaseStage(
            case_id=case.id,
            stage=2,
            opened_on=opened,
            acknowledge_by=POLICY.stage_acknowledge_by(2, opened),
            acknowledged_on=acknowledged,
            responded_on=responded,
        )
    )


def seed(session):
    # Mon 2 Nov 2026: acknowledged on time (by 9 Nov), due 23 Nov.
    on_time = complaint(session, date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 20))
    # Acknowledged late (10 Nov > 9 Nov), answered late but within a 5-day extension.
    complaint(session, date(2026, 11, 2), date(2026, 11, 10), date(2026, 11, 27), extension=5)
    # Answered late with no extension.
    complaint(session, date(2026, 11, 3), date(2026, 11, 4), date(2026, 11, 30))
    # Not acknowledged at all and overdue.
    complaint(session, date(2026, 10, 1))
    escalate(session, on_time, date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 30))
    open_case(
        session,
        POLICY,
        None,
        NewCase(
            category="exclusion",
            channel="email",
            exclusion_reason="out_of_time",
            received_at=datetime(2026, 11, 5, 9, tzinfo=UTC),
        ),
    )
    open_case(
        session,
        POLICY,
        None,
        NewCase(category="service_request", channel="sms", received_at=datetime(2026, 11, 5, 9, tzinfo=UTC)),
    )
    session.commit()


def test_figures_for_a_period(session):
    seed(session)
    figures = self_assessment(session, POLICY, date(2026, 10, 1), date(2026, 11, 30))
    assert figures["received"] == {"stage1": 4, "stage2": 1}
    assert figures["acknowledged_within_limit"] == {
        "limit_working_days": 5,
        "due": 4,
        "on_time": 2,
        "pct": 50.0,
    }
    assert figures["stage1"]["responses"] == 3
    assert figures["stage1"]["within_timescale"] == 1
    assert figures["stage1"]["within_timescale_with_extensions"] == 2
    assert figures["stage1"]["extended"] == 1
    assert figures["stage2"]["within_timescale_pct"] == 100.0
    assert figures["exclusions_by_reason"] == {"out_of_time": 1}
    assert figures["escalations"] == 1
    assert figures["tsm"]["CH01_stage1_per_1000_homes"] == 2.0
    assert figures["tsm"]["CH01_stage2_per_1000_homes"] == 0.5
    assert figures["tsm"]["CH02_stage1_within_timescale_pct"] == 33.3
    assert [m["month"] for m in figures["by_month"]] == ["2026-10", "2026-11"]
    assert figures["contacts_by_category"] == {"complaint": 4, "exclusion": 1, "service_request": 1}


def test_a_period_with_nothing_in_it_has_no_percentages(session):
    figures = self_assessment(session, POLICY, date(2025, 1, 1), date(2025, 1, 31))
    assert figures["received"] == {"stage1": 0, "stage2": 0}
    assert figures["stage1"]["within_timescale_pct"] is None


def test_report_command_in_each_format(tmp_path, database_url, session):
    seed(session)
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)}
    policy_file = tmp_path / "p.toml"
    policy_file.write_text(
        'name = "p"\nlandlord = "Report Homes"\nhomes = 2000\n[office]\nphone = "1"\nemail = "a@b.c"\n'
    )
    env["POLICY"] = str(policy_file)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "report", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    as_json = json.loads(run("--from", "2026-10-01", "--to", "2026-11-30", "--format", "json").stdout)
    assert as_json["received"]["stage1"] == 4
    rows = dict(
        csv.reader(io.StringIO(run("--from", "2026-10-01", "--to", "2026-11-30", "--format", "csv").stdout))
    )
    assert rows["received.stage1"] == "4" and rows["escalations"] == "1"
    table = run("--from", "2026-10-01", "--to", "2026-11-30")
    assert table.returncode == 0 and "received.stage1" in table.stdout
    bad = run("--from", "2026-11-30", "--to", "2026-10-01")
    assert bad.returncode == 2 and "before" in bad.stderr and "Traceback" not in bad.stderr
