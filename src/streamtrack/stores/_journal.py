"""An append-only record file that survives SIGKILL, and a DataFrame codec for it.

Each record is ``MAGIC | kind (1 byte) | length (8 bytes) | crc32 (4 bytes) |
payload``. A record is appended with one ``write`` and counts once that call
returned: the bytes are then in the operating system's cache, which a killed
process cannot take back. A kill in the middle of a write leaves a *torn*
last record: a prefix of a record, which :func:`scan` recognises and a writer
cuts off before appending (that is the normal crash repair, and silent).

Anything else that does not read as a record is *damage* (flipped bytes, a
foreign write). :func:`scan` does not stop there: it resynchronises on the
next record whose header and checksum are valid, so every record after the
damage is recovered, and it returns the damaged byte ranges so that the
caller can say what was lost (:func:`guess_records`) and keep the damaged
file (:func:`set_aside`) before it rewrites anything (:func:`rewrite`).

Frames are encoded without pickle (a file must never run code when read): a
JSON header (columns, dtypes, row count) followed by the raw bytes of the
index and of each column. Strings and other objects go through JSON.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from typing import NamedTuple

import numpy as np
import pandas as pd

MAGIC = b"STJ1"
_HEAD = struct.Struct("<4sBQI")  # magic, kind, payload length, crc32

FRAME, PROCESSED, CHECKPOINT = 1, 2, 3
KINDS = (FRAME, PROCESSED, CHECKPOINT)


def encode_frame(df: pd.DataFrame) -> bytes:
    """The bytes of a DataFrame of numbers, booleans or strings (index kept)."""
    columns, blobs = [], []
    for name in df.columns:
        values = df[name].to_numpy()
        if values.dtype.kind in "biufc":
            values = np.ascontiguousarray(values)
            columns.append([str(name), values.dtype.str, "raw"])
            blobs.append(values.tobytes())
        else:  # strings, mixed objects: rare in feature tables
            columns.append([str(name), "object", "json"])
            blobs.append(json.dumps([None if v is pd.NA else v for v in values.tolist()])
                         .encode())
    index = np.ascontiguousarray(df.index.to_numpy())
    if index.dtype.kind not in "biuf":
        raise TypeError("PandasHDFStoreChunked.put() takes frames with a numeric index; "
                        "this one is not: reset_index(drop=True) first.")
    header = json.dumps({"n": len(df), "index": [df.index.name, index.dtype.str],
                         "columns": columns, "sizes": [len(b) for b in blobs]}).encode()
    return b"".join([struct.pack("<I", len(header)), header, index.tobytes(), *blobs])


def frame_columns(payload: bytes, dtypes=False) -> list:
    """The column names (or ``(name, dtype)`` pairs) of :func:`encode_frame`
    bytes, read from the header alone."""
    (size,) = struct.unpack_from("<I", payload)
    columns = json.loads(payload[4:4 + size])["columns"]
    return [(c[0], c[1]) if dtypes else c[0] for c in columns]


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


class Scan(NamedTuple):
    """What :func:`scan` found in a journal.

    Attributes
    ----------
    records : list of (offset, kind, payload)
        Every readable record, in file order (``offset`` is the payload's).
    end : int
        Just after the last readable record: a torn tail starts there.
    damaged : list of (start, stop)
        Byte ranges that hold no readable record and are not a torn tail.
    repaired : int
        Records read although their header was damaged (the checksum of the
        payload between its neighbours matched).
    data : bytes
        The file's bytes (to describe a damaged range).
    """

    records: list
    end: int
    damaged: list
    repaired: int
    data: bytes

    @property
    def clean(self):
        """True when a writer may append at ``end`` (only a torn tail, if anything)."""
        return not self.damaged and not self.repaired


def _plausible(kind, payload):
    if kind == PROCESSED:
        return len(payload) == 8
    if kind == FRAME:
        return len(payload) >= 12
    return len(payload) >= 4


def _record_at(data, pos, kinds):
    """``(kind, start, stop)`` of a valid record at ``pos``, else None."""
    if pos + _HEAD.size > len(data):
        return None
    magic, kind, length, crc = _HEAD.unpack_from(data, pos)
    start = pos + _HEAD.size
    if magic != MAGIC or kind not in kinds or start + length > len(data):
        return None
    payload = data[start:start + length]
    if zlib.crc32(payload) != crc or not _plausible(kind, payload):
        return None
    return kind, start, start + length


def _torn(data, pos):
    """Whether the bytes from ``pos`` to the end are the prefix of one record."""
    rest = len(data) - pos
    if rest < _HEAD.size:
        return data[pos:pos + 4] == MAGIC[:min(4, rest)]
    magic, _, length, _ = _HEAD.unpack_from(data, pos)
    return magic == MAGIC and pos + _HEAD.size + length > len(data)


def _whole_between(data, pos, stop, kinds):
    """A record filling ``pos:stop`` whose header is damaged but payload intact."""
    if stop - pos < _HEAD.size:
        return None
    _, kind, _, crc = _HEAD.unpack_from(data, pos)
    start = pos + _HEAD.size
    payload = data[start:stop]
    if zlib.crc32(payload) != crc:
        return None
    if kind not in kinds or not _plausible(kind, payload):
        # the kind byte is the damaged one: the only kind whose shape fits
        fits = [k for k in kinds if _plausible(k, payload)]
        if len(fits) != 1:
            return None
        kind = fits[0]
    return kind, start, stop


def scan(path: str, kinds=KINDS) -> Scan:
    """Read every record of a journal, past damaged ones.

    Parameters
    ----------
    path : str or bytes
        The journal (a missing file is an empty journal), or its bytes.
    kinds : tuple of int, optional
        The record kinds this journal holds; any other kind is damage.
    """
    if isinstance(path, (bytes, bytearray)):
        data = bytes(path)
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            data = b""
    records, damaged, repaired, end, pos = [], [], 0, 0, 0
    while pos < len(data):
        found = _record_at(data, pos, kinds)
        if found is not None:
            kind, start, stop = found
            records.append((start, kind, data[start:stop]))
            pos = end = stop
            continue
        # resynchronise: the next offset where a whole valid record starts
        stop = data.find(MAGIC, pos + 1)
        while stop >= 0 and _record_at(data, stop, kinds) is None:
            stop = data.find(MAGIC, stop + 1)
        if stop < 0:
            stop = len(data)
        whole = _whole_between(data, pos, stop, kinds)
        if whole is not None:  # only the header was hit: nothing lost
            kind, start, stop = whole
            records.append((start, kind, data[start:stop]))
            repaired += 1
            pos = end = stop
            continue
        if stop == len(data) and _torn(data, pos):
            break  # a write cut short by a kill: not damage
        damaged.append((pos, stop))
        pos = stop
    return Scan(records, end, damaged, repaired, data)


def guess_records(data: bytes, start: int, stop: int):
    """What the damaged range ``start:stop`` seems to have held.

    Walks record headers without trusting magic or checksum.

    Returns
    -------
    guesses : list of (kind, head)
        Each record's kind and the first 8 bytes of its payload (a frame
        number for FRAME and PROCESSED records); the bytes may be damaged.
    complete : bool
        Whether the walk accounted for the whole range.
    """
    guesses, pos = [], start
    while pos + _HEAD.size <= stop:
        _, kind, length, _ = _HEAD.unpack_from(data, pos)
        begin = pos + _HEAD.size
        if kind not in KINDS or begin + length > stop:
            break
        guesses.append((kind, bytes(data[begin:begin + 8])))
        pos = begin + length
    return guesses, pos == stop


def set_aside(path: str) -> str:
    """Keep the bytes of a damaged file as ``<path>.damaged`` (``.damaged.1``, ...).

    The copy is made before the file is rewritten, so a crash at any moment
    leaves the damaged bytes somewhere. A copy made by an earlier, interrupted
    attempt is reused. Returns the copy's path.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    n = 0
    while True:
        target = f"{path}.damaged" + (f".{n}" if n else "")
        if not os.path.exists(target):
            break
        with open(target, "rb") as handle:
            if handle.read() == data:
                return target
        n += 1
    tmp = target + ".part"
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)  # never a half copy under the kept name
    return target


