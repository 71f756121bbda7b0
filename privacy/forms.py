from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import forms

from .retention import FIELDS


class ConsentForm(forms.Form):
    notice_version = forms.IntegerField(widget=forms.HiddenInput)
    signed_name = forms.CharField(
        label="Type your full name to sign", max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    agree = forms.BooleanField(
        label="I have read the notice and agree to the processing of my photos and face data "
        "as described.",
        required=False,  # checked by the service so the message is ours
    )


class PaperConsentForm(forms.Form):
    notice_version = forms.IntegerField(widget=forms.HiddenInput)
    signed_name = forms.CharField(label="Name as signed on the paper release", max_length=200)
    agree = forms.BooleanField(
        label="I hold this person's signed paper release of this notice version.", required=False
    )


class NoticeForm(forms.Form):
    body = forms.CharField(
        label="Notice text", widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Who processes the data, the retention schedule and how to withdraw are "
        "always added below your text.",
    )


def days_field_name(hours_name: str) -> str:
    """The form's field for a policy value kept in hours: ``exports_hours`` → ``exports_days``."""
    return hours_name.removesuffix("_hours") + "_days"


def days_from_hours(hours: int | None) -> Decimal | None:
    """As an admin reads it: whole days where whole, else to the hundredth."""
    if hours is None:
        return None
    return Decimal(hours // 24) if hours % 24 == 0 else (Decimal(hours) / 24).quantize(
        Decimal("0.01"))


class RetentionPolicyForm(forms.Form):
    """Days per data type, as people think of retention; the policy keeps hours as it always
    did (``hours()``), and the service checks the ceiling and the relations between them."""

    def __init__(self, *args, initial_hours: dict[str, int | None] | None = None,
                 **kwargs) -> None:
        if initial_hours is not None:
            kwargs["initial"] = {days_field_name(name): days_from_hours(value)
                                 for name, value in initial_hours.items()}
        super().__init__(*args, **kwargs)
        for name, (what, clock) in FIELDS.items():
            optional = name == "headshots_hours"
            self.fields[days_field_name(name)] = forms.DecimalField(
                label=f"{what} (days {clock})", min_value=0, max_digits=8, decimal_places=2,
                required=not optional,
                help_text="Leave empty to keep while the person is a member." if optional
                else "")

    def hours(self) -> dict[str, int | None]:
        """The cleaned values in the policy's unit: hours, rounded to the nearest."""
        values: dict[str, int | None] = {}
        for name in FIELDS:
            days = self.cleaned_data[days_field_name(name)]
            values[name] = None if days is None else int(
                (days * 24).to_integral_value(rounding=ROUND_HALF_UP))
        return values


class LeaverPolicyForm(forms.Form):
    leaver_headshots = forms.ChoiceField(
        label="A leaver's approved headshot", widget=forms.RadioSelect,
        choices=[("delete", "Delete it with everything else"),
                 ("keep", "Keep it, until the headshot retention period ends")],
        help_text="Selfies, face data, trained models and unchosen photos of a leaver are "
                  "always erased.")


class ErasureConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that my photos, headshots and face data will be deleted and "
              "cannot be recovered.", required=False)


class CompanyCloseForm(forms.Form):
    slug = forms.CharField(label="Type the company's address name to confirm", max_length=60)
