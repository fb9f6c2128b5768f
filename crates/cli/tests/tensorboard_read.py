"""Reads a TensorBoard run directory with TensorBoard's own loader and prints it as JSON.

Used by crates/cli/tests/tensorboard.rs to check `modelwatch export tensorboard`:
    python3 tensorboard_read.py RUN_DIR
prints {"scalars": {tag: [{step, wall_time, value}]},
        "histograms": {tag: [{step, wall_time, min, max, num, sum, sum_squares,
                              bucket_limit, bucket}]}}.
A missing `tensorboard` package is an error (exit status 1), never a skip.
"""

import json
import sys

from tensorboard.backend.event_processing import event_accumulator


def main(run_dir):
    # size_guidance 0 = keep every event (the default samples scalars down to 10,000).
    guidance = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    accumulator = event_accumulator.EventAccumulator(run_dir, size_guidance=guidance)
    accumulator.Reload()
    tags = accumulator.Tags()
    out = {"scalars": {}, "histograms": {}}
    for tag in tags[event_accumulator.SCALARS]:
        out["scalars"][tag] = [
            {"step": e.step, "wall_time": e.wall_time, "value": e.value}
            for e in accumulator.Scalars(tag)
        ]
    for tag in tags[event_accumulator.HISTOGRAMS]:
        out["histograms"][tag] = [
            {
                "step": e.step,
                "wall_time": e.wall_time,
                "min": e.histogram_value.min,
                "max": e.histogram_value.max,
                "num": e.histogram_value.num,
                "sum": e.histogram_value.sum,
                "sum_squares": e.histogram_value.sum_squares,
                "bucket_limit": list(e.histogram_value.bucket_limit),
                "bucket": list(e.histogram_value.bucket),
            }
            for e in accumulator.Histograms(tag)
        ]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
