"""userscore: score and tag users at scale on Spark."""

__version__ = "0.1.0"
