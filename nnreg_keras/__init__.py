"""nnreg_keras: experiments on dropout and L2 regularization that anyone can rerun, read and adapt.

Modules, one concern each: `data` (generated datasets and user files), `params` (parameter checks
and profiles), `models` (Keras layers and regularizers), `training` (seeding, fast full-batch
training), `metrics` (numpy metrics, no backend), `analysis` (measurements), `reliance` (what a
model relies on, feature by feature), `adaptive` (dropout as an adaptive L2 penalty, in formulas),
`scratch` (the numpy net in the course's conventions), `twin` (its Keras twin), `plots` (figures),
`results` (the results contract), `runner` (executes notebooks), `report` (the HTML report), `cli`
(command line), `exceptions` (the errors a user can fix), `quiet` (TensorFlow's log).
"""

import sys

from nnreg_keras import quiet  # noqa: F401  (TF_CPP_MIN_LOG_LEVEL before TensorFlow loads)

__version__ = "0.1.0"

if (
    "ipykernel" in sys.modules
):  # in a notebook: load Keras now, keeping TF's start-up lines out of the cells
    from nnreg_keras import training  # noqa: F401
