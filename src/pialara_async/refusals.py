"""What the services refuse, and why: domain errors, free of HTTP.

Each has one answer over HTTP, in the table of ``api/errors.py``; the
websocket and the command line read the same messages.
"""

from __future__ import annotations


class Refused(Exception):
    """A request the service declines; ``str()`` is the reason."""

    default = "refused"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or self.default)

    @property
    def reason(self) -> str:
        return str(self)


class NotFound(Refused):
    """No such thing, or not one the caller may know of."""

    default = "Not found"


class Forbidden(Refused):
    """The caller may see it but not do this."""

    default = "not allowed"


class EmailTaken(Refused):
    default = "A user with the given email already exists."


class WrongPassword(Refused):
    """A password given to confirm an action is not the account's; ``field``
    names the member it came in."""

    default = "The password is not correct."

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field


class RoleRuleBroken(Refused):
    """A change refused because it would break a rule about roles."""

    code = ""


class HasClients(RoleRuleBroken):
    default = ("this technician still has clients: an administrator must first assign them "
               "to another technician")
    code = "technician_has_clients"


class LastAdmin(RoleRuleBroken):
    default = "this is the last administrator: make another user an administrator first"
    code = "last_admin"


class TechnicianRequired(RoleRuleBroken):
    """A client needs a technician, and it must be an existing one."""

    default = "a client needs a technician"


class OnlyClientsHaveTechnicians(RoleRuleBroken):
    default = "only clients have a technician"


class MovieNotFound(NotFound):
    default = "no movie has this id"


class CommentNotFound(NotFound):
    default = "no comment has this id"


class NotYours(Forbidden):
    """The comment exists but belongs to someone else."""

    default = "this comment belongs to someone else"


class InUse(Refused):
    """A change refused because something else depends on what it would change."""

    default = "in use"


class InvalidImport(Refused):
    """A file refused whole; ``problems`` names each bad line."""

    default = "the file was not imported"

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__()
        self.problems = problems


class ConsentRequired(Refused):
    """Nothing can be recorded without a consent in force."""

    default = "no consent in force: read and accept the consent first"


class ConsentOutdated(InUse):
    """An acceptance of a version that is no longer the one in force."""

    default = "another version of the consent is in force: read it and accept that one"


class NoConsentText(InUse):
    default = "no consent text has been published yet"


class TooLarge(Refused):
    default = "the recording is too large"
