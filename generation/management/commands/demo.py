from __future__ import annotations

from django.core.management.base import BaseCommand

from core.rls import rls_bypass

from ...demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Seed the demo company (Acme) and print how to sign in. Re-running starts it afresh."

    @rls_bypass("operator command: seeds the demo company afresh (retiring the last one)")
    def handle(self, *args: object, **options: object) -> None:
        demo = demo_seed()
        slug = demo.company.slug
        self.stdout.write(self.style.SUCCESS(f"Demo company “{demo.company.name}” is ready."))
        self.stdout.write(f"  Admin dashboard:  /c/{slug}/admin/")
        self.stdout.write(f"  Owner sign-in:    {demo.owner.email} / {DEMO_PASSWORD}")
        self.stdout.write(f"  Admin sign-in:    {demo.admin.email} / {DEMO_PASSWORD}")
        self.stdout.write(f"  Invite link (anyone @acme.example): {demo.invite_link_url}")
        for email, url in demo.employee_invite_urls.items():
            self.stdout.write(f"  Personal invitation for {email}: {url}")
        self.stdout.write("  Employees sign in with e-mailed links; the e-mails print to this terminal.")
