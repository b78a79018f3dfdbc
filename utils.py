"""Audio loading and features (log spectrogram, MFCC), and where TensorFlow runs (CPU, or a capped GPU).

Every clip, whatever its sample rate or channel count, is down-mixed to mono and resampled to
``SAMPLE_RATE`` before any feature is computed, so a model sees the same frame rate on any input.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# The environment every Python entry point runs in (the notebook, the tools, the tests): TensorFlow's log
# level, Keras' and matplotlib's state inside the project rather than in the home folder, and one thread
# for OpenBLAS (the small matrix products of gru.py's loop run inside TensorFlow's own threads, and
# OpenBLAS threads of their own made a training step of the final model 1.5x slower). They are
# read as those libraries load, so they are set here, at this module's import, before anything imports
# them; a value already set wins. (The Makefile sets them too, for the programs it starts, Jupyter's
# among them, before any Python of ours runs.)
PROJECT_DIR = Path(__file__).resolve().parent
ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_HOME": str(PROJECT_DIR / ".keras"),
               "MPLCONFIGDIR": str(PROJECT_DIR / ".mplconfig"), "OPENBLAS_NUM_THREADS": "1"}
for _name, _value in ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

# glibc's malloc hands large freed blocks back to the kernel (unmapping them, trimming its heaps), and a
# training step allocates and frees the same few hundred megabytes of tensors every time, so the next
# step faults them back in page by page: the final model's training took 170,000 page faults a second,
# and a quarter of its CPU time went to the kernel. Raised thresholds keep freed memory in the process
# for the next step (it stays at its peak size): the final model's training then spent a quarter less
# time in the kernel, though whole epochs did not measurably gain. tcmalloc, which the Makefile preloads
# where it is installed (its RUN), leaves almost no faults and shortens epochs (EXPERIMENTS.md); this is
# the fallback for Python started any other way. Nothing a program computes changes.
MALLOC_MMAP_THRESHOLD_BYTES = 1 << 30  # blocks above this still get a mapping of their own
MALLOC_TRIM_THRESHOLD_BYTES = 1 << 30  # free memory at a heap's top kept up to this
MALLOC_TOP_PAD_BYTES = 64 << 20  # a heap grows by at least this at a time
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt() parameter numbers


def keep_freed_memory():
    """Set glibc's malloc to keep freed memory for reuse (see above); True when set. Other C libraries
    (macOS, musl) are left as they are."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    settings = ((M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD_BYTES), (M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD_BYTES),
                (M_TOP_PAD, MALLOC_TOP_PAD_BYTES))
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in settings)


keep_freed_memory()

# TensorFlow's C++ libraries log a few lines to stderr as they load (the oneDNN notice, absl's "before
# InitializeLog" warning), whatever TF_CPP_MIN_LOG_LEVEL says: they are written before TensorFlow reads
# it. They carry no news for a user, so the first import of TensorFlow, by whichever module does it,
# runs with stderr caught, and every other line written meanwhile is passed on afterwards.
TENSORFLOW_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
                    "cpu_feature_guard.cc", "To enable the following instructions:")


def _without_noise(text):
    """``text`` less its lines that contain one of TENSORFLOW_NOISE."""
    return "".join(line for line in text.splitlines(keepends=True)
                   if not any(noise in line for noise in TENSORFLOW_NOISE))


class _QuietLoader:
    """Wraps the loader of the ``tensorflow`` package: runs it with file descriptor 2 on a temporary file."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        import sys
        import tempfile

        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as caught:
            os.dup2(caught.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                caught.seek(0)
                rest = _without_noise(caught.read().decode("utf-8", "replace"))
                if rest:
                    sys.stderr.write(rest)

    def __getattr__(self, name):  # everything else (get_resource_reader, ...) as the real loader
        return getattr(self.loader, name)


class _QuietTensorFlowFinder:
    """A ``sys.meta_path`` entry that finds ``tensorflow`` as usual and gives it a ``_QuietLoader``."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_import():
    """Install ``_QuietTensorFlowFinder`` (once), unless TensorFlow is loaded already."""
    import sys

    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())


quiet_tensorflow_import()

import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from char_map import int_sequence_to_text, text_to_int_sequence  # noqa: E402,F401  (re-exported)

