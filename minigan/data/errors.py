"""The typed errors of minigan.data: a dataset that cannot be had, a malformed dataset file,
a data folder that is not there, and a download that failed."""


class DatasetError(ValueError):
    """A dataset that cannot be had: the message says what is wrong and what to do, in one line."""


class DatasetFormatError(DatasetError):
    """A dataset file that is malformed: not IDX, sizes that disagree with its length, corrupt or
    truncated gzip, images or labels of the wrong type or count. The message names the file or
    its folder; replacing the file (or deleting a downloaded one) is the cure."""


class DataFolderError(DatasetError):
    """The folder named as a dataset's does not exist, or is not a folder."""


class DownloadError(OSError):
    """No mirror delivered a file with the expected SHA-256."""
