"""The version of the prunebench-nni plugin distribution."""

__version__ = "0.1.0"
