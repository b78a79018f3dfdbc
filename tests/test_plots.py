"""plots.py's figures, drawn unshown (Agg) from small arrays: the data each one draws, its titles and axes."""
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

import plots

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def agg():
    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_raw_audio_is_drawn_against_seconds():
    audio = np.array([0.0, 0.5, -0.25, 1.0, -1.0], dtype=np.float32)
    fig = plots.plot_raw_audio(audio, sample_rate=4, show=False)
    (ax,) = fig.axes
    (line,) = ax.lines
    assert np.array_equal(line.get_ydata(), audio)
    assert np.allclose(line.get_xdata(), [0, 0.25, 0.5, 0.75, 1.0])
    assert ax.get_xlim() == (0, 1.0)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("Audio Signal", "Time (s)", "Amplitude")


def test_raw_audio_defaults_to_the_project_sample_rate():
    fig = plots.plot_raw_audio(np.zeros(16001), show=False)
    assert fig.axes[0].lines[0].get_xdata()[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("draw, title, ylabel", [
    (plots.plot_spectrogram_feature, "Normalized Spectrogram", "Frequency bin (50 Hz)"),
    (plots.plot_mfcc_feature, "Normalized MFCC", "MFCC coefficient"),
])
def test_a_feature_is_drawn_time_across_and_bins_up_with_a_colour_bar(draw, title, ylabel):
    feature = np.arange(12, dtype=np.float32).reshape(4, 3) - 5  # 4 frames of 3 bins
    fig = draw(feature, show=False)
    ax, colour_bar = fig.axes
    (image,) = ax.images
    assert np.array_equal(image.get_array(), feature.T)  # a row per bin, a column per frame
    assert image.origin == "lower"  # bin 0 at the bottom
    assert image.get_clim() == (-5, 6)
    assert colour_bar.get_ylim() == (-5, 6)  # the colour bar spans the feature's values
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (title, "Time (frames of 10 ms)", ylabel)


def test_histories_draw_each_models_losses_against_epochs_from_one():
    histories = {"model_a": {"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0]},
                 "model_b": {"loss": [9.0, 4.0], "val_loss": [8.0, 6.0]}}
    fig = plots.plot_histories(histories, show=False)
    training, validation = fig.axes
    for ax, key in ((training, "loss"), (validation, "val_loss")):
        assert [line.get_label() for line in ax.lines] == list(histories)
        for line, history in zip(ax.lines, histories.values()):
            assert list(line.get_xdata()) == list(range(1, len(history[key]) + 1))
            assert list(line.get_ydata()) == history[key]
        assert ax.get_yscale() == "log" and ax.get_xlabel() == "Epoch"
    assert training.get_title().startswith("Training loss") and validation.get_title().startswith("Validation")
    assert [text.get_text() for text in fig.legends[0].get_texts()] == list(histories)


def test_loss_plots_are_titled_with_whole_epochs_and_a_legend_clear_of_the_lines():
    history = {"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0]}
    fig = plots.plot_histories({"model_a": history, "model_b": history}, show=False)
    axes = fig.axes
    assert all(ax.get_title() for ax in axes)
    fig.canvas.draw()
    for ax in axes:
        assert all(float(t).is_integer() for t in ax.get_xticks())
        assert ax.get_legend() is None  # one legend, for the figure, outside both plots
    assert len(fig.legends) == 1
    legend = fig.legends[0].get_window_extent()
    assert all(legend.x0 >= ax.get_window_extent().x1 for ax in axes)


def test_no_histories_draw_empty_plots_without_a_legend():
    fig = plots.plot_histories({}, show=False)
    assert [len(ax.lines) for ax in fig.axes] == [0, 0] and not fig.legends


def test_shown_figures_return_nothing(monkeypatch):
    import matplotlib.pyplot as plt

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    assert plots.plot_raw_audio(np.zeros(4)) is None  # a cell ending in the call shows no Figure repr
    assert plots.plot_mfcc_feature(np.zeros((4, 3))) is None
    assert len(shown) == 2 and shown[0] is not shown[1]


def test_the_notebooks_imports_from_the_2017_modules_still_work():
    import data_generator
    import train_utils

    for name in ("plot_raw_audio", "plot_spectrogram_feature", "plot_mfcc_feature"):
        assert getattr(data_generator, name) is getattr(plots, name)
    assert train_utils.plot_histories is plots.plot_histories


def test_importing_the_modules_loads_no_plotting_library():
    # TensorFlow itself loads matplotlib, so train_utils is checked for seaborn only
    code = ("import sys, plots, data_generator\n"
            "print(sorted({'matplotlib', 'seaborn'} & {m.split('.')[0] for m in sys.modules}))\n"
            "import train_utils\n"
            "print('seaborn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "False"]
