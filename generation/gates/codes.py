"""Reason codes of the gates, each with the sentence people read.

The codes are stable machine words (stored on the candidate, printed by the check
commands, returned in the admin's audit view); the sentences are what a person sees.
Selfie refusals speak to the person who took the photo; candidate reasons speak to the
admin auditing why a photo was hidden.
"""

from __future__ import annotations

NOT_THE_PERSON = "not_the_person"
SECOND_PERSON = "second_person"
NO_FACE = "no_face"
FACE_CUT_OFF = "face_cut_off"
BLURRED = "blurred"
LOW_DETAIL = "low_detail"
BACKDROP_OFF = "backdrop_off"
COLOUR_CAST = "colour_cast"
FRAMING_OFF = "framing_off"
DIFFERENT_PERSON = "different_person"
# Selfie intake only.
FACE_TOO_SMALL = "face_too_small"
TOO_DARK = "too_dark"
OVEREXPOSED = "overexposed"

CANDIDATE_SENTENCES: dict[str, str] = {
    NOT_THE_PERSON: "The face does not match the person's selfies closely enough.",
    SECOND_PERSON: "Someone else appears in the photo (a second face, even partly or faintly).",
    NO_FACE: "No face could be found in the photo.",
    FACE_CUT_OFF: "Part of the head is cut off by the edge of the photo.",
    BLURRED: "The photo is blurred: it is much less sharp than the person's selfies.",
    LOW_DETAIL: "The face lacks real detail: it is pixelated, too small or looks painted.",
    BACKDROP_OFF: "Too much of the backdrop differs from the look's backdrop colour.",
    COLOUR_CAST: "The colours have a cast: neutral or skin tones are tinted.",
    FRAMING_OFF: "The face is not placed as the look asks (size, centre, eye line or tilt), "
                 "and cropping cannot fix it.",
    DIFFERENT_PERSON: "This selfie shows a different person from the other selfies.",
}

SELFIE_SENTENCES: dict[str, str] = {
    NO_FACE: "No face found. Face the camera in good light, without sunglasses or a mask.",
    SECOND_PERSON: "More than one person is in the photo. Take a selfie of just you.",
    FACE_TOO_SMALL: "Your face is too small in the photo. Hold the camera closer, about an "
                    "arm's length away.",
    FACE_CUT_OFF: "Part of your head is cut off at the edge of the photo. Centre your face "
                  "with some space around it.",
    BLURRED: "The photo is blurry. Hold the camera still and tap to focus on your face.",
    LOW_DETAIL: "The photo lacks detail (pixelated, heavily compressed or filtered). Upload "
                "the original photo from your camera.",
    TOO_DARK: "The photo is too dark. Face a window or a lamp.",
    OVEREXPOSED: "The photo is overexposed. Move out of direct sunlight or away from the flash.",
    DIFFERENT_PERSON: "This photo seems to show a different person from your other selfies. "
                      "Upload photos of yourself only.",
}

# Advice on an accepted selfie: usable, but the headshot will not be what the look wants.
TIGHT_CROP_ADVICE = ("This photo ends just below your chin, so your headshot can only be a "
                     "close-up. For the look your company chose, add a photo taken from a "
                     "little further away that also shows your shoulders.")


def candidate_reasons(codes: list[str]) -> list[dict[str, str]]:
    """Codes with their sentences, as stored on a candidate and shown in the audit view."""
    return [{"code": code, "message": CANDIDATE_SENTENCES.get(code, code)} for code in codes]


def selfie_messages(codes: list[str]) -> list[str]:
    return [SELFIE_SENTENCES.get(code, code) for code in codes]
