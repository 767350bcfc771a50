"""Charger passwords (OCPP security profiles 1 and 2): salted PBKDF2, never stored plain."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_ITERATIONS = 120_000


def hash_password(password: str, *, iterations: int = _ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    salt_b64 = base64.b64encode(salt).decode()
    return f"pbkdf2_sha256${iterations}${salt_b64}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt),
                              int(iterations))
    return hmac.compare_digest(got, base64.b64decode(digest))


def new_password() -> str:
    """OCPP 1.6 security whitepaper: 16-40 characters; 20 url-safe characters here."""
    return secrets.token_urlsafe(15)
