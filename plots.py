"""Figures: one clip (its waveform, spectrogram and MFCCs) and the loss per epoch of trained models.

Each function draws from arrays it is given and loads nothing from disk: ``data_generator.vis_train_features``
reads the clip, ``train_utils.load_histories`` the histories. matplotlib is imported inside each function, so
the modules that import this one (data_generator, train_utils, and through them transcribe) load no plotting
library until a figure is drawn. Each function shows its figure, or with ``show=False`` returns it unshown.
"""
import numpy as np

import utils


def _show_or_return(fig, show):
    """Show ``fig`` (in the notebook, below the cell), or return it unshown when ``show`` is false."""
    if not show:
        return fig
    import matplotlib.pyplot as plt

    plt.show()


# ------------------------------------------------------------------------------------------------ one clip
def plot_raw_audio(vis_raw_audio, sample_rate=utils.SAMPLE_RATE, show=True):
    """Waveform against time in seconds."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 3))
    ax = fig.add_subplot(111)
    seconds = np.arange(len(vis_raw_audio)) / sample_rate
    ax.plot(seconds, vis_raw_audio)
    ax.set_title("Audio Signal")
    ax.set_xlabel("Time (s)")
    ax.set_ylabel("Amplitude")
    ax.set_xlim(0, seconds[-1] if len(seconds) else 1)
    return _show_or_return(fig, show)


def _plot_feature(feature, title, ylabel, show):
    """A (frames, bins) feature as an image: time across, bins up from the lowest, with a colour bar."""
    import matplotlib.pyplot as plt
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    fig = plt.figure(figsize=(12, 5))
    ax = fig.add_subplot(111)
    image = ax.imshow(feature.T, cmap=plt.cm.jet, aspect="auto", origin="lower")
    ax.set_title(title)
    ax.set_xlabel("Time (frames of 10 ms)")
    ax.set_ylabel(ylabel)
    colorbar_axis = make_axes_locatable(ax).append_axes("right", size="3%", pad=0.1)
    plt.colorbar(image, cax=colorbar_axis)
    return _show_or_return(fig, show)


# The titles keep the 2017 notebook's American spelling: they are drawn in the committed report's figures.
def plot_mfcc_feature(vis_mfcc_feature, show=True):
    """Normalised MFCCs: coefficient against time."""
    return _plot_feature(vis_mfcc_feature, "Normalized MFCC", "MFCC coefficient", show)


def plot_spectrogram_feature(vis_spectrogram_feature, show=True):
    """Normalised log spectrogram: frequency bin (50 Hz each) against time."""
    return _plot_feature(vis_spectrogram_feature, "Normalized Spectrogram", "Frequency bin (50 Hz)", show)


# ------------------------------------------------------------------------------------------ comparing runs
def plot_histories(histories, show=True):
    """Training and validation loss per epoch of every model ({name: history}, as
    ``train_utils.load_histories`` gives them), side by side, titled, with whole-number epochs on the x
    axis and one legend to the right of both plots, clear of the lines."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    sns.set_style(style="white")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, 5), layout="constrained")
    for name, h in histories.items():
        ax1.plot(range(1, len(h["loss"]) + 1), h["loss"], label=name)
        ax2.plot(range(1, len(h["val_loss"]) + 1), h["val_loss"], label=name)
    for ax, label in ((ax1, "Training loss"), (ax2, "Validation loss")):
        ax.set_title(f"{label} per epoch (CTC loss per clip, log scale)")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # 40, not 4 x 10^1
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if histories:
        fig.legend(*ax1.get_legend_handles_labels(), loc="outside right upper", title="model")
    return _show_or_return(fig, show)
