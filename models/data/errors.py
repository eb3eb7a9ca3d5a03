"""DatasetNotFound: the one error a loader raises for missing or malformed local files."""


class DatasetNotFound(FileNotFoundError):
    """str(e) is one line naming the path and what must be there."""
