"""Browser-test helper: has an <img> really loaded?"""

from __future__ import annotations


def image_loaded(locator, timeout_ms: int = 20_000) -> bool:
    """Whether the <img> behind `locator` finished loading a real picture.

    Images are `loading="lazy"` and thumbnails are rendered on first request, so
    the check scrolls the image into view and waits for the load to settle
    instead of reading `complete` the instant the element exists.
    """
    locator.scroll_into_view_if_needed()
    handle = locator.element_handle()
    locator.page.wait_for_function("img => img.complete", arg=handle, timeout=timeout_ms)
    return bool(handle.evaluate("img => img.naturalWidth > 0"))
