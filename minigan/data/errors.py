"""The typed errors of minigan.data: a dataset that cannot be had, and a download that failed."""


class DatasetError(ValueError):
    """A dataset that cannot be had: the message says what is wrong and what to do, in one line."""


class DownloadError(OSError):
    """No mirror delivered a file with the expected SHA-256."""
