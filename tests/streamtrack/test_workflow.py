"""streamtrack.workflow: what every front end runs, and the records it writes."""
import pandas as pd
import pytest

import streamtrack as tp
from streamtrack import workflow
from streamtrack.params import LINK, LOCATE


@pytest.fixture(scope="module")
def movie():
    return tp.synthetic.brownian_movie(n_particles=8, n_frames=6, shape=(96, 96), seed=4)


@pytest.mark.parametrize("layout", sorted(workflow.LAYOUTS))
def test_locate_into_writes_the_locate_record(tmp_path, movie, layout):
    frames, _ = movie
    with workflow.new_store(tmp_path / "a.h5", layout) as store:
        got = list(workflow.locate_into(frames[1:5], store, 11, minmass=500, processes=1,
                                        source="synthetic movie"))
        record = store.metadata["locate"]
        assert [t for t, _ in got] == [1, 2, 3, 4]
        pd.testing.assert_frame_equal(store.dump().reset_index(drop=True),
                                      tp.batch(frames[1:5], 11, minmass=500, processes=1))
    assert record == {**LOCATE.record({"diameter": 11, "minmass": 500}),
                      "version": tp.__version__, "source": "synthetic movie",
                      "channel": None, "frames": [1, 5]}


def test_locate_into_checks_before_writing(tmp_path, movie):
    frames, _ = movie
    with workflow.new_store(tmp_path / "a.h5", "chunked") as store:
        with pytest.raises(ValueError, match="percentile"):
            next(workflow.locate_into(frames, store, 11, percentile=101))
        assert len(store) == 0 and "locate" not in store.metadata


def test_select_channel(movie):
    frames, _ = movie
    import numpy as np

    rgb = tp.open(np.stack([np.stack([f, 2 * f, 0 * f], -1) for f in frames]))
    green = workflow.select_channel(rgb, 1)
    assert np.array_equal(green[2], 2 * frames[2]) and green[2].frame_no == 2
    with pytest.raises(ValueError, match="channel 3 is out of range"):
        workflow.select_channel(rgb, 3)[0]
    with pytest.raises(ValueError, match="not colour images"):
        workflow.select_channel(frames, 0)[0]
    with pytest.raises(ValueError, match="colour images.*channel"):
        workflow.check_first_frame(rgb, 11)


@pytest.mark.parametrize("predictor", ["none", "drift", "nearest"])
def test_link_in_place_equals_link_df_and_records(tmp_path, movie, predictor):
    frames, _ = movie
    with workflow.new_store(tmp_path / "a.h5", "frames") as store:
        features = tp.batch(frames, 11, minmass=500, processes=1, output=store).dump()
        linked = list(workflow.link_in_place(store, 5, predictor=predictor, memory=1))
        assert len(linked) == len(frames)
        got = store.dump()
        record = store.metadata["link"]
    cls = tp.predict.__dict__.get({"drift": "DriftPredict",
                                   "nearest": "NearestVelocityPredict"}.get(predictor, ""))
    expected = cls().link_df(features, 5, memory=1) if cls else tp.link_df(features, 5,
                                                                           memory=1)
    pd.testing.assert_series_equal(got["particle"].reset_index(drop=True),
                                   expected["particle"].reset_index(drop=True),
                                   check_names=False)
    assert record == {**LINK.record({"search_range": 5, "memory": 1}),
                      "predictor": cls.__name__ if cls else None,
                      "version": tp.__version__, "frames_linked": len(frames),
                      "complete": True}


def test_link_in_place_stopped_says_how_far(tmp_path, movie):
    frames, _ = movie
    with workflow.new_store(tmp_path / "a.h5", "chunked") as store:
        tp.batch(frames, 11, minmass=500, processes=1, output=store)
        run = workflow.link_in_place(store, 5)
        next(run), next(run)
        run.close()  # a Cancel
        assert store.metadata["link"]["frames_linked"] == 2
        assert store.metadata["link"]["complete"] is False
        with pytest.raises(ValueError, match="predictor"):
            next(workflow.link_in_place(store, 5, predictor="drift", resume=True))
        with pytest.raises(ValueError, match="search_range"):
            next(workflow.link_in_place(store, (1, 2, 3)))


def test_track_into_equals_locate_then_link(tmp_path, movie):
    frames, _ = movie
    with workflow.new_store(tmp_path / "t.h5", "chunked") as store:
        steps = list(workflow.track_into(frames, store, 11, 5, link_options={"memory": 1},
                                         minmass=500, processes=1, source="s"))
        tracked, meta = store.dump(), store.metadata
    assert [s[0] for s in steps] == list(range(len(frames)))
    expected = tp.link_df(tp.batch(frames, 11, minmass=500, processes=1), 5, memory=1)
    assert tracked["particle"].tolist() == expected["particle"].tolist()
    assert meta["locate"]["minmass"] == 500 and meta["locate"]["source"] == "s"
    assert meta["link"]["memory"] == 1 and meta["link"]["complete"] is True
    with tp.PandasHDFStoreChunked(tmp_path / "t.h5", mode="r") as store:
        assert workflow.trajectory_count(store) == expected["particle"].nunique()


def test_table_linking_equals_link_df(movie):
    frames, _ = movie
    features = tp.batch(frames, 11, minmass=500, processes=1)
    sparse = features[features["frame"] != 2]
    got = pd.concat(workflow.link_table(sparse, 5, memory=1))
    expected = tp.link_df(sparse, 5, memory=1)
    assert got["particle"].tolist() == expected["particle"].tolist()


def test_layouts_and_errors(tmp_path):
    assert workflow.store_class("chunked") is tp.PandasHDFStoreChunked
    assert workflow.store_class("PandasHDFStoreBig") is tp.PandasHDFStoreBig
    with pytest.raises(ValueError, match="frames, big, single, chunked"):
        workflow.store_class("zip")


def test_units_are_recorded_with_the_first_frame_and_checked_first(tmp_path, movie):
    frames, _ = movie
    with workflow.new_store(tmp_path / "u.h5", "chunked") as store:
        with pytest.raises(ValueError, match=r"mpp \(microns per pixel\) must be a positive"):
            next(workflow.locate_into(frames, store, 11, units={"mpp": -1}))
        assert len(store) == 0 and "units" not in store.metadata
        list(workflow.track_into(frames[:2], store, 11, 5, units={"mpp": 0.35, "fps": None},
                                 minmass=500, processes=1))
        assert workflow.units(store) == {"mpp": 0.35, "fps": None}
        assert workflow.save_units(store, fps=24.0) == {"mpp": 0.35, "fps": 24.0}
        assert store.metadata["units"] == {"mpp": 0.35, "fps": 24.0}


def test_command_line_records_units(tmp_path, movie):
    import tifffile

    from streamtrack.cli import main

    frames, _ = movie
    for i, frame in enumerate(frames):
        tifffile.imwrite(tmp_path / f"f{i}.tif", frame)
    out = tmp_path / "out.h5"
    assert main(["locate", str(tmp_path / "*.tif"), "-d", "11", "--minmass", "500",
                 "--mpp", "0", "-o", str(out), "-q"]) == 2
    assert not out.exists()
    assert main(["locate", str(tmp_path / "*.tif"), "-d", "11", "--minmass", "500",
                 "--mpp", "0.35", "--fps", "24", "-o", str(out), "-q"]) == 0
    with tp.PandasHDFStore(out, mode="r") as store:
        assert workflow.units(store) == {"mpp": 0.35, "fps": 24.0}
