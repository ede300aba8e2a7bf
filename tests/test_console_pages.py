"""The console over real HTTP: queues, the case page, actions, roles, CSRF, escaping."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlmodel import select

from intake.console.demo import DEMO_CASES, DemoCase, seed_case, seed_demo
from intake.console.rendering import highlight
from intake.models import AuditEvent, Case, Outbox, utcnow
from intake.queues import Filters, queue_page
from intake.staff_users import create_user

PASSWORD = "correct-horse-battery"
XSS = "<script>alert(1)</script> <img src=x onerror=alert(1)>"


@pytest.fixture
def users(session):
    made = {
        "agent": create_user(session, "agent", PASSWORD, "agent", "Alex Agent"),
        "officer": create_user(session, "officer", PASSWORD, "complaints_officer", "Olivia Officer"),
    }
    session.commit()
    return made


@pytest.fixture
def demo(session, policy):
    return {case.reference: case for case in seed_demo(session, policy)}


def sign_in(client, username):
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text).group(1)
    response = client.post(
        "/staff/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303


def form_fields(html: str, action_suffix: str) -> dict[str, str]:
    form = re.search(rf'action="[^"]*/{action_suffix}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


def case_of(session, name: str) -> Case:
    from intake.models import Contact

    return session.exec(
        select(Case).join(Contact, Contact.id == Case.contact_id).where(Contact.name == name)
    ).one()


def test_the_queue_page_shows_counts_for_every_queue(client, users, demo):
    sign_in(client, "agent")
    page = client.get("/staff/queues/needs_review")
    assert page.status_code == 200
    counts = dict(re.findall(r"<span>([^<]+)</span>\s*<span class=\"count[^\"]*\">(\d+)", page.text))
    assert counts["Needs review"] == "3"  # two possible exclusions and one low-confidence case
    assert counts["Urgent"] == "1"
    assert counts["All cases"] == str(len(DEMO_CASES))
    assert "Peter Walsh" in page.text and "Tom Price" in page.text and "Aisha Khan" not in page.text


def test_search_by_reference_name_phone_and_email(client, session, users, demo):
    sign_in(client, "agent")
    aisha = case_of(session, "Aisha Khan")
    for query in (aisha.reference, aisha.reference.lower(), "aisha", "07700 900101", "+447700900101"):
        page = client.get("/staff/queues/all", params={"q": query})
        assert "Aisha Khan" in page.text and "Peter Walsh" not in page.text, query
    page = client.get("/staff/queues/all", params={"q": "PETER.WALSH@example.org"})
    assert "Peter Walsh" in page.text and "1 case match" in page.text


def test_filters_by_channel_category_officer_and_date(client, session, policy, users, demo):
    sign_in(client, "agent")
    sms = client.get("/staff/queues/all", params={"channel": "sms"}).text
    assert "Aisha Khan" in sms and "Peter Walsh" not in sms
    asb = client.get("/staff/queues/all", params={"category": "asb_report"}).text
    assert "Maria Silva" in asb and "Aisha Khan" not in asb
    today = utcnow().date()
    recent = client.get("/staff/queues/all", params={"from": (today - timedelta(days=2)).isoformat()}).text
    assert "Grace Obi" in recent and "Irene Bell" not in recent
    from intake import case_actions

    case_actions.claim(session, case_of(session, "Aisha Khan"), users["agent"])
    session.commit()
    mine = client.get("/staff/queues/all", params={"officer": "me"}).text
    assert "Aisha Khan" in mine and "Peter Walsh" not in mine
    assert "Aisha Khan" not in client.get("/staff/queues/all", params={"officer": "unassigned"}).text


def test_awaiting_acknowledgement_is_ordered_by_deadline_and_marks_overdue(session, policy, users):
    for days_ago, name in ((2, "Recent"), (20, "Old"), (9, "Middle")):
        seed_case(
            session,
            policy,
            DemoCase(
                "it is still broken",
                "complaint",
                "sms",
                name,
                phone=f"0770090{days_ago:04d}",
                days_ago=days_ago,
            ),
        )
    session.commit()
    page = queue_page(session, policy, "awaiting_acknowledgement")
    assert [row.contact_name for row in page.rows] == ["Old", "Middle", "Recent"]
    assert page.rows[0].overdue and page.rows[0].working_days_left < 0
    assert not page.rows[2].overdue


def test_queue_pages(session, policy, users):
    for i in range(30):
        seed_case(
            session,
            policy,
            DemoCase(f"message {i}", "compliment", "sms", f"Person {i}", phone=f"07700{i:06d}"),
            number=i,
        )
    session.commit()
    first = queue_page(session, policy, "compliments", page_size=25)
    second = queue_page(session, policy, "compliments", page=2, page_size=25)
    assert first.total == 30 and first.pages == 2 and len(first.rows) == 25 and len(second.rows) == 5
    assert not {r.case.id for r in first.rows} & {r.case.id for r in second.rows}
    assert queue_page(session, policy, "compliments", Filters(search="Person 7")).total == 1


def test_paging_links_keep_the_filters(client, session, policy, users):
    for i in range(30):
        seed_case(
            session,
            policy,
            DemoCase(f"thanks {i}", "compliment", "sms", f"Person {i}", phone=f"07700{i:06d}"),
            number=i,
        )
    session.commit()
    sign_in(client, "agent")
    page = client.get("/staff/queues/compliments", params={"channel": "sms"}).text
    assert 'href="?channel=sms&amp;page=2"' in page
    assert "Page 2 of 2" in client.get("/staff/queues/compliments", params={"channel": "sms", "page": 2}).text


@pytest.mark.parametrize(
    "channel,address", [("sms", {"phone": "07700 900555"}), ("email", {"email": "x@example.org"})]
)
def test_a_stored_xss_payload_is_escaped_on_the_case_page_and_queue(
    client, session, policy, users, channel, address
):
    case = seed_case(
        session,
        policy,
        DemoCase(
            XSS, "complaint", channel, "<b>Bold</b> Name", evidence=(("<script>", "complaint"),), **address
        ),
    )
    session.commit()
    sign_in(client, "agent")
    for html in (client.get(f"/staff/cases/{case.public_id}").text, client.get("/staff/queues/all").text):
        assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>Bold</b>" not in html
        assert "&lt;b&gt;Bold&lt;/b&gt; Name" in html
    html = client.get(f"/staff/cases/{case.public_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.replace(
        '<mark class="evidence" title="Complaint">', ""
    ).replace('<span class="visually-hidden"> (evidence: Complaint)</span></mark>', "")
    assert '<mark class="evidence" title="Complaint">&lt;script&gt;' in html


def test_pages_carry_a_strict_content_security_policy(client, users):
    sign_in(client, "agent")
    headers = client.get("/staff/queues/all").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_highlighting_escapes_and_survives_bad_spans():
    text = "a <b>bold</b> claim & more"
    html = str(
        highlight(
            text,
            [
                {"start": 2, "end": 13, "label": 'complaint"><script>', "text": "<b>bold</b>"},
                {"start": 5, "end": 9, "label": "overlap", "text": "bold"},  # overlaps: dropped
                {
                    "start": 500,
                    "end": 600,
                    "label": "x",
                    "text": "claim",
                },  # wrong offsets: found by its words
                {"start": 0, "end": 1, "label": "x", "text": "nowhere"},  # words not in the text: dropped
                {"start": "bad"},
            ],
        )
    )
    assert "<b>" not in html and "<script>" not in html
    assert '<mark class="evidence" title="complaint&#34;&gt;&lt;script&gt;">&lt;b&gt;bold&lt;/b&gt;' in html
    assert html.count("<mark") == 2 and ">claim<" in html and "&amp; more" in html


def test_case_pages_cannot_be_reached_by_counting(client, session, users, demo):
    sign_in(client, "agent")
    case = next(iter(demo.values()))
    assert len(case.public_id) >= 20
    for guess in (str(case.id), case.reference, "1", case.public_id[:-1], case.public_id.upper()):
        assert client.get(f"/staff/cases/{guess}").status_code == 404
    assert client.get(f"/staff/cases/{case.public_id}").status_code == 200


def test_an_agent_gets_403_for_officer_actions(client, session, users, demo):
    sign_in(client, "agent")
    case = case_of(session, "Grace Obi")
    fields = form_fields(client.get(f"/staff/cases/{case.public_id}").text, "claim")
    for action in (
        "confirm_exclusion",
        "overturn_exclusion",
        "extend",
        "record_response",
        "escalate",
        "close",
        "assign",
    ):
        response = client.post(
            f"/staff/cases/{case.public_id}/{action}", data={**fields, "reason": "x", "days": "2"}
        )
        assert response.status_code == 403, action
    session.expire_all()
    assert session.get(Case, case.id).exclusion_decision is None
    assert session.exec(select(Outbox)).all() == []


def test_case_actions_need_the_csrf_token(client, session, users, demo):
    sign_in(client, "officer")
    case = case_of(session, "Grace Obi")
    response = client.post(
        f"/staff/cases/{case.public_id}/confirm_exclusion", data={"version": str(case.version)}
    )
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Case, case.id).exclusion_decision is None


def test_an_officer_confirms_an_exclusion_over_http(client, session, users, demo):
    sign_in(client, "officer")
    case = case_of(session, "Grace Obi")
    fields = form_fields(client.get(f"/staff/cases/{case.public_id}").text, "confirm_exclusion")
    response = client.post(
        f"/staff/cases/{case.public_id}/confirm_exclusion", data=fields, follow_redirects=False
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "Exclusion confirmed" in page
    letter = session.exec(select(Outbox).where(Outbox.case_id == case.id)).one()
    assert letter.kind == "exclusion_decision" and "Housing Ombudsman" in letter.body
    events = session.exec(select(AuditEvent.actor).where(AuditEvent.action == "exclusion.confirmed")).all()
    assert events == ["staff:officer"]


def test_a_form_from_a_stale_page_is_told_someone_else_got_there_first(client, session, policy, users, demo):
    sign_in(client, "agent")
    case = case_of(session, "Aisha Khan")
    stale = form_fields(client.get(f"/staff/cases/{case.public_id}").text, "claim")
    from intake import case_actions

    case_actions.claim(session, case, users["officer"])
    session.commit()
    response = client.post(f"/staff/cases/{case.public_id}/claim", data=stale)
    assert response.status_code == 409
    assert "Olivia Officer has already claimed" in response.text


def test_an_agent_acknowledges_adds_a_note_and_messages_the_resident(client, session, users, demo):
    sign_in(client, "agent")
    case = case_of(session, "Aisha Khan")
    url = f"/staff/cases/{case.public_id}"
    for action, extra in (
        ("acknowledge", {}),
        ("note", {"text": "Rang back, no answer"}),
        ("message", {"text": "We will call you at 2pm."}),
    ):
        fields = form_fields(client.get(url).text, action)
        assert (
            client.post(f"{url}/{action}", data={**fields, **extra}, follow_redirects=False).status_code
            == 303
        )
    page = client.get(url).text
    assert "Rang back, no answer" in page and "We will call you at 2pm." in page
    kinds = session.exec(select(Outbox.kind).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    assert kinds == ["acknowledgement", "staff_message"]


def test_a_bad_action_shows_a_plain_message(client, session, users, demo):
    sign_in(client, "agent")
    case = case_of(session, "Tom Price")
    fields = form_fields(client.get(f"/staff/cases/{case.public_id}").text, "reclassify")
    response = client.post(
        f"/staff/cases/{case.public_id}/reclassify", data={**fields, "category": "complaint", "reason": ""}
    )
    assert response.status_code == 400 and "Please give a reason for the change." in response.text


def test_self_assessment_page_and_csv(client, session, policy, users, demo):
    from intake import case_actions

    case = case_of(session, "Aisha Khan")
    case_actions.acknowledge_case(session, policy, case, users["agent"])
    session.commit()
    sign_in(client, "agent")
    today = utcnow().date()
    params = {"from": (today - timedelta(days=60)).isoformat(), "to": today.isoformat()}
    page = client.get("/staff/self-assessment", params=params)
    assert page.status_code == 200
    assert "<svg" in page.text and "Stage 1 complaints received" in page.text
    download = client.get("/staff/self-assessment.csv", params=params)
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["measure", "value"]
    assert ["received.stage1", "2"] in rows
    assert any(row and row[0] == "month" for row in rows)


def test_self_assessment_with_dates_the_wrong_way_round(client, users):
    sign_in(client, "agent")
    page = client.get("/staff/self-assessment", params={"from": "2026-05-01", "to": "2026-01-01"})
    assert page.status_code == 200 and "The end date is before the start date" in page.text


def test_the_transcript_has_the_whole_conversation_in_order(client, session, policy, users):
    from intake.models import Conversation, Message
    from intake.outbox import enqueue

    case = seed_case(
        session,
        policy,
        DemoCase(
            "the lift is broken again, third time", "complaint", "sms", "Lee", phone="07700900321", days_ago=0
        ),
    )
    conversation = Conversation(
        channel="sms", address="+447700900321", case_id=case.id, contact_id=case.contact_id
    )
    session.add(conversation)
    session.flush()
    earlier = utcnow() - timedelta(days=1)
    session.add(
        Message(
            conversation_id=conversation.id,
            direction="in",
            channel="sms",
            provider_message_id="hi-1",
            body="hi there",
            created_at=earlier,
        )
    )
    row = enqueue(
        session,
        channel="sms",
        to="+447700900321",
        body="Hello, what can we help with?",
        kind="bot_reply",
        conversation_id=conversation.id,
    )
    row.created_at = earlier + timedelta(minutes=1)
    cancelled = enqueue(
        session,
        channel="sms",
        to="+447700900321",
        body="superseded reply",
        kind="bot_reply",
        conversation_id=conversation.id,
    )
    cancelled.status = "cancelled"
    session.commit()
    sign_in(client, "agent")
    html = client.get(f"/staff/cases/{case.public_id}").text
    assert (
        html.index("hi there")
        < html.index("Hello, what can we help with?")
        < html.index("the lift is broken")
    )
    assert "superseded reply" not in html


def test_evidence_from_text_fragments_read_together_is_highlighted_in_the_right_message(
    client, session, policy, users
):
    from intake.models import Message

    first = "my boiler is broken"
    second = "and this is the third time nobody turned up"
    case = seed_case(session, policy, DemoCase(first, "complaint", "sms", "Frag", phone="07700900777"))
    joined = f"{first} {second}"
    start = joined.index("third time")
    case.triage_evidence = [
        {"start": 3, "end": 9, "label": "service_request", "text": "boiler"},
        {"start": start, "end": start + 10, "label": "complaint", "text": "third time"},
    ]
    session.add(case)
    session.add(
        Message(case_id=case.id, direction="in", channel="sms", provider_message_id="frag-2", body=second)
    )
    session.commit()
    sign_in(client, "agent")
    html = client.get(f"/staff/cases/{case.public_id}").text
    assert '<mark class="evidence" title="Service request">boiler' in html
    assert 'and this is the <mark class="evidence" title="Complaint">third time' in html


def test_search_treats_wildcards_as_plain_characters(session, policy, users, demo):
    assert queue_page(session, policy, "all", Filters(search="%%")).total == 0
    assert queue_page(session, policy, "all", Filters(search="A_sha")).total == 0
    assert queue_page(session, policy, "all", Filters(search="KHAN")).total == 1


def test_an_officer_takes_a_complaint_to_the_end_through_the_case_page(client, session, users, demo):
    sign_in(client, "officer")
    case = case_of(session, "Aisha Khan")
    url = f"/staff/cases/{case.public_id}"
    steps = (
        ("claim", {}),
        ("acknowledge", {}),
        ("extend", {"days": "10", "reason": "Waiting for the contractor's report"}),
        ("record_response", {"outcome": "partly_upheld", "response_text": "We will replace the pipe."}),
        ("escalate", {"reason": "The pipe still leaks"}),
        ("record_response", {"outcome": "upheld", "response_text": "We are sorry; the pipe is replaced."}),
        ("close", {"reason": "Final response sent"}),
    )
    for action, extra in steps:
        page = client.get(url).text
        if action == "record_response":
            assert "The Stage 1 deadline has had the longest extension" in page or "Stage 2" in page
        fields = form_fields(page, action)
        response = client.post(f"{url}/{action}", data={**fields, **extra}, follow_redirects=False)
        assert response.status_code == 303, (action, response.text[-800:])
    page = client.get(response.headers["location"]).text
    assert "The case is closed." in page and "Closed" in page
    kinds = session.exec(select(Outbox.kind).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    assert kinds == [
        "acknowledgement",
        "extension_notice",
        "stage1_decision",
        "stage2_acknowledgement",
        "stage2_decision",
    ]
    actions_done = session.exec(
        select(AuditEvent.action).where(AuditEvent.case_id == case.id, AuditEvent.actor == "staff:officer")
    ).all()
    assert len(actions_done) == len(steps)


def test_a_message_that_could_not_be_sent_can_be_sent_again(client, session, policy, users, demo):
    from intake import case_actions

    case = case_of(session, "Aisha Khan")
    case_actions.acknowledge_case(session, policy, case, users["agent"])
    letter = session.exec(select(Outbox).where(Outbox.case_id == case.id)).one()
    letter.status, letter.attempts, letter.last_error = (
        "parked",
        6,
        "21211: '<script>' is not a valid phone number",
    )
    session.add(letter)
    session.commit()
    sign_in(client, "agent")
    page = client.get("/staff/outbox").text
    assert case.reference in page and "&lt;script&gt; is not a valid" in page.replace("&#39;", "")
    fields = dict(
        re.findall(
            r'type="hidden" name="([^"]+)" value="([^"]*)"',
            page.split('action="/staff/outbox/retry"')[1].split("</form>")[0],
        )
    )
    response = client.post("/staff/outbox/retry", data=fields, follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    again = session.get(Outbox, letter.id)
    assert again.status == "pending" and again.attempts == 0
    assert (
        "outbox.retried" in session.exec(select(AuditEvent.action).where(AuditEvent.case_id == case.id)).all()
    )
    assert client.post("/staff/outbox/retry", data=fields).status_code == 409  # already back in the queue
    assert "Nothing needs your attention" in client.get("/staff/outbox").text


def test_the_month_chart_covers_every_month_of_the_period():
    from datetime import date

    from intake.console.rendering import month_chart
    from intake.console.routes import every_month

    months = every_month(
        date(2025, 11, 15),
        date(2026, 2, 1),
        [
            {
                "month": "2025-12",
                "stage1_received": 4,
                "stage2_received": 1,
                "responses": 3,
                "responses_within_timescale_pct": 66.7,
            }
        ],
    )
    assert [m["month"] for m in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    svg = str(month_chart(months))
    assert svg.startswith("<svg") and svg.count("<rect") == 8 and "<title" in svg and "<desc" in svg
    assert "<script" not in svg and "style=" not in svg  # nothing the page's CSP would block
    assert "No complaints" in str(month_chart([]))


def test_a_case_with_no_contact_details_still_opens_and_says_why_it_cannot_be_messaged(
    client, session, policy, users
):
    from intake.cases import NewCase, open_case

    case = open_case(session, policy, None, NewCase(category="other", channel="web", received_at=utcnow()))
    session.commit()
    sign_in(client, "agent")
    page = client.get(f"/staff/cases/{case.public_id}")
    assert page.status_code == 200 and "We have no phone number or email address" in page.text
    fields = form_fields(page.text, "message")
    response = client.post(f"/staff/cases/{case.public_id}/message", data={**fields, "text": "Hello"})
    assert (
        response.status_code == 400
        and f"No way to reach the resident on case {case.reference}" in response.text
    )


def test_an_agent_records_the_residents_consent_for_their_representative(client, session, users, demo):
    from intake.models import Advocate

    sign_in(client, "agent")
    case = case_of(session, "Irene Bell")
    page = client.get(f"/staff/cases/{case.public_id}").text
    assert "Still needed" in page and "Record the resident's consent" in page
    fields = form_fields(page, "consent")
    missing_how = client.post(
        f"/staff/cases/{case.public_id}/consent", data={**fields, "consent": "given", "how": ""}
    )
    assert missing_how.status_code == 400 and "say how the resident told us" in missing_how.text
    done = client.post(
        f"/staff/cases/{case.public_id}/consent",
        data={**fields, "consent": "given", "how": "by phone to the contact centre"},
    )
    assert done.status_code == 200 and "has been recorded" in done.text
    assert "Given" in done.text and "by phone to the contact centre" in done.text
    session.expire_all()
    advocate = session.exec(select(Advocate).where(Advocate.case_id == case.id)).one()
    assert advocate.consent == "given" and advocate.consent_at is not None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "advocate.consent")).one()
    assert event.actor == "staff:agent" and event.before["consent"] == "to_obtain"


# The last day to ask for Stage 2, and a late request ---------------------------------------------


@pytest.fixture
def connect(app):
    """The console running Connect's policy: 3 weeks from the Stage 1 letter to ask for Stage 2."""
    from intake.policy import load_policy

    app.state.policy = load_policy("connect")
    return app.state.policy


