"""Directory credentials and webhook signing secrets encrypted at rest (core/crypto.py).

The columns become text holding Fernet tokens; the rows already there are encrypted here,
read and written as raw column values (the new fields would try to decrypt the plaintext).
Safe to run again: a value that already decrypts is left alone. Reversible: back to
plaintext."""

from django.db import migrations

import core.crypto

TABLES = (("teams_webhookendpoint", "secret"), ("generation_directoryconnection", "config"))


def _rewrite(schema_editor, change) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table, column in TABLES:
            quoted_table, quoted = (connection.ops.quote_name(table),
                                    connection.ops.quote_name(column))
            cursor.execute(f"SELECT id, {quoted} FROM {quoted_table}")
            for pk, value in cursor.fetchall():
                new = change(value)
                if new is not None and new != value:
                    cursor.execute(f"UPDATE {quoted_table} SET {quoted} = %s WHERE id = %s",
                                   [new, pk])


def encrypt_rows(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda value: None if not value or core.crypto.is_encrypted(value)
             else core.crypto.encrypt(value))


def decrypt_rows(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda value: core.crypto.decrypt(value)
             if value and core.crypto.is_encrypted(value) else None)


class Migration(migrations.Migration):

    dependencies = [
        ("delivery", "0001_models_moved_from_teams_and_generation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=core.crypto.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name="directoryconnection",
            name="config",
            field=core.crypto.EncryptedJSONField(default=dict),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