def rewrite(path: str, records) -> list:
    """Replace ``path`` by a clean journal of ``(offset, kind, payload)`` records.

    Written to ``<path>.tmp``, synced, then moved over ``path``. Returns the
    payload offsets in the new file, in order.
    """
    tmp = path + ".tmp"
    offsets, at = [], 0
    with open(tmp, "wb") as out:
        for _, kind, payload in records:
            out.write(_HEAD.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload)
            offsets.append(at + _HEAD.size)
            at += _HEAD.size + len(payload)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return offsets


class Journal:
    """Append records to ``path``, first cutting off a torn tail at ``end``."""

    def __init__(self, path: str, end: int):
        self.path = path
        self._file = open(path, "ab")
        if self._file.tell() != end:
            self._file.truncate(end)
            self._file.seek(end)

    def append(self, kind: int, payload: bytes) -> int:
        """Write one record; return the payload's offset once it is written.

        A write that fails (a full disk, a file-size limit) raises, and what
        it left is cut off: the journal keeps ending with whole records.
        """
        start = self._file.tell()
        record = _HEAD.pack(MAGIC, kind, len(payload), zlib.crc32(payload)) + payload
        try:
            self._file.write(record)
            self._file.flush()  # into the OS: from here a SIGKILL cannot lose it
        except BaseException as exc:
            try:
                self._file.close()  # its buffer would retry the failed bytes later
            except OSError:
                pass
            os.truncate(self.path, start)
            self._file = open(self.path, "ab")
            if isinstance(exc, OSError):
                raise OSError(exc.errno, f"cannot write to the journal {self.path} "
                              f"({exc.strerror}): a full disk or a file-size limit? Every "
                              "earlier record is kept; free space and put again.") from None
            raise
        return start + _HEAD.size

    def size(self) -> int:
        return self._file.tell()

    def close(self):
        self._file.close()


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
