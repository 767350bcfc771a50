"""Capture benchmark: N CameraFeeds reading at once, fps and CPU per feed.

    .venv/bin/python tests/bench/bench_capture.py --feeds 4 --fps 15 --size 1280x720 --duration 10
    .venv/bin/python tests/bench/bench_capture.py --source file      # looping MJPG .avi clips
    .venv/bin/python tests/bench/bench_capture.py --source snapshot  # HTTP snapshot polling

Real pieces: the CameraFeed capture threads of app.adapters.camera (OpenCV FFMPEG for
MJPEG and files, urllib for snapshots). `mjpeg` and `snapshot` read the camera of
tests/helpers/mjpeg_server.py, run in its own process so that its JPEG encoding does not
share this process's CPU and GIL; `file` writes one MJPG clip per feed to a temp folder.

Printed per feed: delivered fps (measured by the feed and counted), the newest frame's
age, frames behind the server's newest (mjpeg: how fresh "newest only" really is), CPU of
the capture thread (pthread CPU clock). Then process CPU per feed over the window (it
includes FFMPEG's own decoder threads, which the capture thread's figure does not).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402

from app.adapters.camera.capture import CameraFeed  # noqa: E402
from app.domain.site import Camera, CameraRole  # noqa: E402
from tests.helpers.mjpeg_server import MjpegServer, frame_index, render  # noqa: E402


def _serve(fps: float, size: tuple[int, int], ready, index, stop) -> None:
    """Child process: the camera server; reports its port, publishes its newest index."""
    async def main() -> None:
        srv = MjpegServer(fps=fps, size=size, quality=85)
        await srv.start()
        ready.put(srv.port)
        while not stop.is_set():
            index.value = srv.index
            await asyncio.sleep(0.005)
        await srv.stop()

    asyncio.run(main())


def _thread_cpu(thread: threading.Thread) -> float:
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    except (OSError, TypeError, AttributeError):
        return float("nan")


def _capture_thread(feed: CameraFeed) -> threading.Thread | None:
    return feed._thread  # the bench may peek: it measures that thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=4)
    parser.add_argument("--fps", type=float, default=15.0, help="source frame rate")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--duration", type=float, default=10.0, help="measured window, s")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--source", choices=("mjpeg", "file", "snapshot"), default="mjpeg")
    parser.add_argument("--cap-fps", type=float, default=0.0,
                        help="settings['fps'] of each feed (0: none; snapshot: poll rate)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    size = (width, height)

    ctx = mp.get_context("spawn")
    server = None
    index = ctx.Value("q", -1)
    stop = ctx.Event()
    tmp = tempfile.TemporaryDirectory(prefix="bench-capture-")
    sources: list[tuple[str, dict]] = []
    if args.source in ("mjpeg", "snapshot"):
        ready = ctx.Queue()
        server = ctx.Process(target=_serve, args=(args.fps, size, ready, index, stop),
                             daemon=True)
        server.start()
        port = ready.get(timeout=20)
        base = f"http://127.0.0.1:{port}"
        for _ in range(args.feeds):
            if args.source == "mjpeg":
                sources.append((f"{base}/video.mjpg", {}))
            else:
                sources.append((f"{base}/snapshot.jpg",
                                {"mode": "snapshot", "fps": args.cap_fps or args.fps}))
    else:
        for n in range(args.feeds):
            path = Path(tmp.name) / f"clip{n}.avi"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), args.fps, size)
            for i in range(int(args.fps * 4)):
                writer.write(render(i, size))
            writer.release()
            sources.append((str(path), {}))
    if args.cap_fps and args.source != "snapshot":
        for _, settings in sources:
            settings["fps"] = args.cap_fps

    feeds = [CameraFeed(Camera(f"CAM-{n}", f"Bench {n}", CameraRole.LANE, src, settings))
             for n, (src, settings) in enumerate(sources)]
    print(f"{args.feeds} feeds, {args.source} {width}x{height} at {args.fps:g} fps"
          f"{f', capped at {args.cap_fps:g} fps' if args.cap_fps else ''}; OpenCV "
          f"{cv2.__version__}, {mp.cpu_count()} CPUs")
    for feed in feeds:
        feed.start()
    deadline = time.monotonic() + 15
    while not all(f.health().online for f in feeds):
        if time.monotonic() > deadline:
            print("feeds not online:", [(f.id, f.health().detail) for f in feeds])
            sys.exit(1)
        time.sleep(0.05)
    time.sleep(args.warmup)

    threads = [_capture_thread(f) for f in feeds]
    cpu0 = [_thread_cpu(t) for t in threads]
    frames0 = [f.frames_produced for f in feeds]
    index0 = index.value
    proc0, wall0 = time.process_time(), time.monotonic()
    ages: list[list[float]] = [[] for _ in feeds]
    behind: list[list[int]] = [[] for _ in feeds]
    while time.monotonic() - wall0 < args.duration:
        time.sleep(0.1)
        for n, feed in enumerate(feeds):
            h = feed.health()
            if h.last_frame_age_s is not None:
                ages[n].append(h.last_frame_age_s * 1000)
            latest = feed.latest()
            if args.source == "mjpeg" and latest is not None:
                behind[n].append(index.value - frame_index(latest[0]))
    wall = time.monotonic() - wall0
    proc = time.process_time() - proc0
    server_fps = (index.value - index0) / wall
    cpu1 = [_thread_cpu(t) for t in threads]
    frames1 = [f.frames_produced for f in feeds]
    healths = [f.health() for f in feeds]

    print(f"\nwindow {wall:.1f} s" + (f"; the server produced {server_fps:.1f} fps"
                                      if server is not None else ""))
    print(f"{'feed':<7}{'fps':>7}{'fps(h)':>8}{'age p50':>9}{'age max':>9}{'behind':>8}"
          f"{'thread CPU':>12}")
    for n, feed in enumerate(feeds):
        fps = (frames1[n] - frames0[n]) / wall
        cpu = (cpu1[n] - cpu0[n]) / wall * 100
        lag = f"{statistics.median(behind[n]):.0f}/{max(behind[n])}" if behind[n] else "-"
        print(f"{feed.id:<7}{fps:7.1f}{healths[n].fps:8.1f}"
              f"{statistics.median(ages[n]):7.0f}ms{max(ages[n]):7.0f}ms{lag:>8}"
              f"{cpu:11.1f}%")
    total_fps = sum(frames1[n] - frames0[n] for n in range(len(feeds))) / wall
    print(f"\nprocess CPU {proc / wall * 100:.1f}% of one core over the window: "
          f"{proc / wall * 100 / len(feeds):.1f}% per feed, "
          f"{proc / max(1, total_fps * wall) * 1000:.2f} ms CPU per delivered frame")
    print("behind = server's newest index - the feed's newest (median/max frames)")

    t0 = time.monotonic()
    for feed in feeds:
        feed.stop(timeout=3)
    print(f"stop of {len(feeds)} feeds: {(time.monotonic() - t0) * 1000:.0f} ms")
    stop.set()
    if server is not None:
        server.join(5)
    tmp.cleanup()


if __name__ == "__main__":
    main()
