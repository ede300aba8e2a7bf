"""How many SMS segments a text takes (GSM 03.38 7-bit, or UCS-2 when any other character is used)."""

from __future__ import annotations

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text)


def sms_segments(text: str) -> int:
    """Segments a carrier bills for: 160/153 septets for GSM-7, 70/67 characters for UCS-2."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM_EXTENDED else 1 for ch in text)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)  # astral characters take two UTF-16 units
        single, multi = 70, 67
    if units <= single:
        return 1
    return -(-units // multi)


SMS_MAX_SEGMENTS = 2
