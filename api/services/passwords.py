"""The password policy: what a new password must be, for every way one is set (the API,
the CLI, the web pages, an admin's reset).

NIST SP 800-63B's advice, as most services now follow it: a minimum length, no
composition rules (no "one digit and one capital"), and a refusal of passwords that are
known to be common or easily guessed:

- at least :data:`MIN_LENGTH` characters (Chinese characters count one each), at most
  :data:`MAX_LENGTH`;
- not made of spaces, not one repeated character or a run of a few characters
  (``abababab…``), not a keyboard or counting sequence (``1234567890``, ``qwertyuiop``);
- not the username (or containing it), and not the platform's name;
- not in the lists of common passwords in ``data/security/`` (19,640 from breaches via
  Django's list, and one of Chinese users' passwords: ``5201314``, ``woaini1314``,
  ``1qaz2wsx``, place names with digits…), compared lower-cased and without surrounding
  spaces.

A refusal says which rule, in one sentence, for a 422 naming the field.
"""

from __future__ import annotations

import functools
from pathlib import Path

MIN_LENGTH = 10
MAX_LENGTH = 256
DATA = Path(__file__).resolve().parents[2] / "data" / "security"
LISTS = ("common-passwords.txt", "common-passwords-zh.txt")
_SEQUENCES = (
    "01234567890",
    "09876543210",
    "abcdefghijklmnopqrstuvwxyz",
    "zyxwvutsrqponmlkjihgfedcba",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb",
    "一二三四五六七八九十",
)


@functools.cache
def common_passwords() -> frozenset[str]:
    """Every listed password, lower-cased (loaded once)."""
    words: set[str] = set()
    for name in LISTS:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            word = line.strip()
            if word and not word.startswith("#"):
                words.add(word.lower())
    return frozenset(words)


def _sequence(text: str) -> bool:
    """A run along a keyboard row or counting (``3456789012`` wraps round)."""
    return any(text in row + row for row in _SEQUENCES)


def _repetitive(text: str) -> bool:
    """Few distinct characters (``aaaaaaaaaa``, ``abababab``, ``12121212``)."""
    if len(set(text)) <= 3:
        return True
    for size in range(2, len(text) // 2 + 1):
        if len(text) % size == 0 and text == text[:size] * (len(text) // size):
            return True
    return False


def problem(password: str, *, username: str | None = None) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters (a phrase of a few words is easiest)"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if not password.strip():
        return "must not be only spaces"
    plain = password.strip().lower()
    squeezed = "".join(plain.split())
    if _repetitive(squeezed):
        return "must not repeat a few characters (such as aaaaaaaaaa or 12121212)"
    if _sequence(squeezed):
        return "must not be a keyboard or counting sequence (such as 1234567890 or qwertyuiop)"
    if username and len(username) >= 3 and username.lower() in plain:
        return "must not contain the username"
    listed = common_passwords()
    if plain in listed or squeezed in listed:
        return "is one of the most common passwords; choose another (a phrase of a few words)"
    return None
