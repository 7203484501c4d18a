"""What trackpy's three HDF5 layouts share: opening, safe writes, metadata, checkpoints.

:class:`_HDFStoreBase` opens a file (refusing an empty, foreign or damaged
one, or one holding another class's layout, with one line that names it),
guards every write (:meth:`_HDFStoreBase._writing`: room checked and reserved
first, everything flushed and checked after) and keeps the records of a run
(:class:`._records.RecordingStore`) where trackpy ignores them: metadata,
frames processed and linker checkpoints, all in the root group.
"""
import contextlib
import json
import os
import warnings

import numpy as np
import pandas as pd

from ..exceptions import StoreError
from . import _room, _tables
from ._layouts import CLASSES, LAYOUT_ATTR
from ._probe import check_hdf5_file, layout_of, mixed_error, open_error, store_layout
from ._records import RecordingStore

_META_PREFIX = "streamtrack_"
_PRIVATE = "streamtrack__"  # root attributes that are not metadata records
_PROCESSED = "streamtrack__processed"
_CHECKPOINT = "_streamtrack_checkpoint_"


def _merge_ranges(ranges):
    merged = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


class _HDFStoreBase(RecordingStore):
    """Base of :class:`PandasHDFStore`, its Big variant and :class:`PandasHDFStoreSingleNode`.

    A subclass names the layout it writes in ``_layout`` (a key of
    ``_layouts.CLASSES``, recorded in the file) and the layouts it opens in
    ``_accepts`` (None stands for a file without frames, which any class
    may open).
    """

    _layout = None
    _accepts = (None,)

    def __init__(self, filename, mode="a", t_column="frame", **kwargs):
        self.filename = os.fspath(filename)
        self.mode = mode
        self._t_column = t_column
        self._failure = None  # why the store was closed after a failed write
        self._refused = False  # a write was refused for want of room (and reported)
        self._reserved = False
        self._reserved_to = 0  # the file offset up to which disk blocks are reserved
        # the file's size on disk at the last check (None: ask the OS). Every
        # os.fstat gives up the GIL, and in batch the worker threads then keep
        # this thread waiting for it: one per frame, not four
        self._disk_size = None
        if mode not in ("a", "r", "r+", "w"):
            raise ValueError(f"mode must be 'a', 'r', 'r+' or 'w', got {mode!r}.")
        exists = os.path.exists(self.filename)
        if mode in ("r", "r+") and not exists:
            raise FileNotFoundError(f"no store at {self.filename!r}")
        if exists and mode != "w":
            check_hdf5_file(self.filename)  # empty or foreign: say so, write nothing
        elif exists and store_layout(self.filename) == "chunked":
            raise self._wrong_layout("chunked")  # mode='w' would orphan its chunks
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            try:
                self.store = pd.HDFStore(self.filename, mode, **kwargs)
            except Exception as exc:  # noqa: BLE001 - PyTables raises many kinds
                raise open_error(self.filename, exc) from None
        try:
            root = self.store.root
            found = layout_of(root, empty_by_marker=False)
            if found not in self._accepts:
                raise self._wrong_layout(found)
            attrs = root._v_attrs
            self._marked = (LAYOUT_ATTR in attrs._v_attrnamesuser
                            and str(attrs[LAYOUT_ATTR]) == self._layout)
        except BaseException:
            self.store.close()  # a refused file stays closed and unchanged
            raise

    def _wrong_layout(self, found):
        name = type(self).__name__
        if found == "mixed":
            return mixed_error(self.filename)
        what = {"frames": "Frame_<n> nodes", "big": "Frame_<n> nodes and a _Frames_Cache "
                "frame list", "single": "one FrameData table",
                "chunked": "the entry file of a chunked store, frames in "
                           f"{os.path.basename(self.filename)}.chunks/"}[found]
        return StoreError(f"{self.filename!r} holds a {CLASSES[found]} store ({what}); "
                          f"open it with {CLASSES[found]} (or streamtrack.open_store, "
                          f"which picks the class), not {name}; nothing was written.")

    @property
    def t_column(self):
        return self._t_column

    @property
    def _root(self):
        if self._failure is not None:
            raise StoreError(f"the store {self.filename!r} was closed after a failed write "
                             f"({self._failure}); open it again.")
        if not self.store.is_open:
            raise StoreError(f"the store {self.filename!r} is closed.")
        return self.store.root

    def _writable(self):
        self._root  # noqa: B018 - raises if closed or failed
        if self.mode == "r":
            raise StoreError(f"{self.filename!r} was opened read-only (mode='r'); open it "
                             "with mode='a' to put frames.")

    # -- writing safely -------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self, what, need, frame_no=None, check=True):
        """Guard one write: reserve room, then flush and check it all reached the disk.

        HDF5 cannot undo a write that fails half way: blocks it wrote in place
        already point at blocks it could not write, and PyTables ignores the
        error of a flush. So the room is checked (file size limit) and
        reserved (disk blocks) *before* HDF5 writes anything: when it is
        missing, the store refuses with nothing written and stays usable.
        Should a write fail all the same, the file is released without
        another HDF5 write and reopened to report what is readable.
        """
        self._writable()
        self._reserve(what, need)
        try:
            yield
            if not self._marked:
                self._root._v_attrs[LAYOUT_ATTR] = self._layout
                self._marked = True
            self.store.flush()
            if check:
                self._check_flushed()
            # else a small write: the next checked write's comparison covers it,
            # and the size kept from the last check is short by a few KiB at
            # most, well inside the slack every reservation carries
        except Exception as exc:
            if not _room.io_failure(exc):
                raise
            self._fail(what, exc, frame_no)

    def _reserve(self, what, need):
        fd = _tables.fileno(self.store)
        size = self._disk_size if self._disk_size is not None else os.fstat(fd).st_size
        limit = _room.file_size_limit()
        problem = None
        if limit is not None and size + need > limit:
            problem = (f"file size limit reached (ulimit -f allows {limit:,} bytes; the file "
                       f"has {size:,} and this write may need up to {need:,} more)")
        elif size + need > self._reserved_to:
            # reserve well ahead, so that most writes find their blocks already
            # reserved: each fallocate is a syscall that gives up the GIL, and
            # in batch the workers then keep this thread waiting to get it back
            ahead = max(need, _room.RESERVE_AHEAD)
            if limit is not None:
                ahead = max(need, min(ahead, limit - size))
            problem = _room.reserve_blocks(fd, size, ahead)
            if problem is not None and ahead > need:  # nearly full: this write alone
                ahead = need
                problem = _room.reserve_blocks(fd, size, need)
            if problem is None:
                self._reserved_to = size + ahead
        if problem is not None:
            self._refused = True
            error = StoreError(self._refusal(what, problem))
            error.reason = problem
            raise error
        self._reserved = True

    def _refusal(self, what, cause):
        return (f"cannot write {what} to {self.filename!r}: {cause}; nothing was written, "
                f"{_room.describe_frames(self.frames)}; free space or raise the limit, then "
                "rerun with --resume (in Python: resume=True)")

    def _check_flushed(self):
        end, size = _tables.sizes(self.store)
        if size < end:  # a write failed and PyTables' flush said nothing
            raise _room.WritesLost(size, end)
        self._disk_size = size

    def _fail(self, what, exc, frame_no=None):
        try:  # the frames stored before this write, as this process sees them
            before = [t for t in self.frames if t != frame_no]
        except Exception:  # noqa: BLE001 - that view may be broken too
            before = None
        cause = _room.cause(exc)
        self._abandon(cause)
        survey = _room.survey(type(self), self.filename, before)
        error = StoreError(
            f"cannot write {what} to {self.filename!r}: {cause}; HDF5 had begun the write "
            f"and could not finish it: {survey}; the file was left as it is (nothing "
            "deleted); free space or raise the limit, then copy the readable frames to a "
            "new store or rerun.")
        error.hdf5_error = exc  # the HDF5 error stack, for whoever needs it
        raise error from None

    def _abandon(self, cause):
        self._failure = cause
        _tables.close_without_writing(self.store)

    # -- the records of a run (RecordingStore), in the root group ------------------
    def _read_metadata(self):
        # JSON in root attributes, which trackpy ignores: files stay trackpy's
        attrs = self._root._v_attrs
        return {name[len(_META_PREFIX):]: json.loads(attrs[name])
                for name in attrs._v_attrnamesuser
                if name.startswith(_META_PREFIX) and not name.startswith(_PRIVATE)}

    def _write_metadata(self, name, text):
        with self._writing(f"metadata {name!r}", 2 * len(text) + _room.ROOM_ATTRIBUTE):
            self._root._v_attrs[_META_PREFIX + name] = text

    def _record_processed(self, frame_no):
        # ranges of frames in one root attribute: a run of 10^5 frames is one range
        ranges = self._processed_ranges()
        if ranges and ranges[-1][1] + 1 == frame_no:
            ranges[-1][1] = frame_no  # the usual case: the next frame in order
        elif not any(a <= frame_no <= b for a, b in ranges):
            ranges = _merge_ranges(ranges + [[frame_no, frame_no]])
        text = json.dumps(ranges)
        with self._writing(f"the mark that frame {frame_no} was processed",
                           2 * len(text) + _room.ROOM_ATTRIBUTE, check=False):
            self._root._v_attrs[_PROCESSED] = text

    def _processed_ranges(self):
        attrs = self._root._v_attrs
        if _PROCESSED not in attrs._v_attrnamesuser:
            return []
        return json.loads(attrs[_PROCESSED])

    def _processed(self):
        return [t for a, b in self._processed_ranges() for t in range(a, b + 1)]

    def _write_checkpoint(self, name, frame_no, payload):
        # one root node per name; the new one is written beside the old one first
        key = _CHECKPOINT + str(name)
        data = np.frombuffer(payload, np.uint8)
        with self._writing(f"the {name!r} checkpoint of frame {frame_no}",
                           2 * len(data) + _room.ROOM_FIXED):
            _tables.remove(self.store, key + "_new")
            _tables.write_array(self.store, key + "_new", data)
            _tables.replace(self.store, key, key + "_new")

    def _checkpoints(self, name):
        children = self._root._v_children
        # the "_new" node is there only when a save stopped before its swap
        for key in (_CHECKPOINT + str(name), _CHECKPOINT + str(name) + "_new"):
            if key in children:
                yield children[key].read().tobytes()

    def _before_close(self):
        pass

    def close(self):
        """Write what is pending and close the file; a no-op after a failed write.

        Raises
        ------
        StoreError
            The last writes could not reach the disk (the message says what is
            readable).
        """
        if self._failure is not None or not self.store.is_open:
            return
        if self.mode != "r":
            self._before_close()
            if self._failure is not None:
                return
            if self._reserved:  # give back reserved blocks beyond the end of the file
                try:
                    fd = _tables.fileno(self.store)
                    os.ftruncate(fd, os.fstat(fd).st_size)
                except OSError:
                    pass
        try:
            self.store.close()
        except Exception as exc:
            if not _room.io_failure(exc):
                raise
            self._fail("the last changes (on close)", exc)

    def __repr__(self):
        if self._failure is not None or not self.store.is_open:
            return f"<{type(self).__name__} {self.filename!r}, closed>"
        return f"<{type(self).__name__} {self.filename!r}, {len(self)} frames>"
