from __future__ import annotations

from django import forms


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
