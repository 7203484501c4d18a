"""SIGKILL at random moments: the chunked store keeps every frame whose put returned.

A child process writes frames into a PandasHDFStoreChunked, then rewrites
them with a ``particle`` column (the linking pattern, which seals chunks over
existing ones), printing each frame number after ``put`` returned. The parent
kills it with SIGKILL at a random moment -- during puts, journal appends and
chunk seals alike -- then opens the store and checks every reported frame.
"""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd

import streamtrack as st

CHILD = textwrap.dedent("""
    import sys
    import numpy as np, pandas as pd
    import streamtrack as st

    def frame(t):
        rng = np.random.default_rng(t)
        n = 50 + t % 7 * 40
        return pd.DataFrame({"y": rng.random(n), "x": rng.random(n), "mass": rng.random(n),
                             "frame": np.int64(t)})

    store = st.PandasHDFStoreChunked(sys.argv[1], chunk_size=int(sys.argv[2]))
    start = len(store.frames)
    print("ready", flush=True)
    for t in range(start, 400):
        store.put(frame(t))
        print("put", t, flush=True)
    while True:  # write-back passes until killed
        for t in list(store.frames):
            df = store.get(t)
            df["particle"] = np.arange(len(df)) + t
            store.put(df)
            print("linked", t, flush=True)
""")


def expected(t, linked):
    rng = np.random.default_rng(t)
    n = 50 + t % 7 * 40
    df = pd.DataFrame({"y": rng.random(n), "x": rng.random(n), "mass": rng.random(n),
                       "frame": np.int64(t)})
    if linked:
        df["particle"] = np.arange(n) + t
    return df


def run_and_kill(script, path, chunk_size, delay):
    child = subprocess.Popen([sys.executable, str(script), str(path), str(chunk_size)],
                             stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
    first = child.stdout.readline()
    assert first.strip() == "ready", first
    reader.start()
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join(10)
    # a line the kill cut short ("put 1" of "put 123") proves nothing: only whole lines
    lines = [line.split() for line in lines if line.endswith("\n")]
    put = {int(words[1]) for words in lines if words[0] == "put"}
    linked = {int(words[1]) for words in lines if words[0] == "linked"}
    return put, linked


def test_sigkill_at_24_random_moments_loses_nothing_returned(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    rng = np.random.default_rng(2026)
    path = tmp_path / "crash.h5"
    returned, relinked = set(), set()
    kills_during_linking = 0
    for attempt in range(24):
        # mostly short delays: kill during the first writes, seals and rewrites
        delay = float(rng.uniform(0.0, 1.5))
        put, linked = run_and_kill(script, path, chunk_size=int(rng.choice([7, 50])),
                                   delay=delay)
        returned |= put
        relinked |= linked
        kills_during_linking += bool(linked)
        # the store opens (repairing itself) and holds every returned frame intact
        with st.PandasHDFStoreChunked(path) as store:
            frames = set(store.frames)
            assert returned <= frames, sorted(returned - frames)[:5]
            for t in sorted(frames):
                got = store.get(t)
                if t in relinked:
                    pd.testing.assert_frame_equal(got, expected(t, True))
                elif "particle" in got.columns:  # its put ran but was not reported
                    pd.testing.assert_frame_equal(got, expected(t, True))
                else:
                    pd.testing.assert_frame_equal(got, expected(t, False))
            assert set(range(len(frames))) == frames  # no holes: frames went in order
        # a reader-only open works as well
        with st.PandasHDFStoreChunked(path, mode="r") as store:
            assert set(store.frames) == frames
        if len(frames) >= 400 and attempt % 3 == 0:
            os.remove(path)  # start over now and then, so early phases get killed too
            returned, relinked = set(), set()
            import shutil

            shutil.rmtree(str(path) + ".chunks")
    assert kills_during_linking >= 3  # the rewrite phase was hit, not only the first puts
