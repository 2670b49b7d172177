"""The one error type users see: a message that names the file, line or value at fault."""


class SlimpipeError(Exception):
    """Bad input or a failed precondition; the CLI prints the message and exits with status 2."""


def fail(message: str) -> "SlimpipeError":
    """Build the error so call sites read `raise fail(...)`."""
    return SlimpipeError(message)
