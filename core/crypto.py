"""Encryption at rest for the secrets we hold: directory credentials, webhook signing secrets,
OIDC client secrets, TOTP seeds.

Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``. ``FIELD_ENCRYPTION_KEYS`` lists
Fernet keys, newest first: the first encrypts, all decrypt (MultiFernet), so a new key is
put in front, ``manage.py rotate_field_keys`` re-encrypts every stored value with it, and
the old key can then be dropped. Without keys, one is derived from ``SECRET_KEY`` (never the
key itself), so the embedded default works out of the box.

Two ways to use it:

- ``EncryptedTextField`` / ``EncryptedJSONField`` on a model: the column holds only the
  Fernet token; Python code sees the plaintext. No lookups on them (the token is random).
- ``encrypt`` / ``decrypt`` where a library stores the value for us (allauth's TOTP seeds);
  register such columns with ``encrypted_column_register`` (or, for some keys of a JSON
  column, ``encrypted_json_keys_register``) so rotation reaches them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


class DecryptionFailed(ValueError):
    """The value was not encrypted with any configured key (or was tampered with)."""


def _derived_key(salt: bytes) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(salt + settings.SECRET_KEY.encode()).digest())


def _fernet() -> MultiFernet:
    keys: list[Any] = list(getattr(settings, "FIELD_ENCRYPTION_KEYS", []) or [])
    if not keys:
        keys = [_derived_key(b"likeness.fields:")]
    # Values written before the keys were shared by every app (identity's OIDC secrets and
    # TOTP seeds) were encrypted with this derived key: it still decrypts, never encrypts.
    keys.append(_derived_key(b"likeness.identity:"))
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt(plaintext: str) -> str:
    if plaintext == "":
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def _with_keys(ciphertext: str, operation: Callable[[MultiFernet, bytes], bytes]) -> str:
    """``operation`` (decrypt, rotate) on a stored token with the configured keys."""
    if ciphertext == "":
        return ""
    try:
        return operation(_fernet(), ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("Stored secret cannot be decrypted with the configured keys.") from exc


def decrypt(ciphertext: str) -> str:
    return _with_keys(ciphertext, MultiFernet.decrypt)


def is_encrypted(value: str) -> bool:
    """Whether ``value`` is a token one of our keys made (migrations use it to stay
    idempotent: a plaintext row is encrypted once)."""
    try:
        decrypt(value)
    except DecryptionFailed:
        return False
    return True


def reencrypt(ciphertext: str) -> str:
    """The same plaintext under the newest key (MultiFernet.rotate)."""
    return _with_keys(ciphertext, MultiFernet.rotate)


def last4(secret: str) -> str:
    """What a page may show of a saved secret: that it is set, and its last four characters
    when it is long enough for that to give nothing away."""
    if not secret:
        return ""
    return f"…{secret[-4:]}" if len(secret) >= 16 else "set"


class EncryptedTextField(models.TextField):
    """A string stored as a Fernet token; the database never holds the plaintext."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(str(value))


class EncryptedJSONField(models.TextField):
    """A JSON value (credentials) stored as one Fernet token of its JSON text."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else json.loads(decrypt(value)) if value else None

    def to_python(self, value: Any) -> Any:
        # Python values pass; a string is JSON text (loaddata reads what value_to_string wrote).
        return json.loads(value) if isinstance(value, str) else value

    def get_prep_value(self, value: Any) -> str | None:
        return None if value is None else encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj: Any) -> str:
        # dumpdata, like the model, sees plaintext (a dump is as secret as the keys); written
        # as JSON so that loaddata encrypts it again under the current key.
        return json.dumps(self.value_from_object(obj), sort_keys=True)


# (app_label.ModelName, field name) of columns that hold encrypt()ed text in a plain field.
_manual_columns: set[tuple[str, str]] = set()


def encrypted_column_register(model_label: str, field: str) -> None:
    _manual_columns.add((model_label, field))


# (app_label.ModelName, JSON field, keys): a library's JSON column where only some keys hold
# encrypt()ed text (allauth's authenticators: a TOTP "secret", a recovery-codes "seed").
_json_keys: dict[tuple[str, str], tuple[str, ...]] = {}


def encrypted_json_keys_register(model_label: str, field: str, keys: tuple[str, ...]) -> None:
    _json_keys[(model_label, field)] = tuple(keys)


def encrypted_columns() -> list[tuple[type[models.Model], str]]:
    """Every column holding our tokens: the Encrypted*Field ones and the registered ones."""
    from django.apps import apps

    found = [(model, f.name) for model in apps.get_models() for f in model._meta.concrete_fields
             if isinstance(f, (EncryptedTextField, EncryptedJSONField))]
    found += [(apps.get_model(label), field) for label, field in sorted(_manual_columns)]
    return found


def encrypted_columns_rotate() -> int:
    """Re-encrypt every stored secret with the newest key; returns the values rewritten.

    Read and written as raw column values (``.values_list`` would decrypt through the
    field), row by row, so a value changed meanwhile is only rewritten if it is unchanged."""
    from django.db import connection as db

    count = 0
    for model, field in encrypted_columns():
        column = model._meta.get_field(field).column
        table = db.ops.quote_name(model._meta.db_table)
        quoted = db.ops.quote_name(column)
        with db.cursor() as cursor:
            cursor.execute(f"SELECT id, {quoted} FROM {table}")  # noqa: S608 (names quoted)
            rows = cursor.fetchall()
            for pk, value in rows:
                if not value:
                    continue
                new = reencrypt(value)
                cursor.execute(f"UPDATE {table} SET {quoted} = %s WHERE id = %s AND {quoted} = %s",  # noqa: S608
                               [new, pk, value])
                count += cursor.rowcount
    return count + _json_keys_rotate()


def _json_keys_rotate() -> int:
    """Rotation for the registered JSON keys: through the ORM (a JSON column reads back as a
    dict on every database), each row rewritten only if it is still what was read."""
    from django.apps import apps

    count = 0
    for (label, field), keys in sorted(_json_keys.items()):
        model = apps.get_model(label)
        for pk, data in model._base_manager.values_list("pk", field):
            if not isinstance(data, dict):
                continue
            new = {k: reencrypt(v) if k in keys and isinstance(v, str) and v else v
                   for k, v in data.items()}
            if new != data:
                count += model._base_manager.filter(pk=pk, **{field: data}).update(
                    **{field: new})
    return count
