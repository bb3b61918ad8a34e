"""The sample's clip shows what its tracks say: each visible car's centre has the car's colour
on the decoded frame, under the pole the car is marked occluded, and car 2 is out of the
picture exactly while its track is outside."""

from __future__ import annotations

from pathlib import Path

from labelport.domain.geometry import Box
from labelport.domain.tracks import expand_track
from labelport.sample import build_sample
from labelport.sample_video import CAR_1, CAR_2, FRAMES, POLE, VIDEO_PATH
from labelport.video.frames import VideoFrames


def test_the_clip_matches_its_tracks(tmp_path: Path) -> None:
    sample = build_sample(tmp_path, video=True)
    video = sample.items[-1]
    assert video.item.path == VIDEO_PATH and video.item.frame_count == FRAMES
    car_1 = {s.frame: s.annotation for s in expand_track(list(CAR_1), frame_count=FRAMES)}
    car_2 = {s.frame: s.annotation for s in expand_track(list(CAR_2), frame_count=FRAMES)}
    assert sorted(car_2) == [*range(0, 6), *range(14, FRAMES)]
    assert [f for f, a in car_1.items() if a.attributes["occluded"]] == list(range(6, 14))
    with VideoFrames(video.item.media_uri or "") as frames:
        for frame in range(FRAMES):
            image = frames.image(frame).convert("RGB")
            for shape in (car_1.get(frame), car_2.get(frame)):
                if shape is None:
                    continue
                box = shape.geometry
                assert isinstance(box, Box)
                x = min(box.x + 3, 158)  # a pixel inside the car, clear of the pole
                if POLE.x <= x < POLE.x + POLE.w:
                    x = POLE.x + POLE.w + 1 if box.x + box.w > POLE.x + POLE.w + 1 else box.x
                r, g, b = image.getpixel((int(x), int(box.y + box.h / 2)))
                assert r > 180 and g < 80 and b < 120, (frame, shape.instance_id, (r, g, b))
