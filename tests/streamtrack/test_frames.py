"""open / pipeline / Frame: laziness, natural sort, frame numbers, errors."""
import numpy as np
import pytest
import tifffile
from PIL import Image

import streamtrack as st
from streamtrack import frames as frames_module


def write_pngs(folder, names, shape=(12, 16), rgba=False):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        data = np.full(shape + ((4,) if rgba else ()), i, np.uint8)
        Image.fromarray(data).save(folder / name)
    return folder


@pytest.fixture
def counted_reads(monkeypatch):
    calls = []
    real = frames_module._read_image_file

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(frames_module, "_read_image_file", counting)
    return calls


def test_glob_natural_sort_lazy_slicing(tmp_path, counted_reads):
    names = [f"frame{i}.png" for i in (10, 2, 1, 0, 11, 3)]
    write_pngs(tmp_path / "m", names)
    seq = st.open(str(tmp_path / "m" / "*.png"))
    assert [p.rsplit("/", 1)[1] for p in seq.filenames] == \
        ["frame0.png", "frame1.png", "frame2.png", "frame3.png", "frame10.png", "frame11.png"]
    assert len(seq) == 6 and counted_reads == []
    part = seq[1::2]
    assert len(part) == 3 and counted_reads == []  # slicing reads nothing
    f = part[1]
    assert f.frame_no == 3 and isinstance(f, st.Frame) and len(counted_reads) == 1
    assert seq[-1].frame_no == 5 and seq[::-1][0].frame_no == 5
    assert [fr.frame_no for fr in seq[[4, 0]]] == [4, 0]
    assert int(seq[4][0, 0]) == 0  # frame10.png was written with value 0 (name order)


def test_folder_skips_non_images_and_keeps_list_order(tmp_path):
    folder = write_pngs(tmp_path / "f", ["b.png", "a.png"])
    (folder / "notes.txt").write_text("not an image")
    seq = st.open(str(folder))
    assert len(seq) == 2 and seq.filenames[0].endswith("a.png")
    explicit = st.open([str(folder / "b.png"), str(folder / "a.png")])
    assert explicit.filenames[0].endswith("b.png")


def test_multipage_tiff_is_lazy(tmp_path):
    path = tmp_path / "stack.tif"
    data = np.arange(5 * 6 * 7, dtype=np.uint16).reshape(5, 6, 7)
    tifffile.imwrite(path, data)
    seq = st.open(str(path))
    assert len(seq) == 5
    assert np.array_equal(seq[3], data[3]) and seq[3].frame_no == 3
    assert seq.frame_shape == (6, 7) and seq.dtype == np.uint16


def test_arrays_and_sequences(tmp_path):
    stack = np.random.default_rng(0).integers(0, 255, (6, 8, 9)).astype(np.uint8)
    seq = st.open(stack)
    assert np.array_equal(seq[2], stack[2]) and seq[2:][0].frame_no == 2
    rgb = st.open(np.zeros((3, 8, 9, 4), np.uint8))
    assert rgb[1].shape == (8, 9, 4)
    listed = st.open([stack[0], stack[1]])
    assert listed[1].frame_no == 1

    class FakeDask:  # duck-typed dask array: computes one frame at a time
        ndim = 3
        shape = stack.shape
        computed = []

        def __len__(self):
            return len(stack)

        def __getitem__(self, i):
            outer = self

            class Lazy:
                def compute(self):
                    outer.computed.append(i)
                    return stack[i]
            return Lazy()

        def compute(self):
            raise AssertionError("the whole array must never be computed")

    fake = FakeDask()
    dseq = st.open(fake)
    assert np.array_equal(dseq[4], stack[4]) and fake.computed == [4]


def test_real_dask_array_if_installed():
    da = pytest.importorskip("dask.array")
    stack = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)
    seq = st.open(da.from_array(stack, chunks=(1, 5, 6)))
    assert np.array_equal(seq[3], stack[3]) and seq[3].frame_no == 3


def test_pipeline_keeps_frame_numbers_and_is_lazy(tmp_path, counted_reads):
    write_pngs(tmp_path / "p", [f"{i}.png" for i in range(8)], rgba=True)
    calls = []

    @st.pipeline
    def green(image):
        calls.append(image.frame_no)
        return np.asarray(image)[:, :, 1]

    seq = green(st.open(str(tmp_path / "p" / "*.png")))[:5][::2]
    assert len(seq) == 3 and calls == [] and counted_reads == []
    out = seq[2]
    assert out.frame_no == 4 and out.shape == (12, 16) and calls == [4]
    assert int(out[0, 0]) == 4

    @st.pipeline
    def double(image):
        return image * 2

    assert double(seq)[1].frame_no == 2  # pipelines compose
    single = green(st.Frame(np.zeros((4, 4, 4), np.uint8), frame_no=9))
    assert single.shape == (4, 4)  # one image: applied directly


def test_pims_interoperability(tmp_path):
    pims = pytest.importorskip("pims")
    write_pngs(tmp_path / "q", [f"img{i}.png" for i in range(4)])
    reader = pims.open(str(tmp_path / "q" / "*.png"))
    seq = st.open(reader)
    assert len(seq) == 4 and seq[2].frame_no == 2
    features = st.batch(seq, 3, processes=1)
    assert list(features.columns)[-1] == "frame"


def test_frame_numbers_survive_views_not_arithmetic():
    f = st.Frame(np.zeros((4, 5, 3)), frame_no=7)
    assert f[:, :, 1].frame_no == 7
    assert not isinstance(f + 1, st.Frame)
    assert np.isscalar(f.sum())


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no files match"):
        st.open(str(tmp_path / "*.png"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        st.open(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        st.open(str(tmp_path / "nope.png"))
    bad = tmp_path / "bad"
    write_pngs(bad, ["0.png"])
    (bad / "1.png").write_bytes(b"garbage, not a PNG")
    seq = st.open(str(bad / "*.png"))
    with pytest.raises(ValueError, match="1.png"):
        seq[1]
    mixed = tmp_path / "mixed"
    write_pngs(mixed, ["0.png"], shape=(10, 10))
    write_pngs(mixed, ["1.png"], shape=(12, 10))
    seq = st.open(str(mixed))
    seq[0]
    with pytest.raises(ValueError, match=r"frame 1 .*\(12, 10\).*\(10, 10\)"):
        seq[1]
    with pytest.raises(ValueError, match="T, Y, X"):
        st.open(np.zeros((10, 10)))
    with pytest.raises(TypeError, match="glob pattern"):
        st.open(x for x in range(3))
    with pytest.raises(IndexError):
        st.open(np.zeros((2, 3, 3)))[5]
