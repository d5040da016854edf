"""nnreg_keras: experiments on dropout and L2 regularization that anyone can rerun, read and adapt.

Modules, one concern each: `data` (datasets), `params` (parameter checks and profiles),
`models` (Keras building blocks), `training` (seeding, fast full-batch training), `analysis`
(measurements), `plots` (figures), `results` (the results contract), `runner` (executes notebooks),
`report` (the HTML report), `cli` (command line), `scratch` (the numpy twin).
"""
import os

# TensorFlow's C++ logger is quiet unless the user asked otherwise (must be set before TF loads).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
