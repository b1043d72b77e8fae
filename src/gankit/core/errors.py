"""The one exception type a user should ever see as a message rather than a traceback."""


class GankitError(Exception):
    """A problem with the user's input or files: the message names it and says what to do.

    The CLI prints `error: <message>` and exits non-zero; library callers can catch it.
    """