SAMPLE_RATE = 16000  # Hz: every clip is resampled to this
STEP_MS = 10  # ms between frames, for both feature kinds
WINDOW_MS = 20  # ms of audio per spectrogram frame
MFCC_WINDOW_MS = 25  # ms of audio per MFCC frame (python_speech_features' default)
MAX_FREQ = 8000  # Hz: highest spectrogram bin (Nyquist at 16 kHz)
MFCC_DIM = 13  # cepstral coefficients per frame
MFCC_FFT = 512  # samples of the FFT behind each MFCC frame (its 400-sample window zero padded)
EPSILON = 1e-14  # floor inside the log, so silence gives a finite value


def ms_to_samples(ms):
    """Samples at SAMPLE_RATE in ``ms`` milliseconds: 160 in 10 ms."""
    return int(0.001 * ms * SAMPLE_RATE)


def calc_feat_dim(window, max_freq):
    """Number of spectrogram bins for a window in ms and a top frequency in Hz: 161 for 20 ms, 8 kHz."""
    return int(0.001 * window * max_freq) + 1


HOP_LENGTH = ms_to_samples(STEP_MS)  # 160 samples between frames
N_FFT = ms_to_samples(WINDOW_MS)  # 320 samples: a spectrogram frame's window and FFT
MFCC_WINDOW = ms_to_samples(MFCC_WINDOW_MS)  # 400 samples: an MFCC frame's window
SPECTROGRAM_BINS = calc_feat_dim(WINDOW_MS, MAX_FREQ)  # 161 bins of 50 Hz, 0 to 8 kHz


PARTIAL_TAG = ".partial"  # marks a file being written; renamed into place only when complete


def partial_path(path):
    """The temporary name an atomic write uses beside ``path``: ``a/model_0.h5`` -> ``a/model_0.h5.partial.h5``.

    The suffix is kept because some writers choose the format by it (Keras' ``model.save``).
    """
    path = Path(path)
    return path.with_name(path.name + PARTIAL_TAG + path.suffix)


