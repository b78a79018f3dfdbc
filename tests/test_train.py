"""train_model on the tiny corpus: files written, weights reload, resume after a kill, NaN, strategies."""
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sample_models as sm
import train_utils
from train_utils import train_model

ROOT = Path(__file__).resolve().parents[1]


def small_model():
    return sm.rnn_model(input_dim=161, units=16, activation="tanh")


def test_history_and_weights_round_trip(in_corpus, tmp_path, capsys):
    model = small_model()
    history = train_model(model, "m.pickle", "m.h5", epochs=2, results_dir=tmp_path)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "val_loss" in out
    saved = pickle.load(open(tmp_path / "m.pickle", "rb"))
    assert saved["loss"] == history["loss"] and len(saved["val_loss"]) == 2
    assert all(np.isfinite(saved["loss"] + saved["val_loss"]))
    assert saved["build"] == {"function": "rnn_model",
                              "kwargs": {"input_dim": 161, "units": 16, "activation": "tanh", "output_dim": 29}}
    assert saved["stopped"] is None
    fresh = sm.build_from_spec(saved["build"])
    fresh.load_weights(tmp_path / "m.h5")
    x = np.random.default_rng(0).normal(size=(2, 120, 161)).astype("float32")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert not list(tmp_path.glob("*.partial*"))  # no temporary files left behind
    assert (tmp_path / "m.resume.npz").exists()  # kept, so that a finished run can be extended


def test_extending_a_finished_run_keeps_the_optimizer_state(in_corpus, tmp_path, capsys):
    import keras

    class LowerRate(keras.callbacks.Callback):  # as ReduceLROnPlateau would
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate.assign(0.001)

    train_model(small_model(), "m.pickle", "m.h5", epochs=2, results_dir=tmp_path,
                optimizer=keras.optimizers.Adam(learning_rate=0.01), callbacks=[LowerRate()])
    steps = int(np.load(tmp_path / "m.resume.npz")["v0"])  # the iteration count comes first
    assert steps > 0
    capsys.readouterr()
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    history = train_model(small_model(), "m.pickle", "m.h5", epochs=3, results_dir=tmp_path,
                          optimizer=optimizer)
    out = capsys.readouterr().out
    assert "resuming m.h5 after epoch 2 of 3" in out and "optimizer state not found" not in out
    assert len(history["loss"]) == 3
    assert float(optimizer.learning_rate) == pytest.approx(0.001)  # not the 0.01 passed in again
    assert int(optimizer.iterations) == steps * 3 // 2


def test_hold_then_cosine_holds_falls_to_the_floor_and_follows_a_resumed_run(in_corpus, tmp_path):
    import keras

    rate = train_utils.hold_then_cosine(0.002, 10).schedule
    rates = [rate(e) for e in range(10)]
    assert rates[:5] == [0.002] * 5
    assert all(a > b for a, b in zip(rates[4:], rates[5:]))  # falls every epoch after the hold
    assert rates[-1] == pytest.approx(0.002 * 0.02)
    assert rate(0) == train_utils.hold_then_cosine(0.002, 1).schedule(0) == 0.002  # too short to fall
    assert rate(12) == train_utils.hold_then_cosine(0.002, 1).schedule(3) == pytest.approx(0.002 * 0.02)

    def run(epochs):
        return train_model(small_model(), "m.pickle", "m.h5", epochs=epochs, results_dir=tmp_path,
                           optimizer=keras.optimizers.Adam(learning_rate=0.002),
                           callbacks=[train_utils.hold_then_cosine(0.002, 4)], verbose=0)

    run(3)  # interrupted after 3 of 4 epochs, say; the resumed run must set epoch 4's rate, not epoch 1's
    history = run(4)
    expected = [train_utils.hold_then_cosine(0.002, 4).schedule(e) for e in range(4)]
    assert history["learning_rate"] == pytest.approx(expected)
    assert expected[0] > expected[3]


