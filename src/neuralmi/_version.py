"""The version of neuralmi: its one home (the package, the build and checkpoints read it here)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
