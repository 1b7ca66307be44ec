"""Structured field lists (RFC 9651): a strict syntax check for relayed fields."""

from __future__ import annotations

import re

# RFC 9651 3.1.2: a key is lowercase, so `;Q=1` is not a parameter.
_KEY = r"[a-z*][a-z0-9_.*-]*"

# RFC 9651 3.3.4: a token starts with a letter or `*`; ":" and "/" may follow.
_TOKEN = r"[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*"

# RFC 9651 3.3.3: printable ASCII, with only `\"` and `\\` escaped.
_STRING = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"'

# RFC 9651 3.3.1, 3.3.2, 3.3.5 and 3.3.6.
_INTEGER = r"-?[0-9]{1,15}"
_DECIMAL = r"-?[0-9]{1,12}\.[0-9]{1,3}"
_BINARY = r":[A-Za-z0-9+/]*=*:"
_BOOLEAN = r"\?[01]"

_BARE_ITEM = f"(?:{_DECIMAL}|{_INTEGER}|{_STRING}|{_TOKEN}|{_BINARY}|{_BOOLEAN})"

# RFC 9651 3.1.2: `;key=value`, or a bare `;key` meaning true.
_PARAMETERS = f"(?:;[ ]*{_KEY}(?:={_BARE_ITEM})?)*"

# The list members a quota field carries: a token or string naming a policy,
# with its parameters. Inner lists (3.1.1) are not used by such fields.
_MEMBER = f"(?:{_STRING}|{_TOKEN}){_PARAMETERS}"

# RFC 9651 3.1 and 4.2.1: members separated by commas, with optional
# spaces or tabs around each comma.
_LIST = re.compile(f"{_MEMBER}(?:[ \\t]*,[ \\t]*{_MEMBER})*")


def is_structured_list(value: str) -> bool:
    """Whether ``value`` parses as a list of token or string items.

    Leading and trailing spaces are allowed, as RFC 9651 4.2 discards them;
    an empty value is not a list worth relaying.
    """
    return _LIST.fullmatch(value.strip(" \t")) is not None
