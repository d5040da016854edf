"""The one exception family of nnreg_keras: every message names what was wrong and what is accepted.

Each class carries the exit status `python -m nnreg_keras` returns for it, so a script or CI job can
tell a bad input from a failed notebook, a diverged training run or an unwritable report.
"""


class NnregError(Exception):
    """Base class: errors a user can fix by changing a parameter, a file or a profile."""

    exit_code = 2


class ParameterError(NnregError, ValueError):
    """A notebook parameter (from a profile, papermill's -p, or a call) has a bad value or name."""


class DatasetError(NnregError, ValueError):
    """A dataset name or a dataset file the user gave cannot be used."""


class UsageError(NnregError):
    """A command looks in a place that does not hold what it needs (no notebooks in the tutorials
    directory, no runs in the reports directory), or its environment cannot run a notebook (an
    unknown KERAS_BACKEND)."""


class NotebookError(NnregError, RuntimeError):
    """A tutorial notebook failed while it was executed (an error in a cell, a dead kernel, a timeout)."""

    exit_code = 3


class DivergenceError(NnregError, RuntimeError):
    """Training diverged: non-finite loss, exploding weights, or a collapse to chance level."""

    exit_code = 4


class ResultsError(NnregError, ValueError):
    """A results file does not follow the results contract."""

    exit_code = 5


class OutputError(NnregError, OSError):
    """An output under reports/ cannot be written (permissions, a full disk), or reports/ holds
    files this package did not write (it deletes only what it wrote, so it does not write there)."""

    exit_code = 6


class LockError(NnregError, RuntimeError):
    """Another run holds the lock on a notebook's outputs, and waiting was not asked for."""

    exit_code = 7
