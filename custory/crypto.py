"""Secrets encrypted at rest (Stripe keys, webhook secrets): MultiFernet, the first key encrypts."""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class EncryptionNotConfigured(ImproperlyConfigured):
    pass


@cache
def _fernet() -> MultiFernet:
    if not settings.CUSTORY_ENCRYPTION_KEYS:
        raise EncryptionNotConfigured(
            "CUSTORY_ENCRYPTION_KEYS is not set, so secrets cannot be stored encrypted."
        )
    return MultiFernet([Fernet(key.encode()) for key in settings.CUSTORY_ENCRYPTION_KEYS])


def encryption_configured() -> bool:
    return bool(settings.CUSTORY_ENCRYPTION_KEYS)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored secret; raises InvalidToken when no configured key fits."""
    return _fernet().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """Re-encrypt a token with the newest key (for key rotation)."""
    return _fernet().rotate(token.encode()).decode()


def mask(secret: str) -> str:
    """Show a secret as its prefix and last four characters: rk_live_…9xQz."""
    prefix_end = secret.rfind("_", 0, 12) + 1 if secret.count("_") else 0
    return f"{secret[:prefix_end]}…{secret[-4:]}"


__all__ = [
    "EncryptionNotConfigured",
    "InvalidToken",
    "decrypt",
    "encrypt",
    "encryption_configured",
    "mask",
    "reencrypt",
]
