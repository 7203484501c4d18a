"""Tracking accuracy on the ISBI 2012 particle tracking challenge's scenarios (issue 14).

    python benchmarks/bench_accuracy.py [--kinds vesicle microtubule]
        [--densities low mid high] [--snrs 1 2 4 7] [--frames 100]
        [--threshold 5] [--no-laptrack] [--detections locate|truth]
        [--out results/accuracy]

For each scenario (:func:`streamtrack.synthetic.isbi_scenario`; default all
24: 2 kinds x 3 densities x 4 SNRs, 512 x 512 px, 100 frames):

1. locate every frame with ``tp.batch`` (one thread). The settings come from
   the spot and noise model only, once per SNR
   (:func:`streamtrack.synthetic.isbi_locate_settings`): diameter 7 (spots
   of sigma 1.5 px), separation 4 (spots closer than that do not form two
   maxima anyway), minmass the larger of half a noise-free spot's mass and
   the 99th percentile of the masses found in pure background noise. Never
   tuned on the truth;
2. link with ``tp.link(features, search_range, memory=1)``; search_range is
   the motion's largest step (:func:`streamtrack._isbi.suggested_search_range`:
   6 px for the Brownian vesicles, 7 px for the directed microtubules);
3. link the **same detections** with laptrack (``LapTrack``: cutoff and gap
   closing cutoff ``search_range**2`` (squared euclidean), gaps of one
   missing frame like memory=1, no splitting or merging), so the two linkers
   are compared on equal detections;
4. write the truth and both results as GEFF (``tp.to_geff``), load them with
   traccuracy's GEFF loader (``traccuracy.loaders.load_geff_data``) and
   score them with its ``PointMatcher`` (one-to-one Hungarian matching per
   frame within ``--threshold`` px, default 5 px, the challenge's gate):
   ``BasicMetrics`` (detection and link precision/recall/F1; strict: an
   edge that memory bridged over a missed frame is a false positive, the
   two true edges it skips false negatives) and ``CTCMetrics`` (DET and LNK:
   they are computed from the matching alone, so the point matcher serves
   them; no segmentation masks are needed), plus the RMSE of the matched
   positions.

``--detections truth`` links the true positions instead of step 1's
detections: the linkers alone (run it with one SNR, e.g. ``--snrs 7``).

Prints one table per linker; ``--out PATH`` also writes PATH.json and PATH.md.
Run on one core: ``nice -n 19 taskset -c 1 python benchmarks/bench_accuracy.py``.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import warnings

from _common import single_thread

single_thread()
os.environ.setdefault("TQDM_DISABLE", "1")  # traccuracy's progress bars

import numpy as np  # noqa: E402

import streamtrack as tp  # noqa: E402
from streamtrack import _isbi  # noqa: E402
from streamtrack.synthetic import isbi_locate_settings, isbi_scenario  # noqa: E402

COLUMNS = ["scenario", "SNR", "density", "n truth", "det P", "det R", "det F1", "link P",
           "link R", "link F1", "DET", "LNK", "RMSE"]


def laptrack_link(features, search_range, n_frames):
    """``features`` with a ``particle`` column from laptrack (same detections)."""
    import networkx as nx
    from laptrack import LapTrack

    features = features.reset_index(drop=True)
    frame = features["frame"].to_numpy()
    rows = [np.flatnonzero(frame == t) for t in range(n_frames)]
    coords = [features.loc[r, ["y", "x"]].to_numpy(dtype=float).reshape(-1, 2) for r in rows]
    tracker = LapTrack(cutoff=search_range ** 2, gap_closing_cutoff=search_range ** 2,
                       gap_closing_max_frame_count=2, splitting_cutoff=False,
                       merging_cutoff=False)
    tree = tracker.predict(coords)
    particle = np.full(len(features), -1, dtype=np.int64)
    for pid, component in enumerate(nx.connected_components(tree.to_undirected())):
        for t, i in component:
            particle[rows[t][i]] = pid
    out = features.copy()
    out["particle"] = particle
    return out


def score(truth_geff, pred_geff, threshold):
    """traccuracy scores of ``pred_geff`` against ``truth_geff``, and the RMSE."""
    from traccuracy import run_metrics
    from traccuracy.loaders import load_geff_data
    from traccuracy.matchers import PointMatcher
    from traccuracy.metrics import BasicMetrics, CTCMetrics

    gt = load_geff_data(truth_geff, name="truth")
    pred = load_geff_data(pred_geff, name="prediction")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results, matched = run_metrics(gt, pred, PointMatcher(threshold=threshold),
                                       [BasicMetrics(), CTCMetrics()])
    basic, ctc = results[0]["results"], results[1]["results"]
    if matched.mapping:
        a = np.array([gt.get_location(g) for g, _ in matched.mapping])
        b = np.array([pred.get_location(p) for _, p in matched.mapping])
        rmse = float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))
    else:
        rmse = float("nan")
    return {"det P": basic["Node Precision"], "det R": basic["Node Recall"],
            "det F1": basic["Node F1"], "link P": basic["Edge Precision"],
            "link R": basic["Edge Recall"], "link F1": basic["Edge F1"],
            "DET": ctc["DET"], "LNK": ctc["LNK"], "RMSE": rmse,
            "n pred": basic["Total Pred Nodes"], "n truth edges": basic["Total GT Edges"]}


def run_scenario(kind, density, snr, args, folder):
    frames, truth = isbi_scenario(kind, density, snr, n_frames=args.frames, seed=args.seed)
    settings = isbi_locate_settings(snr)
    search_range = _isbi.suggested_search_range(kind)
    base = {"scenario": kind, "SNR": snr, "density": density, "n truth": len(truth)}
    name = f"{kind}_{density}_snr{snr}"
    truth_geff = os.path.join(folder, name + "_truth.geff")
    tp.to_geff(truth, truth_geff, overwrite=True)
    timings = {}
    start = time.perf_counter()
    if args.detections == "truth":
        # the true positions, rows shuffled within each frame: linking alone
        order = np.random.default_rng(args.seed).permutation(len(truth))
        features = truth.iloc[order].sort_values("frame", kind="stable")
        features = features[["frame", "y", "x"]].reset_index(drop=True)
    else:
        features = tp.batch(frames, settings["diameter"], minmass=settings["minmass"],
                            separation=settings["separation"], processes=1)
    timings["locate"] = time.perf_counter() - start
    start = time.perf_counter()
    linked = tp.link(features, search_range, memory=1)
    timings["link"] = time.perf_counter() - start
    rows = {}
    path = os.path.join(folder, name + "_streamtrack.geff")
    tp.to_geff(linked, path, overwrite=True)
    start = time.perf_counter()
    rows["streamtrack"] = {**base, **score(truth_geff, path, args.threshold)}
    timings["score"] = time.perf_counter() - start
    if not args.no_laptrack:
        start = time.perf_counter()
        theirs = laptrack_link(features, search_range, args.frames)
        timings["laptrack"] = time.perf_counter() - start
        path = os.path.join(folder, name + "_laptrack.geff")
        tp.to_geff(theirs, path, overwrite=True)
        rows["laptrack"] = {**base, **score(truth_geff, path, args.threshold)}
    for row in rows.values():
        row["settings"] = {**settings, "search_range": search_range, "memory": 1}
    rows["streamtrack"]["seconds"] = {k: round(v, 2) for k, v in timings.items()}
    return rows


def fmt(value):
    if isinstance(value, float):
        return "n/a" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def table(rows, markdown=False):
    cells = [[fmt(r[c]) for c in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        return "\n".join(lines + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(COLUMNS)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(COLUMNS, widths))]
    return "\n".join(lines + ["  ".join(v.rjust(w) for v, w in zip(c, widths)) for c in cells])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=list(_isbi.DENSITIES),
                        choices=list(_isbi.DENSITIES))
    parser.add_argument("--densities", nargs="+", default=["low", "mid", "high"],
                        choices=["low", "mid", "high"])
    parser.add_argument("--snrs", nargs="+", type=float, default=list(_isbi.SNRS))
    parser.add_argument("--frames", type=int, default=_isbi.N_FRAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=5.0,
                        help="PointMatcher distance gate in px (default 5, the challenge's)")
    parser.add_argument("--no-laptrack", action="store_true")
    parser.add_argument("--detections", choices=["locate", "truth"], default="locate",
                        help="'truth': link the true positions (linking alone; the SNR "
                             "then does not matter)")
    parser.add_argument("--out", help="also write OUT.json and OUT.md")
    parser.add_argument("--keep-geff", help="write the GEFF files into this folder (kept)")
    args = parser.parse_args()
    args.snrs = [int(s) if float(s).is_integer() else s for s in args.snrs]
    warnings.simplefilter("ignore")
    tp.quiet()
    results = {"streamtrack": [], "laptrack": []}
    total = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep_geff or scratch
        os.makedirs(folder, exist_ok=True)
        for kind in args.kinds:
            for density in args.densities:
                for snr in args.snrs:
                    start = time.perf_counter()
                    rows = run_scenario(kind, density, snr, args, folder)
                    for linker, row in rows.items():
                        results[linker].append(row)
                    s = rows["streamtrack"]
                    print(f"# {kind} {density} SNR {snr}: {time.perf_counter() - start:.1f} s "
                          f"{s['seconds']}; det F1 {s['det F1']:.3f}, link F1 "
                          f"{s['link F1']:.3f}"
                          + (f" (laptrack {rows['laptrack']['link F1']:.3f})"
                             if "laptrack" in rows else ""),
                          file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - total
    text = []
    for linker, rows in results.items():
        if rows:
            how = "tp.link" if linker == "streamtrack" else "laptrack"
            found = "locate" if args.detections == "locate" else "true positions"
            text.append(f"\n{linker} ({found} + {how} on the same detections), "
                        f"PointMatcher {args.threshold:g} px:")
            text.append(table(rows))
    print("\n".join(text))
    print(f"\ntotal {elapsed:.0f} s")
    if args.out:
        stem = os.path.splitext(args.out)[0]
        os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
        meta = {"detections": args.detections, "frames": args.frames, "seed": args.seed,
                "threshold": args.threshold, "seconds": round(elapsed, 1),
                "streamtrack": tp.__version__}
        with open(stem + ".json", "w") as f:
            json.dump({"meta": meta, **results}, f, indent=1, default=float)
        with open(stem + ".md", "w") as f:
            for linker, rows in results.items():
                if rows:
                    f.write(f"\n**{linker}** ({args.detections}; PointMatcher "
                            f"{args.threshold:g} px, "
                            f"{args.frames} frames)\n\n{table(rows, markdown=True)}\n")


if __name__ == "__main__":
    main()
