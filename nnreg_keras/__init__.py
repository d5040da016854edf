"""nnreg_keras: experiments on dropout and L2 regularization that anyone can rerun, read and adapt.

Modules, one concern each: `data` (generated datasets and user files), `params` (parameter checks
and profiles), `models` (Keras layers and regularizers), `training` (seeding, fast full-batch
training that reuses traced functions), `metrics` (numpy metrics, no backend), `guards` (divergence
checks), `progress` (the progress line), `analysis` (measurements), `plots` (figures), `formatting`
(how numbers are written), `show` (results shown inline in a notebook), `results` (the results
contract), `runner` and `landing` (execute notebooks, land their outputs in one step), `report`
(the HTML report), `cli` (command line), `exceptions` (the errors a user can fix), `quiet`
(TensorFlow's log); the lesson modules `subnetworks` (01), `reliance` (02), `scratch` and `twin`
(03), `adaptive` (04) and `sweeps` (05).
"""

import sys

from nnreg_keras import quiet  # noqa: F401  (TF_CPP_MIN_LOG_LEVEL before TensorFlow loads)

__version__ = "0.1.0"

if (
    "ipykernel" in sys.modules
):  # in a notebook: load Keras now, keeping TF's start-up lines out of the cells
    from nnreg_keras import training  # noqa: F401