def answered_at_stage1(session, policy, users, monkeypatch, days_ago: int, name: str = "Lena Ward"):
    """A complaint whose Stage 1 response went out `days_ago` days ago."""
    from intake import case_actions
    from intake.models import uk_date

    answered_on = uk_date(utcnow()) - timedelta(days=days_ago)
    case = seed_case(
        session,
        policy,
        DemoCase("third time the roof has leaked", "complaint", "sms", name, phone="07700900999"),
    )
    monkeypatch.setattr(case_actions, "today", lambda: answered_on)
    case_actions.acknowledge_case(session, policy, case, users["officer"], on=answered_on)
    case_actions.record_response(
        session, policy, case, users["officer"], outcome="not_upheld", response_text="We checked."
    )
    session.commit()
    monkeypatch.undo()
    return case


def test_the_case_page_warns_when_the_time_to_ask_for_stage2_has_passed(
    client, session, users, connect, monkeypatch
):
    from intake.console.rendering import nice_date

    case = answered_at_stage1(session, connect, users, monkeypatch, days_ago=40)
    window_end = connect.escalation_by(case.responded_on)
    sign_in(client, "officer")
    page = client.get(f"/staff/cases/{case.public_id}").text
    assert "The time to ask for Stage 2 has passed" in page
    assert f"The resident could ask until {nice_date(window_end)}" in page
    assert "must not unreasonably refuse" in page
    assert "Resident can ask for Stage 2 until" in page
    assert "it will be recorded as late" in page  # beside the escalate form too


