"""Private files: never a public URL.

Local storage streams through a view that has already checked access; S3 answers
with a short-lived signed URL (``querystring_expire``) after the same check.
"""

from __future__ import annotations

from django.core.files.storage import storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from storages.backends.s3 import S3Storage


def private_file_response(key: str, *, content_type: str = "image/jpeg",
                          filename: str | None = None) -> HttpResponse:
    """The file at ``key`` for a request already allowed to have it; with ``filename``, as
    a download under that name."""
    storage = storages["default"]
    if isinstance(storage, S3Storage):
        parameters = ({"ResponseContentDisposition": f'attachment; filename="{filename}"'}
                      if filename else None)
        response: HttpResponse = HttpResponseRedirect(storage.url(key, parameters=parameters))
    else:
        try:
            handle = storage.open(key, "rb")
        except FileNotFoundError:  # erased meanwhile (its row goes next): gone, not an error
            raise Http404("No such file.") from None
        response = FileResponse(handle, content_type=content_type,
                                as_attachment=filename is not None, filename=filename or "")
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response
