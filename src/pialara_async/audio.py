"""What a recording really is: decoded on the server with PyAV, never taken
from the browser.

``inspect_recording`` decodes a whole file (FFmpeg's decoders, bundled with
the ``av`` wheel) and measures its duration from the decoded samples, its
sample rate and channels, and its peak and RMS level in dBFS. It refuses,
with a reason a person can act on, what PIA Lara cannot use:

- a declared type it does not take, or one the content does not match;
- data that does not decode, or stops decoding before its end (truncated);
- a length outside 0.5 to 60 s;
- near-silence (RMS below -50 dBFS): a microphone that was muted or far away.

Decoding is CPU work: callers run it in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from pialara_async.refusals import Refused

MIN_SECONDS = 0.5
MAX_SECONDS = 60.0
MAX_BYTES = 10 * 1024 * 1024
SILENCE_DBFS = -50.0

# The types accepted, by their media type (parameters aside): the containers
# FFmpeg names for them, and the codecs allowed inside.
ACCEPTED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "audio/webm": (frozenset({"matroska,webm"}), frozenset({"opus"})),
    "audio/ogg": (frozenset({"ogg"}), frozenset({"opus"})),
    "audio/wav": (frozenset({"wav"}), frozenset({"pcm_s16le", "pcm_s24le", "pcm_s32le",
                                                   "pcm_f32le", "pcm_u8"})),
    "audio/flac": (frozenset({"flac"}), frozenset({"flac"})),
}
ALIASES = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/x-flac": "audio/flac",
           "audio/vnd.wave": "audio/wav"}


class AudioRefused(Refused):
    """A recording the service does not keep; ``str()`` says why."""

    default = "the recording cannot be used"


@dataclass(frozen=True, slots=True)
class AudioFacts:
    """What decoding a recording found."""

    media_type: str  # the accepted type it was sent as, without parameters
    container: str
    codec: str
    duration: float  # seconds, from the decoded samples
    sample_rate: int
    channels: int
    peak_dbfs: float
    rms_dbfs: float


def media_type(content_type: str | None) -> str:
    """The accepted media type of a Content-Type header; AudioRefused otherwise."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    base = ALIASES.get(base, base)
    if base not in ACCEPTED:
        raise AudioRefused("send Opus in WebM or Ogg, WAV or FLAC "
                           f"(the type sent was {base or 'missing'})")
    return base


def _dbfs(value: float) -> float:
    return 20 * math.log10(value) if value > 0 else -math.inf


def inspect_recording(path: Path, content_type: str | None) -> AudioFacts:
    """Decode the file at ``path`` sent as ``content_type``; AudioRefused when
    it cannot be used."""
    declared = media_type(content_type)
    containers, codecs = ACCEPTED[declared]
    try:
        with av.open(str(path), mode="r") as container:
            if container.format.name not in containers:
                raise AudioRefused(f"the content is not {declared} "
                                   f"(it is {container.format.name})")
            if not container.streams.audio:
                raise AudioRefused("the file holds no audio")
            stream = container.streams.audio[0]
            codec = stream.codec_context.name
            if codec not in codecs:
                raise AudioRefused(f"{declared} with {codec} audio is not taken")
            samples, peak, squares, rate, channels, corrupt = _decode(container, stream)
            expected = _header_seconds(stream)
            if corrupt or not _complete(path, declared):
                raise AudioRefused("the audio is incomplete: it stops before its end")
    except AudioRefused:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as error:
        raise AudioRefused("the audio could not be decoded: it is damaged or incomplete") \
            from error
    if rate <= 0 or samples == 0:
        raise AudioRefused("the file holds no audio")
    duration = samples / rate
    if expected is not None and duration < expected - 0.1:
        raise AudioRefused("the audio is incomplete: it stops before its end")
    if duration < MIN_SECONDS:
        raise AudioRefused(f"the recording is too short ({duration:.1f} s; at least "
                           f"{MIN_SECONDS:g} s)")
    if duration > MAX_SECONDS:
        raise AudioRefused(f"the recording is too long ({duration:.1f} s; at most "
                           f"{MAX_SECONDS:g} s)")
    rms = _dbfs(math.sqrt(squares / (samples * channels)))
    if rms < SILENCE_DBFS:
        raise AudioRefused("the recording is silent or nearly so: check the microphone")
    return AudioFacts(declared, container.format.name, codec, round(duration, 3), rate,
                      channels, round(_dbfs(peak), 2), round(rms, 2))


