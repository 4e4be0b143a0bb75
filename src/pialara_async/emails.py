"""E-mail addresses of accounts.

Any syntactically valid address is accepted, as the original MFlix accepted
it: its own front-end tests register addresses such as ``…@abc.x49``, and
teams test with reserved domains (``.test``, ``.example``). The domain is
kept in lower case (domains are case-insensitive; the part before the ``@`` is
kept as typed), so an account is found whatever the case of the domain typed.
"""

from __future__ import annotations

from typing import Annotated

import email_validator
from pydantic import AfterValidator, Field, StrictStr

# Syntax only: the library otherwise refuses the special-use and reserved
# domains of RFC 6761 (documented way to allow them: empty this list).
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

MAX_LENGTH = 254


class InvalidEmail(ValueError):
    pass


def normalize(address: str) -> str:
    """The address with its domain in lower case; ``InvalidEmail`` when not one."""
    try:
        checked = email_validator.validate_email(
            address, check_deliverability=False, globally_deliverable=False)
    except email_validator.EmailNotValidError as error:
        raise InvalidEmail(str(error)) from None
    return f"{checked.local_part}@{checked.ascii_domain.lower()}"


def _validated(address: str) -> str:
    try:
        return normalize(address)
    except InvalidEmail as error:
        raise ValueError(f"not a valid e-mail address: {error}") from None


EmailAddress = Annotated[StrictStr,
                         Field(max_length=MAX_LENGTH, json_schema_extra={"format": "email"}),
                         AfterValidator(_validated)]
