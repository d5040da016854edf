"""The one exception family of nnreg_keras: every message names what was wrong and what is accepted."""


class NnregError(Exception):
    """Base class: errors a user can fix by changing a parameter, a file or a profile."""


class ParameterError(NnregError, ValueError):
    """A notebook parameter (from a profile, papermill's -p, or a call) has a bad value or name."""


class DatasetError(NnregError, ValueError):
    """A dataset name or a dataset file the user gave cannot be used."""


class ResultsError(NnregError, ValueError):
    """A results file does not follow the results contract."""


class NotebookError(NnregError, RuntimeError):
    """A tutorial notebook failed while it was executed."""
