from __future__ import annotations

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


def _hours_field(label: str, help_text: str, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=0, required=required, help_text=help_text)


class RetentionPolicyForm(forms.Form):
    """Hours per data type; the service checks the ceiling and the relations between them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, (what, clock) in FIELDS.items():
            optional = name == "headshots_hours"
            self.fields[name] = _hours_field(
                f"{what} (hours {clock})", "Leave empty to keep while the person is a member."
                if optional else "", required=not optional)


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