def file_digest(path):
    """SHA-256 of a file's bytes, in hex (which corpus description a model's statistics came from; whether a
    download is the pinned file)."""
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def atomic_write(path, write):
    """Call ``write(temp_path)``, then rename the temporary file over ``path``.

    A crash at any point leaves the old file or the new one, never half of one; the temporary file is
    on the same file system, so the rename is atomic, and a fixed name means a leftover from a killed
    run is simply overwritten next time.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = partial_path(path)
    try:
        write(str(temp))
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


class AudioError(ValueError):
    """A clip that cannot be used; the message names the file and the fix."""


def open_audio(path):
    """``path`` opened with soundfile (a ``SoundFile``, to close), or AudioError naming what is wrong with
    it: missing, empty (0 bytes), not audio soundfile can decode, or holding no samples."""
    path = str(path)
    if not os.path.exists(path):
        raise AudioError(f"{path}: file not found; check the path")
    if os.path.isdir(path):
        raise AudioError(f"{path}: a folder, not an audio file; name the files in it")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes); record or copy it again")
    try:
        sound = soundfile.SoundFile(path)
    except Exception as err:  # soundfile raises several types for corrupt data
        raise AudioError(f"{path}: cannot decode audio ({err}); convert it to WAV or FLAC, or replace "
                         "it") from err
    if sound.frames == 0:
        sound.close()
        raise AudioError(f"{path}: the file holds no audio (0 samples); record or copy it again")
    return sound


def load_audio(path):
    """Read any format soundfile knows; return float32 samples, shape (n,), at SAMPLE_RATE, mono."""
    with open_audio(path) as sound:
        try:
            audio = sound.read(dtype="float32", always_2d=True)
        except Exception as err:  # a header that promises more than the data holds
            raise AudioError(f"{path}: cannot decode audio ({err}); convert it to WAV or FLAC, or replace "
                             "it") from err
        rate = sound.samplerate
    audio = audio.mean(axis=1)  # down-mix stereo (or more) to mono
    if rate != SAMPLE_RATE:
        import soxr

        audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    return audio


def unsigned_8bit_samples(data):
    """Samples of unsigned 8-bit PCM bytes (silence at 128, as the games store their speech): float32 in
    [-1, 1), shape (len(data),)."""
    return (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128) / 128


def audio_blocks(path, block_seconds=10.0):
    """A long file as consecutive mono float32 blocks at SAMPLE_RATE, each about ``block_seconds`` long,
    read and resampled as a stream: memory stays bounded whatever the file's length. (``load_audio``
    resamples a file in one piece, as training did; the stream differs from it by rounding only.)"""
    import soxr

    with open_audio(path) as sound:
        rate, frames = sound.samplerate, int(block_seconds * sound.samplerate)
        stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32") if rate != SAMPLE_RATE else None
        while True:
            try:
                block = sound.read(frames, dtype="float32", always_2d=True).mean(axis=1)
            except Exception as err:
                raise AudioError(f"{path}: cannot decode audio ({err}); convert it to WAV or FLAC, or "
                                 "replace it") from err
            last = len(block) < frames
            if stream is not None:
                block = stream.resample_chunk(block, last=last)
            if len(block):
                yield block.astype(np.float32)
            if last:
                return


def spectrogram(samples, fft_length=N_FFT, sample_rate=SAMPLE_RATE, hop_length=HOP_LENGTH):
    """Log power spectrogram of 1-D samples: shape (frames, fft_length // 2 + 1), Hann window.

    Frames that would run past the end are dropped, so ``frames = 1 + (n - fft_length) // hop_length``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1:
        raise ValueError(f"spectrogram expects mono samples, got shape {samples.shape}")
    if len(samples) < fft_length:
        raise AudioError(f"clip of {len(samples)} samples is shorter than one {fft_length}-sample window")
    n_frames = 1 + (len(samples) - fft_length) // hop_length
    starts = np.arange(n_frames)[:, None] * hop_length
    frames = samples[starts + np.arange(fft_length)[None, :]]
    window = np.hanning(fft_length)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    # scale like a periodogram, so values do not depend on the window's length or energy
    power /= (window ** 2).sum() * sample_rate
    power[:, 1:-1] *= 2  # one-sided spectrum: fold the negative frequencies in
    return np.log(power + EPSILON).astype(np.float32)


def spectrogram_of(audio, step=STEP_MS, window=WINDOW_MS, max_freq=MAX_FREQ, name="the clip"):
    """Log spectrogram of mono samples at SAMPLE_RATE: shape (frames, calc_feat_dim(window, max_freq)),
    ``step`` ms apart. ``name`` is how an error message calls the clip."""
    if max_freq > SAMPLE_RATE / 2:
        raise ValueError(f"max_freq {max_freq} Hz is above the Nyquist frequency {SAMPLE_RATE // 2} Hz")
    if step > window:
        raise ValueError("step must not be greater than window")
    try:
        pxx = spectrogram(audio, fft_length=ms_to_samples(window), hop_length=ms_to_samples(step))
    except AudioError as err:
        raise AudioError(f"{name}: {err}; the clip is too short to use, drop it") from err
    return pxx[:, :calc_feat_dim(window, max_freq)]


def spectrogram_from_file(filename, step=STEP_MS, window=WINDOW_MS, max_freq=MAX_FREQ):
    """Log spectrogram of an audio file: shape (frames, calc_feat_dim(window, max_freq)), 10 ms frames."""
    return spectrogram_of(load_audio(filename), step, window, max_freq, name=filename)


def mfcc_of(audio, mfcc_dim=MFCC_DIM, step=STEP_MS, name="the clip"):
    """MFCCs of mono samples at SAMPLE_RATE: shape (frames, mfcc_dim), 25 ms windows every ``step`` ms."""
    from python_speech_features import mfcc

    if len(audio) < MFCC_WINDOW:
        raise AudioError(f"{name}: clip of {len(audio)} samples is shorter than one window; drop it")
    return mfcc(audio, samplerate=SAMPLE_RATE, winlen=MFCC_WINDOW_MS / 1000, numcep=mfcc_dim,
                winstep=0.001 * step, nfft=MFCC_FFT).astype(np.float32)


def mfcc_from_file(filename, mfcc_dim=MFCC_DIM, step=STEP_MS):
    """MFCCs of an audio file: shape (frames, mfcc_dim), 25 ms windows every ``step`` ms."""
    return mfcc_of(load_audio(filename), mfcc_dim, step, name=filename)


@dataclass(frozen=True)
class Features:
    """One kind of features a model reads: the log spectrogram (``mfcc_dim`` None) or ``mfcc_dim`` MFCCs,
    a frame every ``step_ms``. Every module asks it for the width, the on-disk name and the frame count.

    ``spectrogram_window_ms`` and ``max_freq`` are the 2017 generator's spectrogram settings; MFCCs keep
    the defaults (their window is MFCC_WINDOW_MS). Immutable and hashable: it keys the feature cache.
    """
    mfcc_dim: Optional[int] = None
    step_ms: int = STEP_MS
    spectrogram_window_ms: int = WINDOW_MS
    max_freq: int = MAX_FREQ

    @classmethod
    def of(cls, spectrogram=True, mfcc_dim=MFCC_DIM, step=STEP_MS, window=WINDOW_MS, max_freq=MAX_FREQ):
        """From the 2017 arguments: ``spectrogram=True``, or False with ``mfcc_dim`` coefficients."""
        return cls(None, step, window, max_freq) if spectrogram else cls(int(mfcc_dim), step)

    @classmethod
    def of_width(cls, width):
        """The features of a model that reads ``width`` values a frame: SPECTROGRAM_BINS, else MFCCs."""
        return cls() if width == SPECTROGRAM_BINS else cls(int(width))

    @classmethod
    def from_record(cls, record):
        """From ``record()``'s dict, as a training history keeps it; None (an older history): spectrogram."""
        record = record or {}
        return cls.of(record.get("spectrogram", True), record.get("mfcc_dim") or MFCC_DIM)

    @property
    def spectrogram(self):
        return self.mfcc_dim is None

    @property
    def width(self):
        """Values per frame: 161 spectrogram bins, or the number of MFCCs."""
        return calc_feat_dim(self.spectrogram_window_ms, self.max_freq) if self.spectrogram else self.mfcc_dim

    @property
    def window_ms(self):
        """ms of audio behind each frame."""
        return self.spectrogram_window_ms if self.spectrogram else MFCC_WINDOW_MS

    @property
    def name(self):
        """The name on disk (a model's normalisation statistics): 'spectrogram' or 'mfcc13'."""
        return "spectrogram" if self.spectrogram else f"mfcc{self.mfcc_dim}"

    @property
    def label(self):
        """As a table or a message says it: 'spectrogram' or 'MFCC 13'."""
        return "spectrogram" if self.spectrogram else f"MFCC {self.mfcc_dim}"

    def record(self):
        """The dict a training history keeps: {"spectrogram": bool, "mfcc_dim": None or int}."""
        return {"spectrogram": self.spectrogram, "mfcc_dim": None if self.spectrogram else int(self.mfcc_dim)}

    def of_audio(self, audio, name="the clip"):
        """These features of mono samples at SAMPLE_RATE: shape (frames, width). ``name`` is how an error
        message calls the clip."""
        if self.spectrogram:
            return spectrogram_of(audio, self.step_ms, self.spectrogram_window_ms, self.max_freq, name=name)
        return mfcc_of(audio, self.mfcc_dim, self.step_ms, name=name)

    def frame_count(self, samples):
        """Frames of a clip of ``samples`` samples: a spectrogram drops a last partial window, while
        python_speech_features pads the last MFCC window, and gives one frame at the least."""
        window, hop = ms_to_samples(self.window_ms), ms_to_samples(self.step_ms)
        if self.spectrogram:
            return max(0, 1 + (samples - window) // hop)
        return max(1, 1 + int(np.ceil((samples - window) / hop)))


SPECTROGRAM = Features()  # the 2017 default: 161 bins every 10 ms
MFCC = Features(MFCC_DIM)  # 13 MFCCs every 10 ms


def quiet_logging():
    """Keep TensorFlow's and Keras' Python logging (absl) to errors: Keras warns at every legacy-HDF5 save,
    and the .h5 format is what the project promises. The entry points call it (``train_utils.train_model``,
    ``distributed.train_multi_worker``, ``transcribe.main``), not an import."""
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)


def gpu_memory_total_mb():
    """Total memory of the first NVIDIA GPU in MiB, read from nvidia-smi; None when it cannot be read."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
        return int(out.split()[0])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def limit_gpu_memory(fraction=0.5):
    """Let TensorFlow use at most ``fraction`` of each GPU's memory (TF 2's form of the 2017 cell).

    Must run before TensorFlow touches a GPU. Where the total cannot be read it falls back to memory
    growth (allocate as needed). Returns a one-line description of what it did.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        message = "no GPU: running on CPU"
    else:
        total_mb = gpu_memory_total_mb()
        try:
            for gpu in gpus:
                if total_mb is None or fraction is None:
                    tf.config.experimental.set_memory_growth(gpu, True)
                else:
                    tf.config.set_logical_device_configuration(
                        gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(total_mb * fraction))])
        except RuntimeError as err:  # TensorFlow already started on the GPU
            return f"GPU memory settings unchanged ({err}); restart the kernel and run this cell first"
        if total_mb is None or fraction is None:
            message = f"{len(gpus)} GPU(s): memory growth on (total memory unknown)"
        else:
            message = f"{len(gpus)} GPU(s): capped at {fraction:.0%} of {total_mb} MiB each"
    print(message)
    return message
