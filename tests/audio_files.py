"""Real audio for the tests, made with PyAV: tones, noise and silence in the
containers PIA Lara accepts."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np

# media type -> (container format, codec, sample rate)
FORMATS = {
    "audio/webm": ("webm", "libopus", 48_000),
    "audio/ogg": ("ogg", "libopus", 48_000),
    "audio/wav": ("wav", "pcm_s16le", 16_000),
    "audio/flac": ("flac", "flac", 16_000),
}


def samples(seconds: float, rate: int, *, kind: str = "tone", level: float = 0.3,
            seed: int = 1) -> np.ndarray:
    """Mono float samples: a 440 Hz tone, white noise or silence."""
    count = round(seconds * rate)
    if kind == "silence":
        return np.zeros(count, dtype=np.float32)
    if kind == "noise":
        return (np.random.default_rng(seed).uniform(-1, 1, count) * level).astype(np.float32)
    t = np.arange(count) / rate
    return (np.sin(2 * np.pi * 440 * t) * level).astype(np.float32)


def encode(media_type: str, seconds: float, *, kind: str = "tone", level: float = 0.3) -> bytes:
    """A recording of ``seconds`` in ``media_type``."""
    container_format, codec, rate = FORMATS[media_type]
    data = samples(seconds, rate, kind=kind, level=level)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        stream.time_base = Fraction(1, rate)
        chunk = 960 if codec == "libopus" else 1024
        frame_format = "s16" if codec in ("pcm_s16le", "flac") else "flt"
        pts = 0
        for start in range(0, len(data), chunk):
            part = data[start:start + chunk]
            if frame_format == "s16":
                frame = av.AudioFrame.from_ndarray(
                    (part * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono")
            else:
                frame = av.AudioFrame.from_ndarray(part.reshape(1, -1), format="flt",
                                                   layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += len(part)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