def test_a_model_trains_again_as_its_history_says_with_a_changed_argument(in_corpus, tmp_path, capsys):
    import keras

    first = train_model(small_model(), "m.pickle", "m.h5", epochs=3, results_dir=tmp_path, minibatch_size=4,
                        optimizer=keras.optimizers.Adam(learning_rate=0.002, clipnorm=3), clips_per_epoch=6,
                        callbacks=[train_utils.hold_then_cosine(0.002, 3)], spec_augment=True, verbose=0)
    again_path = tmp_path / "second" / "m.h5"

    status = train_utils.main(["--like", str(tmp_path / "m.h5"), "--save", str(again_path), "--set", "units=8"])

    again = train_utils.load_history(again_path.with_suffix(".pickle"))
    assert status == 0 and "Epoch 3/3" in capsys.readouterr().out
    assert again["build"] == dict(first["build"], kwargs=dict(first["build"]["kwargs"], units=8))
    assert again["learning_rate"] == pytest.approx(first["learning_rate"]) and len(again["loss"]) == 3
    assert again["optimizer"]["class_name"] == "Adam" and again["optimizer"]["config"]["clipnorm"] == 3
    for setting in ("features", "train_json", "minibatch_size", "clips_per_epoch", "spec_augment", "epochs_planned"):
        assert again[setting] == first[setting], setting
    assert again_path.exists() and again_path.with_suffix(".norm.npz").exists()

    del first["optimizer"]  # a history from before optimizers were recorded must be told which
    train_utils.save_history(first, tmp_path / "m.pickle")
    with pytest.raises(SystemExit) as stopped:
        train_utils.main(["--like", str(tmp_path / "m.h5"), "--save", str(tmp_path / "third" / "m.h5")])
    assert stopped.value.code == 2 and "m.pickle does not record its optimizer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_utils.main(["--like", str(tmp_path / "m.h5"), "--save", "x.h5", "--set", "units"])
    assert "write NAME=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_utils.main(["--like", str(tmp_path / "m.h5"), "--save", "x.h5", "--set", "unit=8"])
    assert "rnn_model has no argument unit; its arguments: input_dim, units" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_utils.main(["--like", str(tmp_path / "none.h5"), "--save", "x.h5"])
    assert "none.pickle: not found" in capsys.readouterr().err


def test_capped_epochs_hear_the_same_clips_when_resumed(in_corpus, tmp_path, monkeypatch, capsys):
    from data_generator import AudioGenerator

    heard = []  # (epoch number, clips) each time an epoch's training clips are drawn
    drawn = AudioGenerator.epoch_clips

    def recording(self, partition):
        clips = drawn(self, partition)
        if partition == "train":
            heard.append((self.train_epochs_begun, sorted(clips)))
        return clips

    monkeypatch.setattr(AudioGenerator, "epoch_clips", recording)
    history = train_model(small_model(), "m.pickle", "m.h5", epochs=2, results_dir=tmp_path,
                          clips_per_epoch=5)
    out = capsys.readouterr().out
    assert history["clips_per_epoch"] == 5 and "training 5 of " in out and " clips per epoch" in out
    assert [epoch for epoch, _ in heard] == [0, 1]  # Keras draws each epoch's batches once
    first_run = list(heard)
    train_model(small_model(), "m.pickle", "m.h5", epochs=3, results_dir=tmp_path, clips_per_epoch=5)
    assert "resuming m.h5 after epoch 2 of 3" in capsys.readouterr().out
    assert [epoch for epoch, _ in heard[2:]] == [2]
    fresh = AudioGenerator(minibatch_size=32, clips_per_epoch=5)
    fresh.load_train_data("train_corpus.json")
    fresh.train_epochs_begun = 2  # what an uninterrupted run would hear in its third epoch
    assert heard[2][1] == sorted(drawn(fresh, "train")) and heard[2][1] != first_run[1][1]


