"""Credentials kept out of what the engine shows: /readyz, logs and error messages
print a backend's URL with its password replaced by `***`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# scheme://user:password@ inside free text (a driver's message may quote the URL)
_USER_INFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)\S+(?=@)")
# libpq also takes the password as a parameter: ?password=... or password=... in a DSN
_PARAMETER = re.compile(r"(?P<head>\bpassword=)[^&\s]+", re.IGNORECASE)


def masked_url(url: str) -> str:
    """`url` with its password as `***` (redis://:pw@host -> redis://:***@host)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not parseable as a URL: mask whatever looks like credentials
        return masked_text(url)
    query = _PARAMETER.sub(rf"\g<head>{MASK}", parts.query)
    if not password and query == parts.query:
        return url  # unchanged (rebuilding would turn sqlite:///a.db into sqlite:/a.db)
    if password:
        user_info, _, host = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{user_info.partition(':')[0]}:{MASK}@{host}")
    return urlunsplit(parts._replace(query=query))


def masked_text(text: str) -> str:
    """`text` with the password of every URL (or DSN) in it as `***`."""
    text = _USER_INFO.sub(lambda m: m["head"] + MASK, text)
    return _PARAMETER.sub(lambda m: m["head"] + MASK, text)