def test_no_warning_while_the_resident_still_has_time(client, session, users, connect, monkeypatch):
    from intake.console.rendering import nice_date

    case = answered_at_stage1(session, connect, users, monkeypatch, days_ago=3)
    sign_in(client, "officer")
    page = client.get(f"/staff/cases/{case.public_id}").text
    assert "late-escalation" not in page and "has passed" not in page
    assert nice_date(connect.escalation_by(case.responded_on)) in page


def test_a_late_stage2_request_is_escalated_over_http_warned_about_and_audited(
    client, session, users, connect, monkeypatch
):
    from intake.models import uk_date

    case = answered_at_stage1(session, connect, users, monkeypatch, days_ago=40)
    window_end = connect.escalation_by(case.responded_on)
    sign_in(client, "officer")
    url = f"/staff/cases/{case.public_id}"
    fields = form_fields(client.get(url).text, "escalate")
    response = client.post(
        f"{url}/escalate", data={**fields, "reason": "The roof leaks again"}, follow_redirects=False
    )
    assert response.status_code == 303  # never refused automatically
    page = client.get(response.headers["location"]).text
    assert "Escalated to Stage 2" in page
    assert "Stage 2 was asked for late" in page and "This is recorded in the history." in page
    assert "Escalation late" in page  # the history row
    session.expire_all()
    assert session.get(Case, case.id).stage == 2
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "escalation.late")).one()
    assert event.actor == "staff:officer"
    assert event.after["days_late"] == (uk_date(utcnow()) - window_end).days > 0


