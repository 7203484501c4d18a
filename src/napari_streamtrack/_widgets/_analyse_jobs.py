"""The Analyse widget's inputs and its jobs in worker threads (no Qt widgets here).

:class:`Source` is a main-thread snapshot of what an analysis reads (a store
file, or a layer's table); :func:`run_analysis`, :func:`write_kept`,
:func:`write_csv` and :func:`write_png` run in worker threads and return
what the widget shows. :func:`with_min_length` re-labels an analysis' kept
trajectories for another minimum length (the histogram and the layers'
hiding, before the new analysis arrives).
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from napari.layers import Points, Tracks

from streamtrack import analysis as core
from streamtrack import workflow
from streamtrack.exceptions import StoreError
from streamtrack.stores.detect import open_store

from .._layers import features_from_points, features_from_tracks
from ._common import one_line
from ._plots import MATPLOTLIB

# the CSV tables of an analysis (Analysis.write writes these and the figures)
CSV_FILES = ("emsd.csv", "imsd.csv", "drift.csv", "track_lengths.csv")
# the exported figures' size (inches) and resolution: Analysis.write's
EXPORT_SIZE, EXPORT_DPI = (6.4, 4.8), 100


class Cancelled(Exception):
    """Raised by the core's progress callback once Cancel was pressed."""


def store_of(layer) -> str | None:
    return (layer.metadata.get("streamtrack") or {}).get("store")


def is_linked(layer) -> bool:
    if isinstance(layer, Tracks):
        return True
    return isinstance(layer, Points) and "particle" in layer.features.columns


def base_name(name: str) -> str:
    for suffix in (" features", " tracks"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


@dataclass
class Source:
    """What an analysis reads, and the layers it concerns (main-thread snapshot)."""

    key: tuple  # ('store', abspath) or ('layer', id): results belong to one source
    name: str
    path: str | None = None  # a store file, streamed
    layer: object = None  # the chosen layer
    layers: list = field(default_factory=list)  # Points/Tracks showing these trajectories
    data: np.ndarray | None = None  # a layer without a store: its data and features
    features: pd.DataFrame | None = None
    kind: str = "points"


def layer_table(source: Source) -> pd.DataFrame:
    """The feature table of a layer without a store (worker thread)."""
    if source.kind == "tracks":
        return features_from_tracks(source.data, source.features)
    if "particle" not in source.features.columns:
        raise ValueError(f"The layer {source.name!r} is not linked (no 'particle' feature): "
                         "link it first (Link trajectories).")
    return features_from_points(source.data, source.features)


def probe(path: str) -> dict:
    """What the widget needs to know of a store before analysing it (worker thread)."""
    with open_store(path, mode="r") as store:
        return {"frames": len(store.frames), "units": workflow.units(store),
                "class": type(store).__name__}


def record_units(path: str, mpp: float, fps: float) -> str | None:
    """Record the units in the store; the reason why not (None: saved)."""
    if not os.access(path, os.W_OK):
        return "the store file is read-only"
    try:
        with open_store(path, mode="a") as store:
            workflow.save_units(store, mpp=mpp, fps=fps)
    except (StoreError, OSError, NotImplementedError, ValueError) as exc:
        return f"the store cannot be written ({one_line(exc)})"
    return None


def run_analysis(source: Source, options: dict, record: bool, progress):
    """One analysis (worker thread): ``(Analysis, where the units are recorded)``."""
    note = None
    if source.path and record:
        note = record_units(source.path, options["mpp"], options["fps"])
    if source.path:
        with open_store(source.path, mode="r") as store:
            result = core.analyse(store, progress=progress, **options)
    else:
        result = core.analyse(layer_table(source), progress=progress, **options)
    return result, note


def write_kept_store(source: Source, threshold: int, output: str, units: dict) -> dict:
    """``filter_stubs(store, threshold, output=new store)`` (worker thread)."""
    import shutil

    import streamtrack

    try:
        if source.path:
            with open_store(source.path, mode="r") as store:
                layout = type(store).__name__
                with workflow.new_store(output, layout) as out:
                    streamtrack.filter_stubs(store, threshold, output=out)
                    _record_kept(out, source, threshold, units)
                    frames = out.frames
                    rows = sum(len(out.get(t)) for t in frames)
        else:
            with workflow.new_store(output, "frames") as out:
                streamtrack.filter_stubs(layer_table(source), threshold, output=out)
                _record_kept(out, source, threshold, units)
                frames = out.frames
                rows = sum(len(out.get(t)) for t in frames)
    except BaseException:
        # the widget checked that the file was new: no half-written store is left
        for leftover in (output, output + ".chunks"):
            if os.path.isdir(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            elif os.path.exists(leftover):
                os.remove(leftover)
        raise
    return {"path": output, "frames": len(frames), "rows": rows}


def _record_kept(out, source, threshold, units):
    workflow.save_units(out, **units)
    out.save_metadata("filter_stubs", {"threshold": int(threshold),
                                       "source": source.path or source.name})


def write_csv_tables(analysis, folder: str) -> list[str]:
    paths = [os.path.join(folder, name) for name in CSV_FILES]
    analysis.emsd.to_csv(paths[0])
    analysis.imsd.to_csv(paths[1])
    analysis.drift.to_csv(paths[2])
    analysis.tracks.to_csv(paths[3])
    return paths


def write_plot_png(analysis, plot, path: str) -> list[str]:
    from matplotlib.figure import Figure

    with MATPLOTLIB:
        figure = Figure(figsize=EXPORT_SIZE, layout="constrained")
        plot(figure.add_subplot(), analysis)
        figure.savefig(path, dpi=EXPORT_DPI)
    return [path]


def with_min_length(analysis, min_length: int):
    """``analysis`` with its ``kept`` column for another minimum length (for the histogram
    and the layers, before the new analysis arrives)."""
    tracks = analysis.tracks.assign(kept=analysis.tracks["length"] >= min_length)
    return dataclasses.replace(analysis, min_length=min_length, tracks=tracks)