def test_batch_size_default_and_spec_augment_are_recorded(in_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(train_utils.DEFAULTS, "minibatch_size", 20)
    train_utils.set_defaults(minibatch_size=3)  # the notebook's BATCH_SIZE reaches every later call
    history = train_model(small_model(), "m.pickle", "m.h5", epochs=1, results_dir=tmp_path, spec_augment=True)
    assert "batches of 3" in capsys.readouterr().out
    assert history["minibatch_size"] == 3 and history["spec_augment"] is True
    history = train_model(small_model(), "n.pickle", "n.h5", epochs=1, results_dir=tmp_path, minibatch_size=5)
    assert history["minibatch_size"] == 5 and history["spec_augment"] is False
    with pytest.raises(TypeError, match="unknown defaults"):
        train_utils.set_defaults(batch=3)


def test_mismatched_features_are_explained(in_corpus, tmp_path):
    with pytest.raises(ValueError, match="input_dim=13"):
        train_model(small_model(), "m.pickle", "m.h5", spectrogram=False, results_dir=tmp_path)


def test_transcripts_longer_than_the_output_are_left_out(in_corpus, tmp_path, capsys):
    # a stride of 40 leaves about 2.5 output frames per second: most transcripts cannot fit
    model = sm.cnn_rnn_model(input_dim=161, filters=8, kernel_size=3, conv_stride=40,
                             conv_border_mode="same", units=8)
    with pytest.raises(ValueError, match="no usable train clips"):
        train_model(model, "m.pickle", "m.h5", epochs=1, results_dir=tmp_path)
    assert "needs more output frames than the model gives them" in capsys.readouterr().out


def test_undefined_loss_stops_training_and_keeps_good_weights(in_corpus, tmp_path, capsys):
    import keras

    model = small_model()
    history = train_model(model, "m.pickle", "m.h5", epochs=1, results_dir=tmp_path)
    good = [w.copy() for w in model.get_weights()]
    history = train_model(model, "m.pickle", "m.h5", epochs=4, results_dir=tmp_path, resume=True,
                          optimizer=keras.optimizers.SGD(learning_rate=float("nan")))  # NaN weights after one step
    out = capsys.readouterr().out
    assert history["stopped"] and "undefined loss" in history["stopped"]
    assert "clipnorm" in out and "SimpleRNN" in out
    saved = pickle.load(open(tmp_path / "m.pickle", "rb"))
    assert saved["stopped"] == history["stopped"]
    assert all(np.isfinite(saved["loss"]))
    fresh = small_model()
    fresh.load_weights(tmp_path / "m.h5")
    for kept, on_disk, in_caller in zip(good, fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(on_disk, kept)  # the file still holds the last good epoch
        np.testing.assert_array_equal(in_caller, kept)  # and the caller's model has it back
    assert saved["loss"] == history["loss"] and len(saved["loss"]) == 1


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    import numpy as np
    import keras, sample_models as sm
    from train_utils import train_model

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # after the second epoch was written, as a power cut would
                os.kill(os.getpid(), signal.SIGKILL)

    class Started(keras.callbacks.Callback):  # the weights a resumed run begins from
        def on_train_begin(self, logs=None):
            np.savez(os.path.join({results!r}, "start_" + sys.argv[1] + ".npz"), *self.model.get_weights())

    model = sm.rnn_model(input_dim=161, units=16, activation="tanh")
    train_model(model, "k.pickle", "k.h5", epochs=int(sys.argv[2]), results_dir={results!r},
                callbacks=[Kill(), Started()] if sys.argv[1] == "kill" else [Started()])
""")


def test_resume_after_a_kill(in_corpus, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(KILLED_RUN.format(root=str(ROOT), results=str(tmp_path)))
    killed = subprocess.run([sys.executable, str(script), "kill", "4"], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    first = pickle.load(open(tmp_path / "k.pickle", "rb"))
    assert len(first["loss"]) == 2
    assert (tmp_path / "k.resume.npz").exists()
    saved = small_model()
    saved.load_weights(tmp_path / "k.h5")  # epoch 2's weights, written before the kill
    resumed = subprocess.run([sys.executable, str(script), "go", "4"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming k.h5 after epoch 2 of 4" in resumed.stdout
    assert "optimizer state not found" not in resumed.stdout
    assert "Epoch 1/4" not in resumed.stdout and "Epoch 3/4" in resumed.stdout
    final = pickle.load(open(tmp_path / "k.pickle", "rb"))
    assert final["loss"][:2] == first["loss"] and len(final["loss"]) == 4
    with np.load(tmp_path / "start_go.npz") as start:  # the fresh model began from exactly those weights
        for i, weights in enumerate(saved.get_weights()):
            np.testing.assert_array_equal(start[f"arr_{i}"], weights)


def test_a_finished_run_gives_a_fresh_model_exactly_its_saved_weights(in_corpus, tmp_path, capsys):
    trained = small_model()
    train_model(trained, "m.pickle", "m.h5", epochs=1, results_dir=tmp_path, verbose=0)
    fresh = small_model()
    history = train_model(fresh, "m.pickle", "m.h5", epochs=1, results_dir=tmp_path, verbose=0)
    assert "already holds 1 trained epochs" in capsys.readouterr().out and len(history["loss"]) == 1
    for mine, theirs in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_the_normalisation_statistics_are_written_beside_the_model(in_corpus, tmp_path):
    from data_generator import AudioGenerator, file_digest, normalisation_path

    train_model(small_model(), "m.pickle", "m.h5", epochs=1, results_dir=tmp_path, verbose=0)
    reference = AudioGenerator()
    reference.load_train_data("train_corpus.json")
    with np.load(normalisation_path(tmp_path / "m.h5")) as saved:
        np.testing.assert_array_equal(saved["mean"], reference.feats_mean)
        np.testing.assert_array_equal(saved["std"], reference.feats_std)
        assert str(saved["features"]) == "spectrogram" and str(saved["train_json"]) == "train_corpus.json"
        assert str(saved["train_digest"]) == file_digest("train_corpus.json")


MIRRORED_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import sample_models as sm
    from train_utils import train_model
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    print("replicas", strategy.num_replicas_in_sync)
    model = sm.rnn_model(input_dim=161, units=16, activation="tanh")
    import numpy as np
    np.savez({results!r} + "/initial.npz", *model.get_weights())
    history = train_model(model, "mirrored.pickle", "mirrored.h5", epochs=2, strategy=strategy,
                          results_dir={results!r})
    print("history", history["loss"], history["val_loss"])
""")


def test_mirrored_strategy_over_two_cpu_devices(in_corpus, tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_RUN.format(root=str(ROOT), results=str(tmp_path)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "replicas 2" in done.stdout
    saved = pickle.load(open(tmp_path / "mirrored.pickle", "rb"))
    assert len(saved["loss"]) == 2 and all(np.isfinite(saved["loss"] + saved["val_loss"]))
    assert saved["loss"][1] < saved["loss"][0]  # the replicas' averaged gradients did train the model
    fresh = sm.build_from_spec(saved["build"])
    fresh.load_weights(tmp_path / "mirrored.h5")
    initial = np.load(tmp_path / "initial.npz")
    trained = fresh.get_weights()
    assert len(trained) == len(initial.files)
    # every trainable kernel moved away from its initial values; the saved file holds the trained model
    kernels = [i for i, w in enumerate(trained) if w.ndim == 2]
    assert kernels and all(not np.allclose(trained[i], initial[f"arr_{i}"]) for i in kernels)


def test_resume_only_on_the_same_model_features_and_data(tmp_path, capsys):
    pickle_file, model_file = tmp_path / "m.pickle", tmp_path / "m.h5"
    features = {"spectrogram": False, "mfcc_dim": 13}
    saved = {"loss": [9.0, 8.0], "val_loss": [9.5, 8.5], "stopped": None, "build": {"function": "f"},
             "features": features, "train_json": "train_corpus.json"}
    pickle_file.write_bytes(pickle.dumps(saved))
    model_file.write_bytes(b"weights")
    same = (pickle_file, model_file, {"function": "f"}, features)
    assert train_utils._resume_point(*same, "train_corpus.json", 20)["loss"] == [9.0, 8.0]
    assert train_utils._resume_point(*same, "train_corpus_large.json", 20) is None
    assert "trained on train_corpus.json, not train_corpus_large.json" in capsys.readouterr().out
    assert train_utils._resume_point(pickle_file, model_file, {"function": "g"}, features,
                                     "train_corpus.json", 20) is None
    assert train_utils._resume_point(*same, "train_corpus.json", 1) is None  # more epochs than asked
    capsys.readouterr()
    assert train_utils._resume_point(*same, "train_corpus.json", 20, clips_per_epoch=500) is not None
    assert "trained with clips_per_epoch=None; its remaining epochs hear clips_per_epoch=500" in \
        capsys.readouterr().out  # another cap goes on, but says so


def test_clip_flops_counts_each_layers_products():
    import sample_models as sm

    frames = 101
    gru = sm.rnn_model(input_dim=7, units=5, activation="tanh")  # GRU 7 -> 5, Dense 5 -> 29
    assert train_utils.clip_flops(gru, frames) == 2 * frames * (7 * 15 + 5 * 15 + 5 * 29)
    conv = sm.cnn_rnn_model(input_dim=7, filters=4, kernel_size=3, conv_stride=2, conv_border_mode="valid",
                            units=6)
    out = sm.cnn_output_length(frames, 3, "valid", 2)  # 50 frames after the strided convolution
    assert train_utils.clip_flops(conv, frames) == 2 * (out * 3 * 7 * 4 + out * (4 * 6 + 6 * 6) + out * 6 * 29)
    both = sm.bidirectional_rnn_model(input_dim=7, units=5)  # two GRUs 7 -> 5, Dense 10 -> 29
    assert train_utils.clip_flops(both, frames) == 2 * frames * (2 * (7 * 15 + 5 * 15) + 10 * 29)


def test_training_speed_reads_the_history():
    history = {"epoch_seconds": [9.0, 2.0, 4.0, 3.0], "epoch_flops": 6e9}
    assert train_utils.training_speed(history) == (3.0, 2.0)  # the first epoch (tracing) left out
    seconds, rate = train_utils.training_speed({"epoch_seconds": [5.0]})
    assert seconds == 5.0 and rate != rate  # no count of the arithmetic: NaN
