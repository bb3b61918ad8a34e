"""Frame extraction: every Nth frame of a generated 1080p video, labelport against Debian's
``ffmpeg`` doing the same extraction (the floor), with each run's peak RSS.

    .venv/bin/python bench/video_bench.py          # 1920x1080, 180 s at 30 fps, every 5th
    .venv/bin/python bench/video_bench.py --seconds 20 --runs 3
    .venv/bin/python bench/video_bench.py --seconds 30 --videos 4   # several videos at once

The clip (H.264, moving boxes, one track over its whole length) is generated once with PyAV
under ``bench/out/video/`` and reused. labelport runs the real export path in a fresh
subprocess: the frames stage (``frames=all``, ``frame_step``) and the media stage extracting
JPEGs, through a YOLO export with ``--media copy``. The floor is
``ffmpeg -i clip.mp4 -vf select='not(mod(n,N))' -fps_mode vfr -q:v 2 %06d.jpg``: it decodes
every frame too and encodes the same frames as JPEG. Peak RSS is each subprocess's
``ru_maxrss``; CPU is its user + system time.

``--videos K`` exports K videos (hard links to the clip, so K items) in one project, against
the floor run once per video one after another (one shell), and against labelport's sequential
path (one extraction thread: ``labelport.export.run.FramePool`` given ``workers=1``), to show
what extracting several videos at once on every core gives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "video"

_LABELPORT = """
import sys
from pathlib import Path
from labelport.domain.geometry import Box
from labelport.domain.model import Annotation, ItemRecord, ProjectInfo
from labelport.domain.schema import LabelClass, LabelSchema
from labelport.domain.source import MemorySource
from labelport.export.frames import FrameSelection
from labelport.export.media import MediaMode
from labelport.export.pipeline import ExportRequest, run_pipeline
from labelport.video.probe import video_item

out, step, workers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
if workers:  # the sequential path, for comparison: one extraction thread
    import functools
    import labelport.export.run
    from labelport.export.frame_pool import FramePool
    labelport.export.run.FramePool = functools.partial(FramePool, workers=workers)
records = []
for video in map(Path, sys.argv[4:]):
    item = video_item(video)
    last = item.frame_count - 1
    track = (Annotation(label="box", geometry=Box(x=0, y=100, w=200, h=150), frame=0,
                        instance_id=1),
             Annotation(label="box", geometry=Box(x=1700, y=600, w=200, h=150), frame=last,
                        instance_id=1))
    records.append(ItemRecord(item=item, annotations=track))
source = MemorySource(project=ProjectInfo(name="bench"),
                      schema=LabelSchema(classes=(LabelClass(id=1, name="box"),)),
                      items=tuple(records))
run_pipeline(source, ExportRequest(format="yolo", media=MediaMode.COPY,
                                   frames=FrameSelection.ALL, frame_step=step), out)
"""


def _clip_path(width: int, height: int, seconds: int, fps: int) -> Path:
    return OUT / f"clip_{width}x{height}_{seconds}s_{fps}fps.mp4"


def make_clip(width: int, height: int, seconds: int, fps: int) -> Path:
    """The benchmark's clip, generated once: a gradient background and three moving boxes."""
    from labelport.video.clip import encode_video

    path = _clip_path(width, height, seconds, fps)
    if path.is_file():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    background = np.empty((height, width, 3), np.uint8)
    background[:] = np.linspace(30, 90, width, dtype=np.uint8)[None, :, None]

    def frames():  # noqa: ANN202 - a generator of arrays
        for n in range(seconds * fps):
            image = background.copy()
            for k, colour in enumerate(((230, 25, 75), (60, 180, 75), (0, 130, 200))):
                x = (n * (4 + 3 * k)) % (width - 200)
                y = 100 + 300 * k
                image[y:y + 150, x:x + 200] = colour
            yield image

    print(f"generating {path.name} ({seconds * fps} frames)...", flush=True)
    encode_video(path, frames(), frame_rate=Fraction(fps),
                 options={"preset": "veryfast", "crf": "23"})
    return path


def measure(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one subprocess."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--videos", type=int, default=1, help="videos in the project")
    parser.add_argument("--generate", action="store_true", help="only generate the clip")
    args = parser.parse_args()
    size = (args.width, args.height, args.seconds, args.fps)
    if args.generate:
        make_clip(*size)
        return
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is not installed (apt-get install ffmpeg): it is the floor")
    # generated in a child: a forked child starts with its parent's peak RSS, so this
    # process stays small for the measured runs
    subprocess.run([sys.executable, __file__, "--generate", "--width", str(args.width),
                    "--height", str(args.height), "--seconds", str(args.seconds), "--fps",
                    str(args.fps)], check=True)
    clip = _clip_path(*size)
    expected = -(-args.seconds * args.fps // args.step) * args.videos
    tools = ["ffmpeg", "labelport"] + (["labelport 1 thread"] if args.videos > 1 else [])
    rows = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(dir=OUT) as tmp:
            out = Path(tmp)
            videos = [out / f"video{k}.mp4" for k in range(args.videos)]
            for video in videos:
                os.link(clip, video)
            floor = " && ".join(
                f"mkdir {out}/ffmpeg{k} && {ffmpeg} -v error -threads 0 -i {video} -vf "
                f"'select=not(mod(n\\,{args.step}))' -fps_mode vfr -q:v 2 "
                f"{out}/ffmpeg{k}/%06d.jpg" for k, video in enumerate(videos))
            measured = [measure(["sh", "-c", floor])]
            for tool in tools[1:]:
                target = out / tool.replace(" ", "_")
                measured.append(measure([sys.executable, "-c", _LABELPORT, str(target),
                                         str(args.step), "1" if "1 thread" in tool else "0",
                                         *map(str, videos)]))
                written = len(list(target.rglob("*.jpg")))
                if written != expected:
                    raise SystemExit(f"expected {expected} frames; {tool} wrote {written}")
            floor_written = len(list(out.glob("ffmpeg*/*.jpg")))
            if floor_written != expected:
                raise SystemExit(f"expected {expected} frames; ffmpeg wrote {floor_written}")
            rows.append((run, measured))
    print(f"\n{args.videos} x {clip.name}: every {args.step}th frame ({expected} JPEGs), "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"{'run':>3} {'tool':<19} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12} "
          f"{'vs floor':>9}")
    for run, measured in rows:
        for tool, (wall, cpu, rss) in zip(tools, measured, strict=True):
            print(f"{run:>3} {tool:<19} {wall:>8.1f} {cpu:>8.1f} {rss:>12.0f} "
                  f"{wall / measured[0][0]:>8.2f}x")

if __name__ == "__main__":
    main()
