"""nnreg_keras: experiments on dropout and L2 regularization that anyone can rerun, read and adapt.

The lesson library, what the notebooks import (one concern per module): `data` (generated datasets,
train/validation/test splits, user files), `models` (Keras layers and regularizers Keras lacks),
`training` (seeding, fast full-batch training; import Keras from here: `from nnreg_keras.training
import keras` loads it with TensorFlow's start-up log kept quiet), `metrics` (numpy measurements),
`guards` (divergence checks), `rules` (the accepted values of every parameter, by name), `plots`
(figures), `formatting` (how numbers are written), `render` (tables, figures and findings as HTML,
for the notebook and the report alike), `recording` (the `Recorder`: the bridge to the pipeline),
`exceptions` (the errors a user can fix) and `quiet` (TensorFlow's log); and the lesson helpers
`subnetworks` (01), `reliance` (02), `scratch` and `twin` (03), `adaptive` (04) and `sweeps` (05).

`nnreg_keras.pipeline` turns notebooks into the report (papermill, landing, the results contract,
Jinja2); importing `nnreg_keras` or any lesson module loads none of it.
"""

from nnreg_keras import quiet  # noqa: F401  (TF_CPP_MIN_LOG_LEVEL before TensorFlow loads)

__version__ = "0.1.0"