def test_escalating_with_the_date_the_resident_asked(client, session, users, connect, monkeypatch):
    from intake.models import CaseStage

    case = answered_at_stage1(session, connect, users, monkeypatch, days_ago=40)
    asked = case.responded_on + timedelta(days=7)
    sign_in(client, "officer")
    url = f"/staff/cases/{case.public_id}"
    fields = form_fields(client.get(url).text, "escalate")
    bad = client.post(f"{url}/escalate", data={**fields, "reason": "x", "requested_on": "7/1/2027"})
    assert bad.status_code == 400 and "Enter the date the resident asked" in bad.text
    response = client.post(
        f"{url}/escalate",
        data={**fields, "reason": "Emailed a week after the letter", "requested_on": asked.isoformat()},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "Escalated to Stage 2" in page and "late-escalation" not in page
    stage2 = session.exec(select(CaseStage).where(CaseStage.case_id == case.id, CaseStage.stage == 2)).one()
    assert stage2.opened_on == asked
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "escalation.late")).all() == []


# Releasing a claimed case ------------------------------------------------------------------------


def test_an_agent_releases_their_claim_and_the_case_is_back_in_the_queue(client, session, users, demo):
    sign_in(client, "agent")
    case = case_of(session, "Aisha Khan")
    url = f"/staff/cases/{case.public_id}"
    assert "Release this case" not in client.get(url).text  # nobody has claimed it
    client.post(f"{url}/claim", data=form_fields(client.get(url).text, "claim"))
    assert "Aisha Khan" not in client.get("/staff/queues/all", params={"officer": "unassigned"}).text
    page = client.get(url).text
    assert "Release this case" in page and "it is claimed by" not in page
    response = client.post(f"{url}/release", data=form_fields(page, "release"), follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "It is back in the queue" in page and "nobody yet" in page and "Claim this case" in page
    assert "Aisha Khan" in client.get("/staff/queues/all", params={"officer": "unassigned"}).text
    session.expire_all()
    assert session.get(Case, case.id).assigned_to_id is None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.released")).one()
    assert event.actor == "staff:agent"


def test_release_needs_the_csrf_token(client, session, users, demo):
    from intake import case_actions

    case = case_of(session, "Aisha Khan")
    case_actions.claim(session, case, users["agent"])
    session.commit()
    sign_in(client, "agent")
    url = f"/staff/cases/{case.public_id}"
    fields = form_fields(client.get(url).text, "release")
    for data in ({"version": fields["version"]}, {**fields, "csrf_token": "not-the-token"}):
        assert client.post(f"{url}/release", data=data).status_code == 403
    session.expire_all()
    assert session.get(Case, case.id).assigned_to_id == users["agent"].id
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "case.released")).all() == []


