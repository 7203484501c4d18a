"""Fixtures shared by the core's tests."""
import numpy as np
import pytest
from PIL import Image

import streamtrack as st


@pytest.fixture(scope="module")
def rgba_movie(tmp_path_factory):
    """A synthetic movie saved as RGBA PNGs, the particles in the green channel:
    ``(folder, frames, truth)``."""
    folder = tmp_path_factory.mktemp("movie")
    frames, truth = st.synthetic.brownian_movie(n_particles=12, n_frames=6, shape=(160, 200),
                                                diffusion=0.5, seed=3)
    for frame in frames:
        rgba = np.zeros(frame.shape + (4,), np.uint8)
        rgba[:, :, 1] = frame
        rgba[:, :, 3] = 255
        Image.fromarray(rgba).save(folder / f"img{frame.frame_no}.png")
    return folder, frames, truth
