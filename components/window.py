"""The window component: `loopline.windows.run_window` on the time the run starts."""

from typing import NamedTuple

from kfp import dsl

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def window_component(config: str, pipeline: str, start: str, end: str) -> NamedTuple("Window", start=str, end=str):
    """The [start, end) this run covers: as given, or, left empty (a recurring run), from the
    time it runs; every later task of the run takes it from here."""
    from collections import namedtuple

    import pandas as pd

    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.windows import run_window

    with reported():
        window = run_window(load_config(config), pipeline, start, end, pd.Timestamp.now(tz="UTC"))
    print(f"window: {pipeline} {window.start or '...'} to {window.end}")
    return namedtuple("Window", ["start", "end"])(window.start, window.end)
