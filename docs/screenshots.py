"""Screenshots of the three widgets on bulk_water, as a user sees them.

    xvfb-run -s "-screen 0 1600x1000x24" python docs/screenshots.py [OUTDIR]

Opens the bulk_water PNGs in a visible 1600x1000 napari window (napari's own
reader, stacked), then, through the widgets as a user would, locates (green
channel, diameter 11, minmass 20, invert), links (search range 5, memory 3)
and analyses (100/285 µm per pixel, 24 frames/s, trajectories of 25+
positions), taking a screenshot of the whole window after each step:
``locate_bulk_water.png``, ``link_bulk_water.png``,
``analyse_bulk_water.png`` (default OUTDIR: ``docs/``).
"""
import glob
import os
import sys
import tempfile

import napari
from PIL import Image
from qtpy.QtCore import QEventLoop, QTimer

from napari_streamtrack._widgets.analyse import AnalyseWidget
from napari_streamtrack._widgets.link import LinkWidget
from napari_streamtrack._widgets.locate import LocateWidget

DATA = os.environ.get("STREAMTRACK_BULK_WATER",
                      os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                   "bulk_water"))


def wait_for(signal, seconds=600):
    """Turn the event loop until ``signal`` fires (as napari does while a worker runs)."""
    loop = QEventLoop()
    signal.connect(lambda *_: loop.quit())
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec_()


def settle(ms=1500):
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec_()


def shoot(viewer, path):
    settle()
    Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).save(path)
    print("wrote", path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="screenshots_")
    viewer = napari.Viewer()
    viewer.window._qt_window.resize(1600, 1000)  # noqa: SLF001 - a script, not the plugin
    viewer.open(sorted(glob.glob(os.path.join(DATA, "*.png"))), stack=True, name="bulk_water")
    settle(3000)

    locate = LocateWidget(viewer)
    dock = viewer.window.add_dock_widget(locate, name="Locate features")
    locate.channel.value = 1
    for name, value in {"diameter": 11, "minmass": 20, "invert": True}.items():
        locate.params[name].value = value
    locate.store_path.value = os.path.join(work, "bulk_water.h5")
    locate.run()
    wait_for(locate.done)
    viewer.dims.set_current_step(0, 150)
    shoot(viewer, os.path.join(out, "locate_bulk_water.png"))

    viewer.window.remove_dock_widget(dock)  # one widget a screenshot, as a user works
    link = LinkWidget(viewer)
    dock = viewer.window.add_dock_widget(link, name="Link trajectories")
    link.search_range.value, link.memory.value = 5, 3
    link.run()
    wait_for(link.done)
    shoot(viewer, os.path.join(out, "link_bulk_water.png"))

    viewer.window.remove_dock_widget(dock)
    analyse = AnalyseWidget(viewer)
    viewer.window.add_dock_widget(analyse, name="Analyse trajectories")
    settle()
    analyse.mpp.value, analyse.fps.value = 100 / 285.0, 24.0
    analyse.min_length.value = 25
    analyse.analyse_button.native.click()
    wait_for(analyse.done)
    shoot(viewer, os.path.join(out, "analyse_bulk_water.png"))
    viewer.close()


if __name__ == "__main__":
    main()
