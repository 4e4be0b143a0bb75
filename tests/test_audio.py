"""A recording is judged by decoding it, in every accepted format."""

from __future__ import annotations

from pathlib import Path

import pytest

from pialara_async.audio import AudioRefused, inspect_recording, media_type
from tests.audio_files import FORMATS, encode

TYPES = sorted(FORMATS)


def saved(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "recording"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("declared", TYPES)
def test_a_spoken_length_recording_is_measured_from_its_samples(
        tmp_path: Path, declared: str) -> None:
    facts = inspect_recording(saved(tmp_path, encode(declared, 2.0)), declared)
    assert facts.media_type == declared
    assert facts.duration == pytest.approx(2.0, abs=0.05)
    assert facts.sample_rate == FORMATS[declared][2]
    assert facts.channels == 1
    assert -12 < facts.peak_dbfs < -9  # a tone at 0.3 of full scale: -10.5 dBFS
    assert -15 < facts.rms_dbfs < -12  # and its RMS 3 dB lower


def test_browser_content_types_with_codecs_are_taken() -> None:
    assert media_type("audio/webm;codecs=opus") == "audio/webm"
    assert media_type("Audio/Ogg; codecs=opus") == "audio/ogg"
    assert media_type("audio/x-wav") == "audio/wav"


@pytest.mark.parametrize("content_type", [None, "", "audio/mpeg", "video/webm",
                                          "application/octet-stream"])
def test_other_types_are_refused(tmp_path: Path, content_type: str | None) -> None:
    with pytest.raises(AudioRefused, match="send Opus in WebM or Ogg, WAV or FLAC"):
        inspect_recording(saved(tmp_path, encode("audio/wav", 1.0)), content_type)


@pytest.mark.parametrize(("content", "declared"), [("audio/wav", "audio/webm"),
                                                   ("audio/webm", "audio/ogg"),
                                                   ("audio/flac", "audio/wav")])
def test_a_type_the_content_does_not_match_is_refused(
        tmp_path: Path, content: str, declared: str) -> None:
    with pytest.raises(AudioRefused, match=f"the content is not {declared}"):
        inspect_recording(saved(tmp_path, encode(content, 1.0)), declared)


@pytest.mark.parametrize("declared", TYPES)
def test_silence_is_refused(tmp_path: Path, declared: str) -> None:
    with pytest.raises(AudioRefused, match="silent"):
        inspect_recording(saved(tmp_path, encode(declared, 2.0, kind="silence")), declared)


def test_quiet_noise_above_the_threshold_is_kept(tmp_path: Path) -> None:
    # Uniform noise at 0.02 of full scale: about -39 dBFS RMS.
    facts = inspect_recording(saved(tmp_path, encode("audio/wav", 1.0, kind="noise",
                                                     level=0.02)), "audio/wav")
    assert -41 < facts.rms_dbfs < -37


@pytest.mark.parametrize(("seconds", "why"), [(0.3, "too short"), (61.0, "too long")])
@pytest.mark.parametrize("declared", ["audio/webm", "audio/wav"])
def test_the_wrong_length_is_refused(tmp_path: Path, declared: str, seconds: float,
                                     why: str) -> None:
    with pytest.raises(AudioRefused, match=why):
        inspect_recording(saved(tmp_path, encode(declared, seconds)), declared)


@pytest.mark.parametrize("cut", [0.5, 0.99])
@pytest.mark.parametrize("declared", TYPES)
def test_a_truncated_recording_is_refused(tmp_path: Path, declared: str, cut: float) -> None:
    whole = encode(declared, 3.0)
    with pytest.raises(AudioRefused, match="incomplete"):
        inspect_recording(saved(tmp_path, whole[:int(len(whole) * cut)]), declared)


def test_garbage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudioRefused, match="could not be decoded"):
        inspect_recording(saved(tmp_path, b"RIFF" + bytes(range(256)) * 40), "audio/wav")
