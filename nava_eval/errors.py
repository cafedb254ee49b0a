"""What counts as the user's error: the CLI prints its message as one line, and `-v` adds the traceback.

Every error a user can fix (a bad option, file, config, run directory, weight file or submission)
is a `UserError`. Anything else is a bug or an environment failure, and the CLI lets it end in a
traceback instead of rewording it, so it is never mistaken for bad input.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, files, options or environment, with what to do in its message."""


class InvalidValue(UserError, ValueError):
    """A value the user gave (an option, a config key, a file's content) that cannot be used."""


class UnknownName(UserError, KeyError):
    """A name the user gave that no registry knows; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote its message
        return str(self.args[0]) if self.args else ""


class MissingFile(UserError, FileNotFoundError):
    """A file or folder the user named (or a command needs) that is not there."""
