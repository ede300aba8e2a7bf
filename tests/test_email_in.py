"""Inbound e-mail: a corpus of real-world-shaped messages, each replayed end to end."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import Session

from intake.models import Case, Message, Outbox
from integrations.email_in import html_to_text, parse_email, receive_email, strip_quotes_and_signature
from tests.recording_handler import RecordingHandler

CORPUS = Path(__file__).parent / "fixtures" / "email"


def parse(name: str, settings):
    return parse_email((CORPUS / name).read_bytes(), settings)


def test_every_mail_in_the_corpus_parses_to_a_message_with_a_sender_and_text(settings):
    files = sorted(CORPUS.glob("*.eml"))
    assert len(files) >= 15
    for path in files:
        message = parse_email(path.read_bytes(), settings)
        assert message.channel == "email"
        assert "@" in message.sender, path.name
        assert message.body.strip(), path.name
        assert message.provider_message_id.startswith("<"), path.name
        assert "<html" not in message.body.lower() and "<p" not in message.body, path.name


def test_outlook_html_only_mail_becomes_plain_text_in_windows_1252(settings):
    message = parse("outlook_html_only.eml", settings)
    assert message.sender == "margaret.ellis@outlook.com" and message.sender_name == "Margaret Ellis"
    assert "I’m writing to complain" in message.body
    assert "€120 on a plumber’s call-out & I want that back" in message.body
    assert "preheader" not in message.body  # display:none text is not what she wrote
    assert "MsoNormal" not in message.body and "Calibri" not in message.body
    assert message.subject == "Complaint - kitchen leak not repaired"
    assert not message.automatic


def test_a_gmail_reply_is_stripped_of_its_quote_for_classification_but_kept_whole(settings):
    message = parse("gmail_reply_quoted.eml", settings)
    assert message.body.startswith("Thanks for getting back to me")
    assert message.body.endswith("Darren")
    assert "Dear Mr Okafor" not in message.body and "wrote:" not in message.body
    assert "> Dear Mr Okafor" in message.raw_body and "wrote:" in message.raw_body
    assert message.thread_reference == "CMP-2026-000123"
    assert message.in_reply_to == "<outbox-41.c0ffee@example-housing.org.uk>"
    assert message.references == ("<outbox-41.c0ffee@example-housing.org.uk>",)


def test_an_outlook_reply_in_html_loses_the_original_below_the_reply_header(settings):
    message = parse("outlook_reply.eml", settings)
    assert message.body == "Yes please, a phone call is best, after 3pm."
    assert "Would you like us to phone you?" in message.raw_body
    assert not message.meta.get("forwarded")  # an Outlook reply block is not a forward


def test_a_forwarded_chain_finds_the_original_sender(settings):
    message = parse("forwarded_chain.eml", settings)
    assert message.sender == "aisha.begum77@yahoo.co.uk"
    assert message.sender_name == "Aisha Begum"
    assert message.meta["forwarded_by"] == "caseworker.jones@anytown.gov.uk"
    assert "black mould all over the wall" in message.body
    assert "Cllr Shah would be grateful" in message.meta["forward_note"]
    assert "Sent from Yahoo Mail" not in message.body
    assert "---------- Forwarded message" in message.raw_body


def test_mail_forwarded_as_an_attachment_finds_the_original_sender_and_its_photo(settings):
    message = parse("forward_as_attachment.eml", settings)
    assert message.sender == "lee.carter82@hotmail.co.uk"
    assert message.meta["forwarded_by"] == "k.wright@example-housing.org.uk"
    assert "unhappy with how this has been dealt with" in message.body
    assert [(a.filename, a.content_type) for a in message.attachments] == [("garden.jpg", "image/jpeg")]
    assert message.attachments[0].data.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    ("name", "expected_body", "expected_subject"),
    [
        ("iso_8859_1.eml", "rent of £450 on 1 November", "Rent account – £450 payment missing"),
        ("windows_1252.eml", "since “last month” – anyone", "Broken communal door"),
        ("shift_jis.eml", "エレベーターが２週間壊れています", "エレベーターの故障"),
        ("broken_charset.eml", "complained 3 times · nothing done. £ fine", "Noise from flat 9"),
    ],
)
def test_every_charset_is_read_and_a_wrong_label_never_loses_the_text(
    settings, name, expected_body, expected_subject
):
    message = parse(name, settings)
    assert expected_body in message.body
    assert message.subject == expected_subject
    assert "\ufffd" not in message.body


def test_latin_1_mail_with_windows_1252_punctuation_reads_right(settings):
    message = parse("iso_8859_1.eml", settings)
    assert "It’s been going on" in message.body and "café" in message.body
    assert message.sender_name == "José Fernandes"


def test_an_unknown_charset_label_falls_back(settings):
    message = parse("broken_charset.eml", settings)
    assert "naïve café noise" in message.body


def test_shift_jis_sender_name(settings):
    assert parse("shift_jis.eml", settings).sender_name == "田中 花子"


def test_html_with_script_never_reaches_the_text(settings):
    message = parse("html_with_script.eml", settings)
    assert "document.cookie" not in message.body and "alert" not in message.body
    assert "javascript" not in message.body and "enable js" not in message.body
    assert "The bins at Oak House have not been emptied" in message.body
    # escaped markup in the mail is the resident's literal text, kept as text
    assert "<script>not a tag</script>" in message.body


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("out_of_office.eml", "Auto-Submitted: auto-generated"),
        ("bounce_dsn.eml", "delivery report"),
        ("newsletter_list.eml", "Precedence: bulk"),
    ],
)
def test_auto_replies_bounces_and_list_mail_are_automatic(settings, name, reason):
    message = parse(name, settings)
    assert message.automatic
    assert message.meta["automatic_reason"] == reason


def _mail(**headers) -> bytes:
    message = EmailMessage()
    message["From"] = headers.pop("From", "resident@example.com")
    message["To"] = "complaints@example-housing.org.uk"
    message["Subject"] = headers.pop("Subject", "Hello")
    message["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    for key, value in headers.items():
        message[key.replace("_", "-")] = value
    message.set_content(headers.get("body", "My boiler is broken."))
    return message.as_bytes()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "list"},
        {"Precedence": "junk"},
        {"X_Auto_Response_Suppress": "OOF, AutoReply"},
        {"X_Loop": "complaints@example-housing.org.uk"},
        {"List_Unsubscribe": "<mailto:u@example.com>"},
        {"From": "MAILER-DAEMON@example.com"},
        {"Message_ID": "<outbox-9.abc@example-housing.org.uk>"},  # our own mail come back: a loop
    ],
)
def test_each_loop_signal_makes_a_mail_automatic(settings, headers):
    assert parse_email(_mail(**headers), settings).automatic


def test_auto_submitted_no_is_a_person(settings):
    assert not parse_email(_mail(Auto_Submitted="no"), settings).automatic


def test_a_mail_without_a_message_id_is_keyed_by_its_content(settings):
    raw = (CORPUS / "no_message_id.eml").read_bytes()
    first, second = parse_email(raw, settings), parse_email(raw, settings)
    assert first.provider_message_id == second.provider_message_id
    assert first.provider_message_id.startswith("<sha256-")
    assert first.sender == "jane.doe@example.com"  # Reply-To, not the web form's own address
    assert first.meta["from"] == "webform@example-housing.org.uk"


def test_attachment_filenames_cannot_carry_paths(settings):
    [attachment] = parse("apple_mail_attachment.eml", settings).attachments
    assert attachment.filename == "IMG_4821.jpg"
    assert attachment.size == len(attachment.data)


def test_a_10_mb_attachment_is_kept_and_one_over_the_cap_keeps_only_its_details(settings):
    ten_mb = bytes(range(256)) * (10 * 1024 * 1024 // 256)
    message = EmailMessage()
    message["From"] = "Kim <kim@example.com>"
    message["To"] = "complaints@example-housing.org.uk"
    message["Subject"] = "Video of the leak"
    message["Message-ID"] = "<video-1@example.com>"
    message.set_content("Here is a video of the water coming through the ceiling.")
    message.add_attachment(ten_mb, maintype="video", subtype="mp4", filename="leak.mp4")
    raw = message.as_bytes()
    assert len(raw) > 13 * 1024 * 1024  # base64

    parsed = parse_email(raw, settings)
    [attachment] = parsed.attachments
    assert attachment.size == len(ten_mb) and attachment.data == ten_mb
    assert parsed.body == "Here is a video of the water coming through the ceiling."

    capped = parse_email(raw, settings.model_copy(update={"max_attachment_bytes": 5 * 1024 * 1024}))
    [attachment] = capped.attachments
    assert attachment.size == len(ten_mb) and attachment.data is None


def test_a_mail_without_a_sender_is_refused(settings):
    with pytest.raises(ValueError, match="no From"):
        parse_email(b"Subject: hi\r\n\r\nhello", settings)


def test_html_to_text_keeps_lists_and_quotes():
    text = html_to_text("<ul><li>one</li><li>two</li></ul><blockquote>old <b>text</b></blockquote><p>new</p>")
    assert "- one" in text and "- two" in text and "> old text" in text and "new" in text


def test_signature_and_mobile_footer_are_stripped():
    assert (
        strip_quotes_and_signature("The lift is broken.\n-- \nJo Bloggs\n07700 900000")
        == "The lift is broken."
    )
    assert strip_quotes_and_signature("The lift is broken.\n\nSent from my iPhone") == "The lift is broken."


# --- threading -------------------------------------------------------------------------------


def _case(session, reference="CMP-2026-000123") -> Case:
    from datetime import date

    case = Case(reference=reference, category="complaint", channel="email", received_on=date(2026, 11, 24))
    session.add(case)
    session.flush()
    return case


def test_a_reply_threads_by_the_reference_in_its_subject(engine, settings):
    with Session(engine) as session:
        _case(session)
        session.commit()
    handler = RecordingHandler(engine)
    message, result = receive_email(
        (CORPUS / "gmail_reply_quoted.eml").read_bytes(), engine=engine, handle=handler, settings=settings
    )
    assert message.thread_reference == "CMP-2026-000123"
    assert handler.calls[0].thread_reference == "CMP-2026-000123"


def test_a_reply_threads_by_in_reply_to_our_outbound_message(engine, settings):
    with Session(engine) as session:
        case = _case(session, "CMP-2026-000777")
        session.add(
            Outbox(
                case_id=case.id,
                channel="email",
                kind="acknowledgement",
                to_address="m@example.com",
                body="...",
                provider_message_id="<outbox-77.beef@example-housing.org.uk>",
                status="sent",
            )
        )
        session.commit()
    message, _ = receive_email(
        (CORPUS / "outlook_reply.eml").read_bytes(),
        engine=engine,
        handle=RecordingHandler(engine),
        settings=settings,
    )
    assert message.thread_reference == "CMP-2026-000777"


def test_a_reply_threads_by_references_to_the_residents_first_mail(engine, settings):
    with Session(engine) as session:
        case = _case(session, "CMP-2026-000888")
        session.add(
            Message(
                case_id=case.id,
                direction="in",
                channel="email",
                body="first",
                provider_message_id="<AM7PR03MB6547E1A2B3C4D5E6F7A8B9C0D1E2F3A4@AM7PR03MB6547.eurprd03.prod.outlook.com>",
            )
        )
        session.commit()
    message, _ = receive_email(
        (CORPUS / "outlook_reply.eml").read_bytes(),
        engine=engine,
        handle=RecordingHandler(engine),
        settings=settings,
    )
    assert message.thread_reference == "CMP-2026-000888"


def test_a_made_up_reference_in_a_subject_threads_nowhere(engine, settings):
    message, _ = receive_email(
        (CORPUS / "gmail_reply_quoted.eml").read_bytes(),
        engine=engine,
        handle=RecordingHandler(engine),
        settings=settings,
    )
    assert message.thread_reference is None


def test_the_same_mail_delivered_twice_is_one_message_and_one_reply(engine, settings):
    handler = RecordingHandler(engine)
    raw = (CORPUS / "outlook_html_only.eml").read_bytes()
    _, first = receive_email(raw, engine=engine, handle=handler, settings=settings)
    _, second = receive_email(raw, engine=engine, handle=handler, settings=settings)
    assert not first.duplicate and second.duplicate
    with Session(engine) as session:
        from sqlmodel import select

        assert len(session.exec(select(Message)).all()) == 1
        assert len(session.exec(select(Outbox)).all()) == 1


def test_an_out_of_office_is_recorded_and_never_answered(engine, settings):
    handler = RecordingHandler(engine)
    _, result = receive_email(
        (CORPUS / "out_of_office.eml").read_bytes(), engine=engine, handle=handler, settings=settings
    )
    assert result.message_id and result.replies == ()
    with Session(engine) as session:
        from sqlmodel import select

        assert session.exec(select(Outbox)).all() == []


def test_the_corpus_photo_is_a_real_jpeg():
    # the forward-as-attachment photo is a real JPEG header: guards against a mangled fixture
    raw = (CORPUS / "forward_as_attachment.eml").read_text()
    chunk = raw.split('filename="garden.jpg"')[1].split("\n\n", 1)[1].split("--inner--")[0]
    assert base64.b64decode(chunk).startswith(b"\xff\xd8")


def test_mime_nested_thousands_deep_is_kept_as_text_not_a_crash(settings):
    depth = 3000
    raw = "From: a@example.com\r\nSubject: deep\r\nMessage-ID: <deep@example.com>\r\nMIME-Version: 1.0\r\n"
    for level in range(depth):
        raw += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'
    raw += "Content-Type: text/plain\r\n\r\nThe roof is leaking.\r\n"
    raw += "".join(f"--b{level}--\r\n" for level in reversed(range(depth)))
    message = parse_email(raw.encode(), settings)
    assert message.sender == "a@example.com"
    assert "The roof is leaking." in message.raw_body
    assert message.meta["unreadable_structure"] is True


def test_damaged_and_random_input_never_crashes_the_parser(settings):
    import random

    rng = random.Random(7)
    files = sorted(CORPUS.glob("*.eml"))
    for _ in range(300):
        raw = bytearray(rng.choice(files).read_bytes())
        if rng.random() < 0.5:
            raw = raw[: rng.randrange(len(raw))]
        for _ in range(rng.randrange(30)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        try:
            message = parse_email(bytes(raw), settings)
        except ValueError:
            continue  # no sender left: refused with a reason
        assert isinstance(message.body, str) and message.provider_message_id
