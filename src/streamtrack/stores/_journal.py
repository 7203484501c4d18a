"""An append-only record file that survives SIGKILL, and a DataFrame codec for it.

Each record is ``MAGIC | kind (1 byte) | length (8 bytes) | crc32 (4 bytes) |
payload``. A record is appended with one ``write`` and counts once that call
returned: the bytes are then in the operating system's cache, which a killed
process cannot take back. A kill in the middle of a write leaves a torn last
record; :func:`replay` stops at the first record whose length or checksum does
not match, and a writer truncates the file there before appending.

Frames are encoded without pickle (a file must never run code when read): a
JSON header (columns, dtypes, row count) followed by the raw bytes of the
index and of each column. Strings and other objects go through JSON.
"""
from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pandas as pd

MAGIC = b"STJ1"
_HEAD = struct.Struct("<4sBQI")  # magic, kind, payload length, crc32

FRAME, PROCESSED, CHECKPOINT = 1, 2, 3


def encode_frame(df: pd.DataFrame) -> bytes:
    """The bytes of a DataFrame of numbers, booleans or strings (index kept)."""
    columns, blobs = [], []
    for name in df.columns:
        values = df[name].to_numpy()
        if values.dtype.kind in "biuf":
            values = np.ascontiguousarray(values)
            columns.append([str(name), values.dtype.str, "raw"])
            blobs.append(values.tobytes())
        else:  # strings, mixed objects: rare in feature tables
            columns.append([str(name), "object", "json"])
            blobs.append(json.dumps(values.tolist()).encode())
    index = np.ascontiguousarray(df.index.to_numpy())
    if index.dtype.kind not in "biuf":
        raise TypeError("frames with a non-numeric index cannot be journaled; "
                        "reset_index() first.")
    header = json.dumps({"n": len(df), "index": [df.index.name, index.dtype.str],
                         "columns": columns, "sizes": [len(b) for b in blobs]}).encode()
    return b"".join([struct.pack("<I", len(header)), header, index.tobytes(), *blobs])


def decode_frame(payload: bytes) -> pd.DataFrame:
    """Inverse of :func:`encode_frame`."""
    (size,) = struct.unpack_from("<I", payload)
    header = json.loads(payload[4:4 + size])
    at = 4 + size
    n = header["n"]
    index_name, index_dtype = header["index"]
    index_dtype = np.dtype(index_dtype)
    index = np.frombuffer(payload, index_dtype, n, at).copy()
    at += n * index_dtype.itemsize
    data = {}
    for (name, dtype, how), length in zip(header["columns"], header["sizes"]):
        chunk = payload[at:at + length]
        at += length
        data[name] = (np.frombuffer(chunk, np.dtype(dtype), n).copy() if how == "raw"
                      else np.array(json.loads(chunk), dtype=object))
    return pd.DataFrame(data, index=pd.Index(index, name=index_name),
                        columns=[c[0] for c in header["columns"]])


def replay(path: str):
    """``(offset, kind, payload)`` of each whole record, and the end of the last.

    Returns
    -------
    records : list of tuple
    end : int
        Offset just after the last good record: a torn tail starts there.
    """
    records, end = [], 0
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return records, 0
    with handle:
        data = handle.read()
    while end + _HEAD.size <= len(data):
        magic, kind, length, crc = _HEAD.unpack_from(data, end)
        start = end + _HEAD.size
        if magic != MAGIC or start + length > len(data):
            break
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            break
        records.append((start, kind, payload))
        end = start + length
    return records, end


class Journal:
    """Append records to ``path``, first cutting off a torn tail at ``end``."""

    def __init__(self, path: str, end: int):
        self.path = path
        self._handle = open(path, "ab")
        if self._handle.tell() != end:
            self._handle.truncate(end)
            self._handle.seek(end)

    def append(self, kind: int, payload: bytes) -> int:
        """Write one record; return the payload's offset once it is written."""
        offset = self._handle.tell() + _HEAD.size
        record = _HEAD.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload
        self._handle.write(record)
        self._handle.flush()  # into the OS: from here a SIGKILL cannot lose it
        return offset

    def size(self) -> int:
        return self._handle.tell()

    def close(self):
        self._handle.close()


def read_payload(path_or_handle, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset`` of a journal (an open handle or a path)."""
    if isinstance(path_or_handle, (str, os.PathLike)):
        with open(path_or_handle, "rb") as handle:
            handle.seek(offset)
            return handle.read(length)
    return os.pread(path_or_handle.fileno(), length, offset)


def encode_checkpoint(name, frame_no, arrays):
    """Bytes of a named checkpoint: the state after ``frame_no`` as named arrays."""
    blobs, header = [], {"name": name, "frame": int(frame_no), "arrays": []}
    for key, value in arrays.items():
        value = np.asarray(value)  # not ascontiguousarray: it makes scalars 1-D
        header["arrays"].append([key, value.dtype.str, list(value.shape)])
        blobs.append(value.tobytes())
    text = json.dumps(header).encode()
    return len(text).to_bytes(4, "little") + text + b"".join(blobs)


def decode_checkpoint(payload):
    """``(name, frame_no, arrays)`` of :func:`encode_checkpoint` bytes."""
    size = int.from_bytes(payload[:4], "little")
    header = json.loads(payload[4:4 + size])
    at, arrays = 4 + size, {}
    for key, dtype, shape in header["arrays"]:
        dtype = np.dtype(dtype)
        n = int(np.prod(shape)) if shape else 1
        arrays[key] = np.frombuffer(payload, dtype, n, at).reshape(shape).copy()
        at += n * dtype.itemsize
    return header["name"], header["frame"], arrays
