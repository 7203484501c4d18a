"""locate on bulk_water frames, one thread each: streamtrack vs trackpy (numba engine).

    python benchmarks/bench_locate.py [--frames 100]

Prints ms/frame for both and the speed ratio (min/median/max over rounds), and
checks the issue's equality criterion on every frame (equal counts; >= 99.9% of
values within 1e-6).
"""
import argparse
import warnings

from _common import bulk_water_files, rounds, single_thread, spread

single_thread()

import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import trackpy  # noqa: E402

import streamtrack  # noqa: E402
from streamtrack import _fastpath  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--diameter", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    trackpy.quiet()
    streamtrack.quiet()
    images = [iio.imread(f)[:, :, 1] for f in bulk_water_files(args.frames)]
    kw = dict(invert=True)
    # warm up both (JIT / cache load), outside the timing; streamtrack's kernels
    # get ready in the background, so wait for them (see bench_startup.py)
    trackpy.locate(images[0], args.diameter, engine="numba", **kw)
    streamtrack.locate(images[0], args.diameter, **kw)
    assert _fastpath.wait(("locate", 2, images[0].dtype.name))

    def run_trackpy():
        return [trackpy.locate(im, args.diameter, engine="numba", **kw) for im in images]

    def run_ours():
        return [streamtrack.locate(im, args.diameter, **kw) for im in images]

    times = rounds({"trackpy": run_trackpy, "ours": run_ours}, args.repeats)
    per_frame = 1e3 / len(images)
    ratios = [a / b for a, b in zip(times["trackpy"], times["ours"])]
    worst, close, total, counts_equal = 0.0, 0, 0, True
    for a, b in zip(run_ours(), run_trackpy()):
        counts_equal &= len(a) == len(b)
        for c in b.columns:
            x, y = a[c].to_numpy(float), b[c].to_numpy(float)
            scale = 1.0 if c in "yx" else np.maximum(np.abs(y), 1e-12)
            same_nan = np.isnan(x) & np.isnan(y)
            err = np.where(same_nan, 0.0, np.abs(x - y) / scale)
            worst = max(worst, float(np.nanmax(err)))
            close += int(np.sum(err <= 1e-6))
            total += len(err)
    n_features = np.mean([len(f) for f in run_ours()])
    print(f"locate, bulk_water {images[0].shape}, diameter {args.diameter}, "
          f"{len(images)} frames, ~{n_features:.0f} features/frame, one thread")
    print(f"  {args.repeats} interleaved rounds, min / median / max:")
    print(f"  trackpy 0.7 (numba engine): {spread(times['trackpy'], per_frame)} ms/frame")
    print(f"  streamtrack               : {spread(times['ours'], per_frame)} ms/frame")
    print(f"  speed-up (per round)      : {spread(ratios)} x  (target >= 3x)")
    print(f"  equality: counts equal in every frame: {counts_equal}; "
          f"{100 * close / total:.4f}% of values within 1e-6; worst {worst:.2e}")


if __name__ == "__main__":
    main()
