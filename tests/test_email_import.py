"""`triage import-mail`: .eml files, folders, maildirs and mbox files, each message once."""

from __future__ import annotations

import mailbox
import shutil
from pathlib import Path

from sqlmodel import Session, select
from test_engine_support import fake_classify
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.commands.mail import import_mail
from bot.pipeline import make_inbound_handler
from intake.models import Message

CORPUS = Path(__file__).parent / "fixtures" / "email"


def run(path, engine, settings, policy):
    handle = make_inbound_handler(engine, settings, policy, fake_classify)
    return import_mail(
        path, use_date_header=True, handle=handle, settings=settings, engine=engine, progress=False
    )


def stored(engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Message).where(Message.direction == "in")).all())


def test_a_folder_of_eml_files_is_imported_once_however_often_it_is_run(engine, settings, policy):
    total = len(list(CORPUS.glob("*.eml")))
    first = run(CORPUS, engine, settings, policy)
    assert first["imported"] + first["automatic (recorded, not answered)"] == total
    assert first["automatic (recorded, not answered)"] == 3  # out-of-office, bounce, newsletter
    assert stored(engine) == total
    again = run(CORPUS, engine, settings, policy)
    assert again == {"already imported": total}
    assert stored(engine) == total


def test_a_maildir_and_an_mbox(engine, settings, policy, tmp_path):
    names = ["outlook_html_only.eml", "windows_1252.eml", "shift_jis.eml"]
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box = mailbox.mbox(str(tmp_path / "complaints.mbox"), create=True)
    for name in names:
        maildir.add((CORPUS / name).read_bytes())
        box.add((CORPUS / name).read_bytes())
    box.flush()
    assert run(tmp_path / "Maildir", engine, settings, policy)["imported"] == 3
    assert run(tmp_path / "complaints.mbox", engine, settings, policy) == {"already imported": 3}
    assert stored(engine) == 3


def test_a_single_file_is_dated_by_its_date_header(engine, settings, policy, tmp_path):
    path = tmp_path / "one.eml"
    shutil.copy(CORPUS / "windows_1252.eml", path)
    assert run(path, engine, settings, policy)["imported"] == 1
    with Session(engine) as session:
        message = session.exec(select(Message).where(Message.direction == "in")).one()
        assert message.meta["received_at"].startswith("2026-11-24T07:45")


def test_something_that_is_not_mail_is_reported_and_the_rest_imported(engine, settings, policy, tmp_path):
    (tmp_path / "a.eml").write_bytes((CORPUS / "windows_1252.eml").read_bytes())
    (tmp_path / "b.eml").write_bytes(b"not an email at all")
    counts = run(tmp_path, engine, settings, policy)
    assert counts == {"imported": 1, "refused": 1}


def test_the_command_explains_a_bad_path():
    result = CliRunner().invoke(cli, ["import-mail", "/no/such/place"])
    assert result.exit_code == 2
    assert "There is nothing at /no/such/place" in result.output
