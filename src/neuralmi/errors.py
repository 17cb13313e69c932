"""The library's exception type for user errors (a leaf): bad inputs, settings or files, as opposed to bugs."""

__all__ = ["NeuralMIError"]


class NeuralMIError(ValueError):
    """A problem with the caller's input, settings or files; the message names it and how to fix it.

    A subclass of ``ValueError``, so ``except ValueError`` keeps catching it. The command line
    prints it as one sentence and exits with status 2; any other exception is a bug (status 1).

    >>> try:
    ...     raise NeuralMIError("x has NaN at row 3")
    ... except ValueError as err:
    ...     print(type(err).__name__, err)
    NeuralMIError x has NaN at row 3
    """