def _decode(container: av.container.InputContainer,
            stream: av.AudioStream) -> tuple[int, float, float, int, int, bool]:
    """Samples per channel, peak, sum of squares, sample rate and channels of
    every decoded frame, as floats in [-1, 1]; and whether a packet was cut."""
    samples, peak, squares, rate, channels, corrupt = 0, 0.0, 0.0, 0, 0, False
    # Every decoder's output as planar floats, whatever its own sample format.
    resampler = av.AudioResampler(format="fltp")
    for packet in container.demux(stream):
        corrupt = corrupt or packet.is_corrupt
        for frame in packet.decode():
            rate = rate or frame.sample_rate
            channels = channels or len(frame.layout.channels)
            for converted in resampler.resample(frame):
                values = converted.to_ndarray().astype(np.float64)
                samples += converted.samples
                if values.size:
                    peak = max(peak, float(np.abs(values).max()))
                    squares += float(np.square(values).sum())
    return samples, peak, squares, rate, channels, corrupt


def _header_seconds(stream: av.AudioStream) -> float | None:
    """The length the container's header announces, where it announces one
    (a WAV or FLAC header does; a browser's WebM or Ogg stream does not)."""
    if stream.duration is None or stream.time_base is None or \
            stream.codec_context.name == "opus":
        return None
    return float(stream.duration * stream.time_base)


# A browser's WebM and Ogg streams announce no length, and FFmpeg drops a cut
# last block without a word: their structure says whether the file is whole.

def _complete(path: Path, declared: str) -> bool:
    if declared == "audio/ogg":
        return _ogg_complete(path.read_bytes())
    if declared == "audio/webm":
        return _ebml_complete(path.read_bytes())
    return True


def _ogg_complete(data: bytes) -> bool:
    """Every Ogg page whole, and the last one marked end of stream."""
    position, last_flags = 0, 0
    while position < len(data):
        if data[position:position + 4] != b"OggS" or position + 27 > len(data):
            return False
        segments = data[position + 26]
        table = data[position + 27:position + 27 + segments]
        end = position + 27 + segments + sum(table)
        if len(table) < segments or end > len(data):
            return False
        last_flags, position = data[position + 5], end
    return bool(last_flags & 0x04)


_EBML_DESCEND = {0x18538067, 0x1F43B675}  # Segment, Cluster: their children follow


def _vint(data: bytes, position: int, keep_marker: bool) -> tuple[int, int, bool] | None:
    """An EBML variable-size integer at ``position``: (value, its length, all
    value bits set, meaning an unknown size); None if cut."""
    if position >= len(data) or data[position] == 0:
        return None
    length = 8 - data[position].bit_length() + 1
    if position + length > len(data):
        return None
    value = int.from_bytes(data[position:position + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length, value == (1 << (7 * length)) - 1


def _ebml_complete(data: bytes) -> bool:
    """Every EBML element whole, down through the segment and its clusters."""
    position = 0
    while position < len(data):
        element = _vint(data, position, keep_marker=True)
        if element is None:
            return False
        size = _vint(data, position + element[1], keep_marker=False)
        if size is None:
            return False
        position += element[1] + size[1]
        if element[0] in _EBML_DESCEND:
            continue  # known or unknown size alike: walk its children
        if size[2] or position + size[0] > len(data):
            return False
        position += size[0]
    return True
