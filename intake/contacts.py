"""Residents and other contacts: phone numbers in E.164, e-mail addresses lower-cased."""

from __future__ import annotations

from email.utils import parseaddr

import phonenumbers
from sqlmodel import Session, select

from intake.errors import IntakeError
from intake.models import Contact


class InvalidPhoneNumber(IntakeError):
    pass


def normalise_phone(raw: str, region: str = "GB") -> str:
    """'07700 900123' -> '+447700900123'. Raises InvalidPhoneNumber for anything that is not a number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number we can use.") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number we can use.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    _name, address = parseaddr(raw)
    address = address.strip().lower()
    if "@" not in address or len(address) > 320:
        raise IntakeError(f"{raw!r} is not an email address we can use.")
    return address


def find_or_create_contact(
    session: Session, *, phone: str | None = None, email: str | None = None, name: str | None = None
) -> Contact:
    """The contact with this phone number or e-mail address, created if new."""
    phone = normalise_phone(phone) if phone else None
    email = normalise_email(email) if email else None
    contact = None
    if phone:
        contact = session.exec(select(Contact).where(Contact.phone == phone).order_by(Contact.id)).first()
    if contact is None and email:
        contact = session.exec(select(Contact).where(Contact.email == email).order_by(Contact.id)).first()
    if contact is None:
        contact = Contact(phone=phone, email=email, name=name)
        session.add(contact)
        session.flush()
    elif name and not contact.name:
        contact.name = name
        session.add(contact)
    return contact
