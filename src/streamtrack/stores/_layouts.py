"""The names that make up each store layout on disk, in one place.

trackpy's three layouts are told apart by their node names (trackpy reads
and writes the same names, so they must not change). Our own records (the
layout marker, the chunked store's entry file and chunk attributes) live in
root attributes trackpy ignores. Every module that writes or recognises a
layout takes its names from here; nothing here imports anything.
"""

#: layout name -> the class that reads and writes it
CLASSES = {"frames": "PandasHDFStore", "big": "PandasHDFStoreBig",
           "single": "PandasHDFStoreSingleNode", "chunked": "PandasHDFStoreChunked"}

# -- trackpy's layouts -----------------------------------------------------------
#: node of frame n in PandasHDFStore(Big): ``Frame_<n>``
FRAME_PREFIX = "Frame_"
#: PandasHDFStoreBig's list of frames (listing 10^4+ nodes is slow in HDF5)
CACHE_KEY = "_Frames_Cache"
#: PandasHDFStoreSingleNode's one table (also every chunk file's)
SINGLE_KEY = "FrameData"

#: root attribute in which our stores of trackpy's layouts name their layout
#: (trackpy ignores root attributes): a PandasHDFStoreBig run cut short has
#: dropped its ``_Frames_Cache`` and would otherwise look like a PandasHDFStore
LAYOUT_ATTR = "streamtrack__layout"

# -- the chunked layout ------------------------------------------------------------
#: root attribute of the chunked store's entry file: its layout record (JSON)
CHUNKED_ATTR = "streamtrack_chunked"
#: the entry file's record again, in the chunks folder: rebuilds a lost entry file
LAYOUT_FILE = "layout.json"
#: each chunk is a trackpy PandasHDFStoreSingleNode file
CHUNK_KEY = SINGLE_KEY
#: a chunk file's frames, row ranges and processed marks (JSON)
INDEX_ATTR = "streamtrack_chunk_index"
#: crc32 of a chunk's index text and table rows
CRC_ATTR = "streamtrack_chunk_crc"


def is_frame_node(name) -> bool:
    """Whether ``name`` is a trackpy frame node, ``Frame_<n>``."""
    return name.startswith(FRAME_PREFIX) and name[len(FRAME_PREFIX):].lstrip("-").isdigit()
