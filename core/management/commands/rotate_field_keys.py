"""Re-encrypt every stored secret with the newest of FIELD_ENCRYPTION_KEYS (core/crypto.py).

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy,
run this command, then drop the old keys."""

from django.core.management.base import BaseCommand

from core.crypto import encrypted_columns_rotate
from core.rls import rls_bypass


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest FIELD_ENCRYPTION_KEYS key."

    @rls_bypass("operator command: re-encrypts the stored secrets of every company")
    def handle(self, *args, **options) -> None:
        count = encrypted_columns_rotate()
        self.stdout.write(f"Re-encrypted {count} stored secret(s).")
