"""Poster frames (bot/pictures/poster.py): a JPEG still from a video file or from its first bytes."""

from __future__ import annotations

import io

import av
from PIL import Image, ImageChops, ImageStat

from bot.pictures import poster
from tests.conftest import BIKES, BUNNY


def frame_at(path, at_s):
    with av.open(str(path)) as container:
        return next(f for f in container.decode(video=0) if f.time >= at_s).to_image()


def difference(a, b):
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB").resize(a.size))
    return sum(ImageStat.Stat(diff).mean) / 3


def test_a_thumbnail_is_the_frame_at_one_second_within_telegrams_limits():
    still = poster.thumbnail(BUNNY)
    assert still is not None and len(still.jpeg) < poster.THUMBNAIL_BYTES
    with Image.open(io.BytesIO(still.jpeg)) as image:
        assert image.format == "JPEG" and image.size == (still.width, still.height) == (320, 180)
        assert difference(image, frame_at(BUNNY, 1.0)) < 6
        assert difference(image, frame_at(BUNNY, 4.5)) > difference(image, frame_at(BUNNY, 1.0))


def faststart_copy(src, dest):
    """``src`` remuxed with its index (moov) first, as renders are written (``+faststart``)."""
    with av.open(str(src)) as inp, av.open(str(dest), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dest


def test_the_first_bytes_of_a_file_with_its_index_first_give_a_frame(tmp_path):
    video = faststart_copy(BIKES, tmp_path / "bikes-faststart.mp4")
    assert video.read_bytes()[4:8] == b"ftyp" and b"moov" in video.read_bytes()[:8192]
    still = poster.poster(video.read_bytes()[: 256 * 1024])  # half the file: 1 s of it
    assert still is not None and (still.width, still.height) == (640, 272)  # smaller than 1280: kept
    with Image.open(io.BytesIO(still.jpeg)) as image:
        assert difference(image, frame_at(BIKES, 1.0)) < 6


def test_no_frame_gives_none_never_an_error():
    assert poster.poster(b"") is None
    assert poster.poster(b"not a video" * 1000) is None
    assert poster.poster(BUNNY.read_bytes()[:300_000]) is None  # its index (moov) is at the end
    assert poster.poster(BUNNY, max_bytes=100) is None  # no quality makes it that small


def test_an_audio_only_file_has_no_poster(tmp_path):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert poster.poster(path) is None
