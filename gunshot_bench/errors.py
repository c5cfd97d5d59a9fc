"""The package's user-error type: raised where input is validated, printed as one line by the CLI.

A `UserError` says what is wrong with what the user gave (a file, a flag, a name) and what to
do. Every other exception is a bug, and the CLI lets it show its traceback. It subclasses
`ValueError` so that library callers who catch bad values keep working.
"""

from __future__ import annotations


class UserError(ValueError):
    """An error in the user's input (a file, a flag, a name): one line, exit code 2 in the CLI."""