def test_only_the_claiming_agent_or_an_officer_can_release(client, session, users, demo):
    from intake import case_actions

    create_user(session, "agent2", PASSWORD, "agent", "Sam Second")
    case = case_of(session, "Aisha Khan")
    case_actions.claim(session, case, users["agent"])
    session.commit()
    url = f"/staff/cases/{case.public_id}"

    sign_in(client, "agent2")
    page = client.get(url).text
    assert "Release this case" not in page
    response = client.post(f"{url}/release", data=form_fields(page, "note"))
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Case, case.id).assigned_to_id == users["agent"].id

    sign_in(client, "officer")
    page = client.get(url).text
    assert "Release this case" in page and "it is claimed by Alex Agent" in page
    response = client.post(f"{url}/release", data=form_fields(page, "release"), follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    assert session.get(Case, case.id).assigned_to_id is None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.released")).one()
    assert event.actor == "staff:officer" and "agent's claim" in event.detail


# --- Attachments: photos and files residents sent -----------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


@pytest.fixture
def with_files(session, policy):
    """A text complaint with a photo, a forged HTML 'photo' with a hostile name, a video too large
    to keep, and a photo Twilio still holds."""
    from intake.models import Attachment, Message

    case = seed_case(
        session,
        policy,
        DemoCase(
            "black mould in the bathroom again, photos attached",
            "complaint",
            "sms",
            "Mo",
            phone="07700900555",
        ),
    )
    message = session.exec(select(Message).where(Message.case_id == case.id)).one()
    files = {
        "photo": Attachment(
            message_id=message.id, filename="mould.png", content_type="image/png", size=12 * 1024, data=PNG
        ),
        "html": Attachment(
            message_id=message.id,
            filename='"><img src=x onerror=alert(1)>.html',
            content_type="text/html",
            size=len(XSS),
            data=f"<html><body>{XSS}</body></html>".encode(),
        ),
        "video": Attachment(
            message_id=message.id,
            filename="walls.mp4",
            content_type="video/mp4",
            size=int(3.4 * 1024 * 1024),
            truncated=True,
        ),
        "held": Attachment(
            message_id=message.id,
            filename="media-1.jpeg",
            content_type="image/jpeg",
            size=0,
            url="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        ),
    }
    session.add_all(files.values())
    session.commit()
    return case, {key: file.public_id for key, file in files.items()}


def test_the_case_page_lists_each_messages_files_with_their_names_escaped(client, users, with_files):
    case, ids = with_files
    sign_in(client, "agent")
    html = client.get(f"/staff/cases/{case.public_id}").text
    files = html[html.index('class="attachments"') : html.index("</ul>", html.index('class="attachments"'))]
    assert f'href="/staff/attachments/{ids["photo"]}"' in files and "mould.png" in files
    assert "image/png, 12 KB" in files
    assert "<img src=x" not in html and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.html" in files
    assert f'href="/staff/attachments/{ids["html"]}"' in files
    assert "walls.mp4" in files and "3.4 MB" in files and "too large to keep" in files
    assert f"/staff/attachments/{ids['video']}" not in files  # nothing kept, nothing to link
    assert "held by Twilio, not yet downloaded" in files
    assert "api.twilio.com" not in html and f"/staff/attachments/{ids['held']}" not in files


def test_a_file_downloads_only_for_staff_and_never_runs_in_the_console(client, users, with_files):
    _case, ids = with_files
    response = client.get(f"/staff/attachments/{ids['photo']}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")

    sign_in(client, "agent")
    photo = client.get(f"/staff/attachments/{ids['photo']}")
    assert photo.status_code == 200 and photo.content == PNG
    assert photo.headers["content-type"] == "image/png"
    assert photo.headers["content-disposition"].startswith('attachment; filename="mould.png"')
    assert photo.headers["x-content-type-options"] == "nosniff"

    page = client.get(f"/staff/attachments/{ids['html']}")
    assert page.status_code == 200 and page.headers["content-type"] == "application/octet-stream"
    disposition = page.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="img_src_x_onerror_alert_1_.html"'), disposition
    assert '"' not in disposition.split("filename*=", 1)[1] and "<" not in disposition
    assert page.headers["x-content-type-options"] == "nosniff"

    for missing in ("no-such-file", ids["video"], ids["held"], "x" * 100):
        assert client.get(f"/staff/attachments/{missing}").status_code == 404, missing


def test_file_sizes_read_as_staff_would_say_them():
    from intake.console.rendering import file_size

    assert [file_size(n) for n in (0, 820, 12 * 1024, 3 * 1024 * 1024 + 400 * 1024)] == [
        "0 bytes",
        "820 bytes",
        "12 KB",
        "3.4 MB",
    ]
