"""digestbot: a self-hosted bot that sends researchers a personalized digest of new papers."""

__version__ = "0.1.0"
