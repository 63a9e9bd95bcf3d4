"""dsnb: see why RL fine-tuning sharpens a language model, and run differential smoothing.

Importing ``dsnb`` is instant and pulls in no torch: each submodule imports what it needs
when you use it. Start with ``dsnb.theory`` (numpy only) and notebooks/01.
"""

__version__ = "0.1.0"
