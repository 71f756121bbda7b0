from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Q

from core.widgets import FastSelect

from .models import Company, Membership, Team


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(
        max_length=254,
        label="Work e-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Work e-mail",
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))


class JoinForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200)
    email = forms.EmailField(max_length=254, label="Work e-mail")


class InviteManyForm(forms.Form):
    emails = forms.CharField(
        label="E-mail addresses",
        help_text="Paste as many as you like, separated by commas, spaces or new lines.",
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="No team",
                                  widget=FastSelect)
    send_later = forms.BooleanField(
        label="Save now, send the e-mails later", required=False
    )

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_company(company)


class MemberAddForm(forms.Form):
    full_name = forms.CharField(label="Full name", max_length=200)
    email = forms.EmailField(max_length=254, label="Work e-mail")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="No team",
                                  widget=FastSelect)
    job_title = forms.CharField(label="Job title", max_length=120, required=False)
    send_sign_in_link = forms.BooleanField(
        label="E-mail them a sign-in link", required=False, initial=False
    )

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_company(company)


class CsvImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="Columns: email (required), name, team, job_title."
    )
    send_later = forms.BooleanField(label="Import now, send the invitations later", required=False)


class InviteLinkForm(forms.Form):
    label = forms.CharField(label="Label (for you)", max_length=120, required=False)
    allowed_domain = forms.CharField(
        label="Only this e-mail domain", max_length=253, required=False,
        help_text="For example acme.com. Leave empty to allow the company's domains.",
    )
    max_uses = forms.IntegerField(label="Usage cap", min_value=1, max_value=1_000_000,
                                  required=False)
    expires_at = forms.DateTimeField(
        label="Expires", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="No team",
                                  widget=FastSelect)

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_company(company)


class TeamForm(forms.Form):
    name = forms.CharField(label="Team name", max_length=120)


class MemberEditForm(forms.Form):
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="No team",
                                  widget=FastSelect)
    job_title = forms.CharField(label="Job title", max_length=120, required=False)
    role = forms.ChoiceField(
        choices=[(Membership.Role.MEMBER, "Member"), (Membership.Role.ADMIN, "Admin")],
        required=False,
    )

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.for_company(company)


class CompanySettingsForm(forms.Form):
    name = forms.CharField(label="Company name", max_length=200)
    allowed_domains = forms.CharField(
        label="Allowed e-mail domains", required=False,
        help_text="Comma-separated, e.g. acme.com, acme.co.uk. Empty allows any address.",
    )
    reminder_after_days = forms.IntegerField(
        label="Remind invitees after (days)", min_value=0, max_value=60,
        help_text="0 turns automatic reminders off.",
    )
    redo_limit = forms.IntegerField(
        label="Redos per person", min_value=0, max_value=20, required=False,
        help_text="How many times an employee may ask for new photos. Empty keeps the current.",
    )
    likeness_threshold = forms.FloatField(
        label="Likeness threshold", min_value=0.3, max_value=0.6, required=False,
        help_text="Face distance at or under which a photo counts as the person (lower is "
                  "stricter). Empty uses the calibrated default.",
    )


TRANSFER_MATCHES = 20  # people offered per search on the ownership transfer page


class TransferForm(forms.Form):
    """The new owner, found by a search (``query``: part of a name or e-mail) rather than
    picked from a menu of every member: a company of 10,000 people offered 8,500 options.
    Any joined member's id is accepted on submit (one lookup by id)."""

    new_owner = forms.ModelChoiceField(queryset=Membership.objects.none(), label="New owner",
                                       widget=forms.RadioSelect)

    def __init__(self, *args, company: Company, exclude_pk: int, query: str = "",
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        people = (Membership.objects.for_company(company).filter(joined_at__isnull=False)
                  .exclude(pk=exclude_pk))
        field = self.fields["new_owner"]
        field.queryset = people
        # Set after the queryset (whose setter lists every member as choices).
        field.widget.choices = [(pk, f"{name} <{email}>" if name else email)
                                for pk, name, email in self.matches(people, query)]

    @staticmethod
    def matches(people, query: str) -> list[tuple[int, str, str]]:
        query = query.strip()
        if not query:
            return []
        return list(people.filter(Q(sort_name__contains=query.lower())
                                  | Q(user__email__icontains=query))
                    .order_by("sort_name", "pk")
                    .values_list("pk", "user__full_name", "user__email")[:TRANSFER_MATCHES])
