"""Audio loading and features, on generated tones and on a real (TTS) clip of the tiny corpus."""
import glob
import json
import os
import platform
from pathlib import Path

import numpy as np
import pytest
import soundfile

import utils
from utils import AudioError, load_audio, mfcc_from_file, spectrogram_from_file


def tone(freq_hz, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype("float32")


def test_spectrogram_shape_and_peak_bin(tmp_path):
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(1000, 1.0, 16000), 16000)
    spec = spectrogram_from_file(str(path))
    assert spec.shape == (1 + (16000 - 320) // 160, 161)
    assert np.all(np.isfinite(spec))
    assert np.bincount(spec.argmax(axis=1)).argmax() == 20  # 1000 Hz / 50 Hz per bin


def test_any_rate_and_channel_count_gives_the_same_features(tmp_path):
    mono16 = tmp_path / "mono16.wav"
    stereo44 = tmp_path / "stereo44.flac"
    soundfile.write(mono16, tone(440, 1.0, 16000), 16000)
    left = tone(440, 1.0, 44100)
    soundfile.write(stereo44, np.stack([left, left], axis=1), 44100)
    a, b = spectrogram_from_file(str(mono16)), spectrogram_from_file(str(stereo44))
    assert a.shape == b.shape
    peak_a, peak_b = a.argmax(axis=1), b.argmax(axis=1)
    assert np.mean(peak_a == peak_b) > 0.95
    assert load_audio(stereo44).ndim == 1


def test_features_of_a_real_clip(in_corpus):
    clip = json.loads(open("train_corpus.json").readline())
    spec = spectrogram_from_file(clip["key"])
    mfcc = mfcc_from_file(clip["key"])
    expected_frames = 1 + (int(round(clip["duration"] * 16000)) - 320) // 160
    assert spec.shape == (expected_frames, 161)
    assert mfcc.shape[1] == 13 and abs(mfcc.shape[0] - expected_frames) <= 2
    # speech has far more energy below 4 kHz than above 7 kHz
    assert spec[:, 5:80].mean() > spec[:, 140:].mean()


def test_missing_and_corrupt_files_are_named(tmp_path):
    with pytest.raises(AudioError, match="nowhere.wav: file not found"):
        load_audio(tmp_path / "nowhere.wav")
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC this is not audio")
    with pytest.raises(AudioError, match="bad.flac: cannot decode"):
        load_audio(bad)


def test_a_clip_shorter_than_a_window_is_named(tmp_path):
    short = tmp_path / "short.wav"
    soundfile.write(short, np.zeros(100, "float32"), 16000)
    with pytest.raises(AudioError, match="short.wav"):
        spectrogram_from_file(str(short))


def test_unsigned_8_bit_samples_centre_on_128():
    samples = utils.unsigned_8bit_samples(bytes([0, 64, 128, 255]))
    assert samples.dtype == np.float32
    assert list(samples) == [-1.0, -0.5, 0.0, 127 / 128]


def test_calc_feat_dim():
    assert utils.calc_feat_dim(20, 8000) == 161


def test_no_gpu_message(capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert utils.limit_gpu_memory(0.5) == "no GPU: running on CPU"
    assert "no GPU: running on CPU" in capsys.readouterr().out


def test_the_features_are_described_once():
    assert (utils.HOP_LENGTH, utils.N_FFT, utils.MFCC_WINDOW, utils.SPECTROGRAM_BINS) == (160, 320, 400, 161)
    spec, mfcc = utils.SPECTROGRAM, utils.MFCC
    assert (spec.width, spec.name, spec.label, spec.window_ms) == (161, "spectrogram", "spectrogram", 20)
    assert (mfcc.width, mfcc.name, mfcc.label, mfcc.window_ms) == (13, "mfcc13", "MFCC 13", 25)
    assert utils.Features.of(spectrogram=True) == spec and utils.Features.of(False, 20).name == "mfcc20"
    assert utils.Features.of_width(161) == spec and utils.Features.of_width(13) == mfcc
    for kind in (spec, mfcc, utils.Features(20)):
        assert utils.Features.from_record(kind.record()) == kind
    assert spec.record() == {"spectrogram": True, "mfcc_dim": None}  # what training histories hold
    assert mfcc.record() == {"spectrogram": False, "mfcc_dim": 13}
    assert utils.Features.from_record(None) == spec  # a history older than the record
    with pytest.raises(AttributeError):
        spec.mfcc_dim = 13  # immutable


@pytest.mark.parametrize("samples", [400, 401, 559, 560, 561, 16000, 23456])
def test_frame_count_matches_the_features_of_audio_that_long(samples):
    audio = np.random.default_rng(0).normal(size=samples).astype(np.float32) * 0.1
    for kind in (utils.SPECTROGRAM, utils.MFCC):
        assert kind.frame_count(samples) == kind.of_audio(audio).shape[0]
        assert kind.of_audio(audio).shape[1] == kind.width


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_memory_is_reused_without_page_faults():
    """A block freed and allocated again (as every training step does with its tensors) comes back from
    the process's heap: no page is faulted in again. Without ``keep_freed_memory`` glibc maps a block
    this large afresh each time, and all 25,600 of its pages fault."""
    import ctypes
    import resource

    assert utils.keep_freed_memory()  # as importing utils did
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes, libc.memset.argtypes = [ctypes.c_void_p], [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    size = 100 * 2 ** 20  # bytes: above the largest threshold glibc would pick for itself (32 MB)

    def allocate_write_free():
        block = libc.malloc(size)
        libc.memset(block, 1, size)  # plain malloc memory, so no huge pages: 4 KB pages, each faulted once
        libc.free(block)

    allocate_write_free()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    allocate_write_free()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 1000, f"{faults} page faults to allocate 100 MB again"


@pytest.mark.skipif("MAKELEVEL" not in os.environ, reason="checks the Makefile's RUN: only under `make test`")
def test_make_runs_python_on_tcmalloc_where_installed():
    """`make test` (and the notebook and benchmark targets) start Python with tcmalloc preloaded when
    Debian's libtcmalloc-minimal4 is installed, and plainly when it is not."""
    installed = glob.glob("/usr/lib/*/libtcmalloc_minimal.so.4")
    mapped = "libtcmalloc_minimal" in Path("/proc/self/maps").read_text()
    assert mapped == bool(installed), f"tcmalloc installed: {installed}; in this process: {mapped}"
