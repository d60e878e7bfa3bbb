"""RepoHub: a self-hosted hub for machine-learning models and datasets."""

__version__ = "0.1.0"
