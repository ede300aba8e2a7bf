"""Conversations, category by category, through the real pipeline and database (fake classifier)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from test_engine_support import Chat, fake_classify

from bot.pipeline import make_inbound_handler
from intake.models import Adjustment
from intake.sms_text import sms_segments


@pytest.fixture
def chat(engine, settings, policy):
    handler = make_inbound_handler(engine, settings, policy, fake_classify)
    return Chat(handler=handler, engine=engine)


def bodies(chat):
    return [row.body for row in chat.outbox()]


def assert_every_sms_fits(chat):
    for row in chat.outbox(include_cancelled=True):
        assert sms_segments(row.body) <= 2, row.body


def test_a_complete_complaint_with_an_adjustment_and_an_advocate_takes_at_most_six_turns(chat):
    first = chat.send(
        "I'm writing on behalf of my mum. Her heating is still not fixed and nobody came to the appointment."
    )
    assert "complaint is about" in first.replies[0]
    assert "heating is still not fixed" in first.replies[0] or "writing on behalf" in first.replies[0]
    assert "When did this happen" in first.replies[-1]
    chat.send("Three weeks ago")
    reply = chat.send("Fix the heating and say sorry")
    assert "large print" in reply.replies[-1]
    reply = chat.send("She is deaf, so text only please")
    assert "writing for someone else" in reply.replies[-1]
    reply = chat.send("I'm John Smith, her son. She's happy for me to help.")
    assert "how and when is best to contact you" in reply.replies[-1]
    done = chat.send("Text me in the evenings")
    assert chat.turns <= 6
    [case] = chat.cases()
    assert done.case_reference == case.reference
    assert case.category == "complaint" and case.stage == 1 and case.status == "stage1_in_progress"
    assert case.acknowledged_on is not None and case.response_due is not None
    assert case.outcome_sought == "Fix the heating and say sorry"
    assert sorted(chat.adjustments(case)) == ["deaf", "written_only"]
    advocate = chat.advocate(case)
    assert (
        advocate.name == "John Smith" and advocate.relationship == "son" and advocate.consent == "to_obtain"
    )
    acknowledgement = chat.outbox()[-1]
    assert acknowledgement.kind == "acknowledgement" and case.reference in acknowledgement.body
    assert "reply YES" in acknowledgement.body
    assert_every_sms_fits(chat)
    # The representative replies YES: noted, but it is the resident's consent we need.
    reply = chat.send("YES")
    assert "We also need to hear from the person you're helping" in reply.replies[0]
    assert chat.advocate(case).consent == "to_obtain"


def test_a_complaint_asks_only_what_is_missing(chat):
    reply = chat.send(
        "Your contractor was rude to me last Tuesday and left a mess. I want an apology and the mess cleaned up."
    )
    # when and what-would-put-it-right are already there: straight on to support needs.
    assert "large print" in reply.replies[-1]
    chat.send("no thanks")
    reply = chat.send("No, just me")
    assert "contact you" in reply.replies[-1]
    chat.send("Call me, mornings are best")
    [case] = chat.cases()
    assert case.outcome_sought.startswith("I want an apology")
    assert chat.advocate(case) is None and chat.adjustments(case) == []
    assert chat.turns == 4
    assert_every_sms_fits(chat)


def test_i_want_to_complain_with_no_detail_asks_what_happened(chat):
    reply = chat.send("I want to make a complaint")
    assert "what happened" in reply.replies[-1]
    reply = chat.send("The repair to my window has been cancelled four times since January")
    assert "complaint is about" in reply.replies[0]
    assert not chat.cases()


def test_a_bare_i_want_to_complain_is_a_complaint_whatever_the_model_says(chat):
    reply = chat.send("I want to complain")  # the fake model calls this a possible exclusion
    assert "what happened" in reply.replies[-1]
    assert chat.cases() == [] and chat.conversation().state == "complaint"


def test_someone_writing_for_a_parent_who_needs_an_interpreter(chat):
    reply = chat.send(
        "Hello, I'm writing for my dad Mr Patel who only speaks Gujarati. "
        "His toilet has been leaking for 2 months and you keep cancelling the plumber"
    )
    assert "complaint is about: His toilet has been leaking" in reply.replies[0]
    assert "Gujarati interpreter" in reply.replies[0]
    assert "What would put things right" in reply.replies[0]  # 'for 2 months' already says when
    chat.send("Fix the toilet and pay for the damaged carpet")
    chat.send("I'm his daughter Priya, he wants me to deal with it")
    chat.send("call me after 5pm on 07700 900456")
    assert chat.turns == 4
    [case] = chat.cases()
    assert chat.adjustments(case) == ["interpreter:gujarati"]
    advocate = chat.advocate(case)
    assert (advocate.name, advocate.relationship, advocate.consent) == ("Priya", "daughter", "to_obtain")
    assert case.summary.startswith("His toilet has been leaking")


def test_a_resident_naming_their_helper_gives_consent(chat):
    chat.send("I'm not happy, the repair was left half done two weeks ago, please finish it")
    chat.send("no")
    chat.send("Yes my daughter Sarah Jones helps me with letters")
    chat.send("text")
    [case] = chat.cases()
    advocate = chat.advocate(case)
    assert (advocate.name, advocate.relationship, advocate.consent) == ("Sarah Jones", "daughter", "given")
    assert "resident told us" in advocate.consent_method


def test_a_service_request_is_logged_and_a_complaint_taken_if_they_say_yes(chat):
    reply = chat.send("My kitchen tap is dripping, can someone come and look at it")
    [case] = chat.cases()
    assert case.category == "service_request" and case.reference.startswith("SR-")
    assert any("service request" in r for r in reply.replies)
    assert "Reply YES" in reply.replies[-1] and "complaint" in reply.replies[-1]
    reply = chat.send("yes")
    assert "what has gone wrong with how we've dealt with it" in reply.replies[-1]
    chat.send("You promised to come last month and nobody came")
    chat.send("Just fix it please")
    chat.send("no")
    chat.send("no")
    chat.send("text me")
    service_request, complaint = chat.cases()
    assert complaint.category == "complaint" and complaint.linked_case_id == service_request.id
    assert_every_sms_fits(chat)


def test_a_service_request_without_a_complaint(chat):
    chat.send("The tap is dripping in my bathroom")
    reply = chat.send("No")
    assert "We'll be in touch" in reply.replies[0]
    assert [c.category for c in chat.cases()] == ["service_request"]


def test_asb_is_routed_with_a_reference_and_unhappiness_with_our_handling_becomes_a_complaint(chat):
    reply = chat.send("My neighbour plays loud music every night until 3am")
    [case] = chat.cases()
    assert case.category == "asb_report" and case.reference in reply.replies[0]
    assert "ASB team" in reply.replies[0]
    reply = chat.send(
        "I want to complain about how you've handled it, I've reported it five times and you're not happy to help"
    )
    assert "complaint is about" in reply.replies[0]
    for answer in ("since June", "Move them or move me", "no", "no", "text"):
        chat.send(answer)
    asb, complaint = chat.cases()
    assert complaint.category == "complaint" and complaint.linked_case_id == asb.id


@pytest.mark.parametrize(
    "text, reason",
    [
        ("There's a court claim already started about the damp", "legal_proceedings"),
        ("My council tax bill is wrong", "other_organisation"),
    ],
)
def test_an_exclusion_is_never_refused(chat, policy, text, reason):
    reply = chat.send(text)
    [case] = chat.cases()
    assert case.category == "exclusion" and case.exclusion_reason == reason
    assert case.needs_review and case.status == "exclusion_review"
    assert case.response_due == policy.exclusion_decision_by(case.received_on)
    body = reply.replies[0]
    assert "review it and reply in writing" in body and "Housing Ombudsman" in body
    assert "can't" not in body.split("If we say")[0]  # nothing that reads as a refusal before the review
    assert_every_sms_fits(chat)


def test_an_exclusion_the_policy_does_not_use_stays_a_complaint(chat):
    chat.send(
        "I have made an insurance claim about the leak damage"
    )  # code-default has no insurance exclusion
    assert chat.conversation().state == "complaint"


def test_gas_the_safety_message_comes_first_and_the_case_is_urgent(chat):
    reply = chat.send("I can smell gas in my kitchen")
    assert "0800 111 999" in reply.replies[0]
    assert "?" not in reply.replies[0]
    [case] = chat.cases()
    assert case.urgent and case.urgent_kind == "gas"
    first_row = chat.outbox()[0]
    assert (
        first_row.kind == "safety" and first_row.next_attempt_at <= first_row.created_at
    )  # sent at once, never held


def test_an_earlier_risk_stays_on_its_own_case(chat):
    first = chat.send("I can smell gas in my kitchen")
    assert not any("Reply YES" in r for r in first.replies)  # no extra question in an emergency
    reply = chat.send("I want to complain about how you've dealt with it")
    assert reply.replies == (
        "I'm sorry. Please tell us what has gone wrong with how we've dealt with it.",
    )  # a new complaint, not a new urgent case
    [service_request] = chat.cases()
    assert service_request.urgent


def test_self_harm_gets_samaritans_first(chat):
    reply = chat.send("I can't take any more, I want to end it all")
    assert "116 123" in reply.replies[0] and "999" in reply.replies[0]
    [case] = chat.cases()
    assert case.urgent and case.urgent_kind == "self_harm" and case.needs_review
    assert case.reference in reply.replies[1] and "A member of our team will contact you" in reply.replies[2]
    reply = chat.send("please text me")
    assert "added this for our team" in reply.replies[0]  # on the same case, no second safety message
    assert len(chat.cases()) == 1


def test_safety_messages_are_not_repeated(chat):
    chat.send("The socket is sparking again and still not fixed after you came twice")
    reply = chat.send("it is sparking right now")
    assert not any("999" in r for r in reply.replies)  # the same risk: said once
    reply = chat.send("and now I can smell gas")
    assert "0800 111 999" in reply.replies[0]  # a different, specific risk: said at once


def test_a_general_risk_after_a_specific_one_adds_no_second_message(engine, settings, policy):
    from classifier.types import Triage

    def classify(text, received_at=None):
        kind = "damp_mould_health" if "mould" in text else "other"
        return Triage("complaint", 0.9, urgent=True, urgent_kind=kind)

    chat = Chat(handler=make_inbound_handler(engine, settings, policy, classify), engine=engine)
    first = chat.send("Black mould in my son's room and he has asthma, reported in September")
    assert "NHS 111" in first.replies[0]
    second = chat.send("get rid of it and move him")
    assert not any("999" in r or "NHS" in r for r in second.replies)


def test_an_urgent_complaint_reaches_the_urgent_queue_before_the_questions(chat):
    reply = chat.send("The socket is sparking again and still not fixed after you came twice")
    assert "999" in reply.replies[0]
    [case] = chat.cases()
    assert case.urgent and case.category == "complaint"
    assert case.reference in reply.replies[1]
    assert "?" in reply.replies[-1]
    for answer in ("fix it today", "no", "no", "phone"):
        chat.send(answer)
    [case] = chat.cases()  # the same case, completed and acknowledged
    assert case.acknowledged_on is not None and case.urgent


def test_a_compliment_is_thanked_and_recorded(chat):
    reply = chat.send("The plumber was brilliant, thank you")
    [case] = chat.cases()
    assert case.category == "compliment" and "thank you" in reply.replies[0].lower()


def test_other_answers_from_the_faq_or_asks_what_they_need(chat):
    reply = chat.send("What time do you open?")
    assert "Monday to Friday" in reply.replies[0]
    reply = chat.send("hi")
    assert "What can we help with" in reply.replies[0]
    assert chat.cases() == []


def test_low_confidence_asks_one_clarifying_question(chat):
    reply = chat.send("My boiler is making a noise")
    assert reply.replies == (
        "Is this the first time you've told us about this, or are you unhappy with how we've dealt with it?",
    )
    assert chat.cases() == []
    chat.send("It's the first time")
    [case] = chat.cases()
    assert case.category == "service_request"


def test_low_confidence_unhappy_answer_becomes_a_complaint(chat):
    chat.send("My boiler is making a noise")
    reply = chat.send("I'm unhappy with how you've dealt with it, I told you before")
    assert "complaint is about" in reply.replies[0]


def test_speak_to_a_person_at_any_point(chat):
    chat.send("The repair was still not fixed after three visits")
    reply = chat.send("Can I speak to a person please")
    [case] = chat.cases()
    assert case.needs_review and "person" in case.review_reason
    assert case.reference in reply.replies[0] and "0300 000 0000" in reply.replies[0]
    reply = chat.send("thanks, it's about the kitchen")
    assert "added this for our team" in reply.replies[0]


def test_start_again_and_stop(chat):
    chat.send("I want to complain")
    reply = chat.send("start again")
    assert reply.replies[0].startswith("OK, let's start again")
    assert chat.conversation().state == "start"
    reply = chat.send("stop")
    assert "stopped" in reply.replies[0]
    assert not chat.conversation().active
    reply = chat.send("hello again")  # a new conversation starts
    assert "What can we help with" in reply.replies[0]


def test_stopping_part_way_through_a_complaint_keeps_it_for_staff(chat):
    chat.send("Your repairs team was rude to me yesterday")
    reply = chat.send("stop")
    [case] = chat.cases()
    assert case.category == "complaint" and case.needs_review and case.reference in reply.replies[0]


def test_every_sms_the_bot_can_send_fits_in_two_segments(chat, policy):
    from bot.engine import replies as R

    lines = [
        R.GREETING.format(landlord=policy.landlord),
        R.ASK_WHAT,
        R.ASK_WHAT_HANDLING,
        R.ASK_WHEN,
        R.ASK_OUTCOME,
        R.ASK_ADJUSTMENTS,
        R.ASK_ADVOCATE,
        R.ASK_ADVOCATE_FOR_SOMEONE,
        R.ASK_CONTACT,
        R.ASK_CONTACT_WEB,
        R.COMPLAINT_ALREADY.format(reference="CMP-2026-000001"),
        R.SR_ASK_UNHAPPY,
        R.SR_NO_COMPLAINT,
        R.ADDED_TO_CASE.format(reference="CMP-2026-000001"),
        R.CONSENT_STILL_NEEDED.format(phone=policy.office.phone),
        R.CONSENT_RECORDED.format(who="A" * 60, reference="CMP-2026-000001"),
        R.CLARIFY_GENERIC,
        *R.CLARIFY.values(),
        R.RESTART,
        R.HUMAN.format(about=" about CMP-2026-000001", phone=policy.office.phone, hours=policy.office.hours),
        R.HANDED_OFF_ADDED.format(phone=policy.office.phone),
        R.STOPPED.format(kept=R.STOPPED_KEPT.format(reference="CMP-2026-000001")),
        R.URGENT_NOTED.format(reference="CMP-2026-000001"),
        R.URGENT_MORE,
        R.URGENT_MORE_PERSONAL,
        R.ADJUSTMENTS_NOTED.format(needs="deaf/BSL, large print, Polish interpreter"),
        *(R.safety_message(kind, policy) for kind in [*R.SAFETY, None]),
        *(R.fit(R.FAQ_ANSWER, text_field="answer", value=entry.answer) for entry in policy.faq),
        R.fit(R.UNDERSTOOD, value="x " * 400),
        R.fit(R.UNDERSTOOD, value="\U0001f621 emoji make a text cost more " * 20),
    ]
    for line in lines:
        assert sms_segments(line) <= 2, line
        assert "\u2019" not in line and "\u2014" not in line
    # ...and the conversations that echo the resident's own (long, emoji) words.
    long_text = "My neighbour's builder is still not fixed \U0001f621 " + "and it keeps going on " * 40
    chat.send(long_text)
    chat.send("ages ago " * 50)
    assert_every_sms_fits(chat)


# --- coming back later, or never ----------------------------------------------------------
def test_coming_back_after_a_long_gap_starts_afresh_and_keeps_the_unfinished_complaint(chat):
    from datetime import timedelta

    chat.send("Your contractor was rude to me last Tuesday")
    chat.gap = timedelta(hours=13)
    reply = chat.send("The plumber was brilliant")
    unfinished, compliment = chat.cases()
    assert unfinished.category == "complaint" and unfinished.needs_review
    assert "came back later" in unfinished.review_reason
    assert compliment.category == "compliment" and "thank you" in reply.replies[0].lower()


def test_a_late_yes_from_the_representative_is_noted_not_taken_as_consent(chat, engine):
    from datetime import timedelta

    from sqlmodel import Session, select

    from intake.models import AuditEvent

    for text in ("I'm writing on behalf of my mum, her heating is still not fixed since May", "Fix it", "no",
                 "I'm her son Tom", "text"):  # fmt: skip
        chat.send(text)
    [case] = chat.cases()
    assert chat.advocate(case).consent == "to_obtain"
    chat.gap = timedelta(days=2)
    reply = chat.send("Yes")
    assert "We also need to hear from the person you're helping" in reply.replies[0]
    assert chat.advocate(case).consent == "to_obtain"
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.case_id == case.id)).all()
    assert "advocate.consent_claimed" in actions


def test_the_resident_replying_yes_gives_consent_for_a_representative_staff_added(chat, engine, policy):
    from sqlmodel import Session

    from intake.cases import record_advocate
    from intake.models import Case

    for text in ("Your contractor was rude to me last Tuesday", "An apology", "no", "no", "text"):
        chat.send(text)
    [case] = chat.cases()
    with Session(engine) as session:
        record_advocate(
            session, session.get(Case, case.id), name="Ruth Ade", relationship="councillor", actor="staff:amy"
        )
        session.commit()
    reply = chat.send("YES")
    assert "Ruth Ade can act for you" in reply.replies[0]
    advocate = chat.advocate(case)
    assert advocate.consent == "given" and "in reply to our acknowledgement" in advocate.consent_method


def _age_conversation(engine, hours: int) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session, select

    from intake.models import Conversation

    with Session(engine) as session:
        for conversation in session.exec(select(Conversation)).all():
            conversation.updated_at = datetime.now(UTC) - timedelta(hours=hours)
            session.add(conversation)
        session.commit()


def test_an_abandoned_complaint_is_opened_for_staff(chat, engine):
    chat.send("Your contractor was rude to me last Tuesday")
    chat.send("An apology")
    before = len(chat.outbox())
    assert chat.handler.close_abandoned() == 0  # not yet: they may still be typing
    _age_conversation(engine, 25)
    assert chat.handler.close_abandoned() == 1
    [case] = chat.cases()
    assert case.category == "complaint" and case.needs_review and case.outcome_sought == "An apology"
    assert "stopped answering" in case.review_reason
    assert len(chat.outbox()) == before  # nothing is sent to the resident by the sweep
    assert chat.conversation().state == "start"
    assert chat.handler.close_abandoned() == 0


def test_an_unanswered_clarifying_question_is_opened_for_staff(chat, engine):
    chat.send("My boiler is making a noise")
    _age_conversation(engine, 25)
    assert chat.handler.close_abandoned() == 1
    [case] = chat.cases()
    assert case.category == "service_request" and case.needs_review


@pytest.mark.parametrize("policy_name", ["code-default", "saha", "connect", "connexus"])
def test_long_answers_and_four_support_needs_still_fit_two_texts(engine, settings, policy_name):
    from intake.policy import load_policy

    chat = Chat(
        handler=make_inbound_handler(engine, settings, load_policy(policy_name), fake_classify), engine=engine
    )
    long_what = (
        "I'm writing on behalf of my mum. Her heating is still not fixed and nobody came, she is freezing "
        * 3
    )
    for text in (
        long_what,
        "since last winter",
        "Fix the heating properly, pay compensation for the heaters, and an apology from the manager",
        "She is deaf, has anxiety and needs a Polish interpreter, text only",
        "I'm her son John Smith-Worthington",
        "text",
    ):
        chat.send(text)
    for text in (
        "The plumber was brilliant " * 20,
        "My neighbour plays loud music " * 20,
        "My council tax bill is wrong " * 10,
    ):
        chat.send("start again")
        chat.send(text)
    assert (
        len(chat.cases()) >= 3
    )  # a policy without that exclusion takes the council tax message as a complaint
    assert_every_sms_fits(chat)


def test_an_abandoned_email_complaint_is_opened_too(engine, settings, policy):
    chat = Chat(
        handler=make_inbound_handler(engine, settings, policy, fake_classify), engine=engine,
        channel="email", address="someone@example.com",
    )  # fmt: skip
    chat.send("Your contractor was rude to me last Tuesday", sender_name="Sam Someone")
    _age_conversation(engine, 25)
    assert chat.handler.close_abandoned() == 1
    [case] = chat.cases()
    assert case.category == "complaint" and case.needs_review and case.contact_id is not None


@pytest.mark.parametrize(
    "messages, category, kind",
    [
        (["Your contractor was rude to me last Tuesday. I want an apology.", "no", "no", "email please"],
         "complaint", "acknowledgement"),
        (["The tap is dripping in the bathroom", "no"], "service_request", "service_request_logged"),
        (["My neighbour plays loud music every night"], "asb_report", "asb_routed"),
        (["There's a court claim already started about the damp"], "exclusion", "exclusion_review"),
        (["The plumber was brilliant"], "compliment", "compliment_received"),
    ],
)  # fmt: skip
def test_every_category_by_email_gets_the_full_letter(engine, settings, policy, messages, category, kind):
    chat = Chat(
        handler=make_inbound_handler(engine, settings, policy, fake_classify), engine=engine,
        channel="email", address="resident@example.com",
    )  # fmt: skip
    for text in messages:
        chat.send(text, subject="My housing")
    [case] = chat.cases()
    assert case.category == category and case.channel == "email"
    [letter] = [row for row in chat.outbox() if row.kind == kind]
    assert case.reference in letter.subject and letter.body.startswith(("Dear", "Hello"))
    assert all(row.subject for row in chat.outbox())
    assert all(row.subject.startswith("Re: My housing") for row in chat.outbox() if row.kind == "bot_reply")


def test_a_message_nobody_here_can_read_goes_to_a_person_with_no_questions_in_english(chat):
    reply = chat.send("Dzień dobry, nikt nie przyszedł naprawić ogrzewania, dzwoniłam trzy razy")
    assert "999" in reply.replies[0]  # we cannot rule out a danger, so the safety line comes first
    assert not any("?" in r for r in reply.replies)
    assert any("translated" in r and "interpreter" in r for r in reply.replies)
    [case] = chat.cases()
    assert case.category == "complaint" and case.needs_review and case.urgent
    assert "Polish" in case.review_reason
    with Session(chat.engine) as session:
        codes = session.exec(select(Adjustment.code).where(Adjustment.case_id == case.id)).all()
    assert codes == ["interpreter:polish"]
    assert chat.conversation().state == "handed_off"
    more = chat.send("Prosze o kontakt")  # a second message is added to the same case
    assert len(chat.cases()) == 1 and more.replies
    assert_every_sms_fits(chat)
