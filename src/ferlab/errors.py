"""The one error family of ferlab: messages a user can act on."""


class FerlabError(Exception):
    """An error caused by input the user can fix (a file, an option, a name).

    The CLI prints it on one line and exits non-zero; the Python API raises it.
    """


class OptionError(FerlabError, ValueError):
    """An argument outside its allowed values (an unknown name or mode, a number out of range).

    Also a `ValueError`, as scikit-learn's argument errors are, so ``except ValueError`` catches it.
    """


class DataError(FerlabError):
    """A dataset file or folder is missing, malformed or holds a bad record."""


class ModelError(FerlabError):
    """An unknown model name, bad model options, or weights that do not fit."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
