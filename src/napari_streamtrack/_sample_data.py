"""Sample data: a synthetic movie of Brownian particles with known truth."""
from __future__ import annotations

import numpy as np

# sized so that both widgets finish in a second or two with their defaults
SAMPLE = dict(n_particles=25, n_frames=60, shape=(256, 256), seed=1)
# the locate parameters that find every particle of the sample and nothing else
SAMPLE_LOCATE = dict(diameter=11, minmass=500)


def brownian_movie_and_truth(**overrides):
    """The sample movie as a (T, Y, X) uint8 array, and its truth table."""
    from streamtrack import synthetic

    frames, truth = synthetic.brownian_movie(**{**SAMPLE, **overrides})
    return np.stack([np.asarray(f) for f in frames]), truth


def brownian_sample():
    """npe2 sample data: the movie as an Image layer, truth in its metadata.

    Locate it with diameter 11 and minmass 500, link with search range 5 and memory 3.
    """
    movie, truth = brownian_movie_and_truth()
    meta = {
        "name": "brownian particles",
        "axis_labels": ("t", "y", "x"),
        "metadata": {"truth": truth, "suggested_locate": dict(SAMPLE_LOCATE),
                     "suggested_link": {"search_range": 5, "memory": 3}},
    }
    return [(movie, meta, "image")]
