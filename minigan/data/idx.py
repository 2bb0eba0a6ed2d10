"""The IDX file format of MNIST-like datasets: ``read_idx`` and ``write_idx``."""
import gzip
import os
import zlib

import numpy as np

from .errors import DatasetFormatError

# IDX type codes (byte 3 of the magic number) -> big-endian NumPy dtype.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """Read an IDX file (raw or gzipped) into a NumPy array of its own dtype and shape.

    Layout: magic ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32 sizes,
    then the data, big-endian, C order. MNIST images are type 0x08 (uint8), ndim 3:
    magic 0x00000803; labels are 0x00000801. A malformed file raises DatasetFormatError.
    """
    path = os.fspath(path)

    def fail(what):
        raise DatasetFormatError(f"read_idx: {path}: {what}")

    with open(path, "rb") as f:
        raw = f.read()
    # NOTE: detect gzip by its magic bytes, not the name: files get renamed and unpacked.
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            fail(f"corrupt gzip data ({e})")

    if len(raw) < 4:
        fail(f"file has {len(raw)} bytes, too short for the 4-byte magic number")
    magic = int.from_bytes(raw[:4], "big")
    zeros, code, ndim = raw[:2], raw[2], raw[3]
    if zeros != b"\x00\x00":
        fail(f"bad magic number 0x{magic:08x}: must start with two zero bytes "
             "(not an IDX file?)")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        fail(f"bad magic number 0x{magic:08x}: unknown data type code 0x{code:02x} "
             f"(known: {known})")
    if ndim == 0:
        fail(f"bad magic number 0x{magic:08x}: zero dimensions")

    header = 4 + 4 * ndim
    if len(raw) < header:
        fail(f"header says {ndim} dimensions ({header} header bytes) "
             f"but the file has {len(raw)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        dims = "x".join(str(s) for s in shape)
        fail(f"header says {dims} = {expected} bytes but the file has {got}")

    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzipped when ``path`` ends in ``.gz`` (tests, tools)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    dtype = array.dtype.newbyteorder("=")
    if dtype not in codes:
        raise ValueError(f"write_idx: IDX has no type code for dtype {array.dtype}")
    header = bytes([0, 0, codes[dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[codes[dtype]]).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)
