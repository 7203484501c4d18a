"""Feature tables <-> layer data: the conversions the reader, writers and widgets share."""
import numpy as np
import pandas as pd
import pytest

from napari_streamtrack import _layers


def linked_table(n_frames=4, n=3, z=False):
    rng = np.random.default_rng(1)
    rows = []
    for t in range(n_frames):
        part = {"y": rng.random(n) * 50, "x": rng.random(n) * 50}
        if z:
            part = {"z": rng.random(n) * 5, **part}
        rows.append(pd.DataFrame({**part, "mass": rng.random(n) * 100, "frame": t,
                                  "particle": rng.permutation(n)}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("z", [False, True])
def test_points_round_trip(z):
    table = linked_table(z=z)
    data, features = _layers.points_data(table)
    assert data.shape == (len(table), 4 if z else 3)
    np.testing.assert_array_equal(data[:, 0], table["frame"])
    back = _layers.features_from_points(data, features)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)


@pytest.mark.parametrize("z", [False, True])
def test_tracks_are_sorted_by_particle_then_frame_and_round_trip(z):
    table = linked_table(z=z)
    data, features = _layers.tracks_data(table)
    order = np.lexsort((data[:, 1], data[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(data)))
    np.testing.assert_array_equal(features["particle"], data[:, 0])
    back = _layers.features_from_tracks(data, features.assign(track_id=data[:, 0]))
    want = table.sort_values(["frame", "particle"]).reset_index(drop=True)
    got = back.sort_values(["frame", "particle"]).reset_index(drop=True)
    assert list(got.columns) == list(table.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_clear_errors():
    table = linked_table()
    with pytest.raises(ValueError, match="'frame'"):
        _layers.points_data(table.drop(columns="frame"))
    with pytest.raises(ValueError, match="'y' and 'x'"):
        _layers.points_data(table.drop(columns="x"))
    with pytest.raises(ValueError, match="not linked"):
        _layers.tracks_data(table.drop(columns="particle"))
    with pytest.raises(ValueError, match="no particle id"):
        _layers.tracks_data(table.assign(particle=-1))
    with pytest.raises(ValueError, match="time axis"):
        _layers.features_from_points(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="whole numbers"):
        _layers.features_from_points(np.array([[0.5, 1.0, 2.0]]))
    with pytest.raises(ValueError, match=">= 0"):
        _layers.features_from_points(np.array([[-1.0, 1.0, 2.0]]))
    with pytest.raises(ValueError, match="feature rows"):
        _layers.features_from_points(np.zeros((3, 3)), pd.DataFrame({"m": [1.0]}))


def test_join_points_and_tracks():
    table = linked_table()
    points = table.drop(columns="particle").sample(frac=1, random_state=0)
    tracks = table[["frame", "y", "x", "particle"]]
    joined = _layers.join_points_tracks(points, tracks)
    pd.testing.assert_frame_equal(joined.sort_index(), table[joined.columns], check_dtype=False)
    with pytest.raises(ValueError, match="same features"):
        _layers.join_points_tracks(points.iloc[1:], tracks)
    moved = tracks.assign(x=tracks["x"] + np.r_[1.0, np.zeros(len(tracks) - 1)])
    with pytest.raises(ValueError, match="no track vertex"):
        _layers.join_points_tracks(points, moved)
