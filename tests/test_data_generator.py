"""AudioGenerator on the tiny corpus: every clip once per epoch, batches of similar length, shapes."""
import json

import numpy as np
import pytest

from char_map import int_sequence_to_text
import data_generator
from data_generator import AudioGenerator, pack_ctc_targets, spec_augment, vis_train_features


@pytest.fixture
def gen(in_corpus):
    g = AudioGenerator(minibatch_size=4)
    g.load_train_data("train_corpus.json")
    g.load_validation_data("valid_corpus.json")
    return g


def test_every_clip_once_per_epoch_including_the_tail(gen):
    n = len(gen.train_audio_paths)
    assert n % gen.minibatch_size != 0  # the tiny corpus has a short last batch
    for _ in range(2):
        seen = sorted(i for batch in gen.batch_order("train") for i in batch)
        assert seen == list(range(n))


def test_capped_epochs_take_the_training_clips_in_turn(in_corpus):
    g = AudioGenerator(minibatch_size=4, clips_per_epoch=5)
    g.load_train_data("train_corpus.json")
    g.load_validation_data("valid_corpus.json")
    n = len(g.train_audio_paths)
    assert n > 5 and g.caps_epoch("train") and not g.caps_epoch("valid") and not g.reuse_batches
    assert g.batch_order_lengths("train") == [4, 1]
    assert sorted(i for b in g.batch_order("valid") for i in b) == list(range(len(g.valid_audio_paths)))
    ds = g.dataset("train", lambda frames: frames)
    heard = []
    for _ in range(n):  # n epochs of 5 clips: every clip exactly 5 times
        heard.append(sorted(i for b in g.batch_order("train") for i in b))
        g.train_epochs_begun += 1
        assert len(heard[-1]) == 5
    assert np.bincount(np.concatenate(heard), minlength=n).tolist() == [5] * n
    assert heard[0] != heard[1]
    # an epoch's clips depend only on its number: a resumed generator hears what the first one did
    again = AudioGenerator(minibatch_size=4, clips_per_epoch=5)
    again.load_train_data("train_corpus.json")
    again.train_epochs_begun = 3
    assert sorted(again.epoch_clips("train")) == heard[3]
    # each pass of the dataset is one epoch: the counter moves on as it starts
    g.train_epochs_begun = 0
    first = [y for _, y in ds.as_numpy_iterator()]
    assert g.train_epochs_begun == 1 and len(first) == 2 and sum(len(y) for y in first) == 5
    # a cap at or above the set's size is no cap
    whole = AudioGenerator(minibatch_size=4, clips_per_epoch=n)
    whole.load_train_data("train_corpus.json")
    assert not whole.caps_epoch("train") and whole.epoch_clips("train") == list(range(n))


def test_batches_hold_clips_of_similar_length(gen):
    durations = np.array(gen.train_durations)
    order = gen.batch_order("train")
    # each batch is a run of neighbours in duration order: its spread is the least any batch of its size has
    by_length = np.sort(durations)
    for batch in order:
        start = int(np.searchsorted(by_length, durations[batch].min()))
        assert np.ptp(durations[batch]) == pytest.approx(by_length[start + len(batch) - 1] - by_length[start])


def test_batch_shapes_are_the_batches_an_epoch_serves(in_corpus):
    g = AudioGenerator(minibatch_size=4)
    g.load_train_data("train_corpus.json")
    g.load_validation_data("valid_corpus.json")
    for partition in ("train", "valid"):
        shapes = g.batch_shapes(partition)  # read before the epoch draws its order
        served = sorted((len(b), g.get_batch(partition, b)[0]["the_input"].shape[1]) for b in g.batch_order(partition))
        assert sorted(shapes) == served


def test_get_batch_shapes_and_labels(gen):
    batch = gen.batch_order("train")[0]
    inputs, outputs = gen.get_batch("train", batch)
    x = inputs["the_input"]
    assert x.shape[0] == len(batch) and x.shape[2] == 161
    assert x.shape[1] == inputs["input_length"].max()
    for row, i in enumerate(batch):
        label = inputs["the_labels"][row][:inputs["label_length"][row]]
        assert int_sequence_to_text(label) == gen.train_texts[i]
        assert np.all(x[row, inputs["input_length"][row]:] == 0)  # padding
    assert outputs["ctc"].shape == (len(batch),)


def test_normalisation_uses_training_statistics(gen):
    # the tiny corpus has fewer than k_samples training clips, so the statistics are those of all of them:
    # every feature dimension of the training frames comes out at mean 0 and standard deviation 1
    assert len(gen.train_audio_paths) < 100
    feats = np.vstack([gen.normalise(gen.featurize(p)) for p in gen.train_audio_paths])
    np.testing.assert_allclose(feats.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(feats.std(axis=0), 1.0, atol=1e-2)
    raw = np.vstack([gen.featurize(p) for p in gen.train_audio_paths])
    np.testing.assert_allclose(gen.feats_mean, raw.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_features_are_computed_once(gen):
    path = gen.train_audio_paths[0]
    assert gen.featurize(path) is gen.featurize(path)


def test_frame_count_matches_the_features(gen):
    for g in (gen, AudioGenerator(spectrogram=False)):
        for path, duration in zip(gen.train_audio_paths[:3], gen.train_durations[:3]):
            assert g.frame_count(duration) == g.featurize(path).shape[0]


def test_mfcc_generator(in_corpus):
    g = AudioGenerator(spectrogram=False, mfcc_dim=13)
    g.load_train_data("train_corpus.json")
    inputs, _ = g.get_batch("train")
    assert inputs["the_input"].shape[2] == 13


def test_dataset_has_open_time_axis_and_all_batches(gen):
    ds = gen.dataset("train", lambda n: n)
    assert ds.element_spec[0].shape.as_list() == [None, None, 161]
    batches = list(ds.as_numpy_iterator())
    assert sum(x.shape[0] for x, _ in batches) == len(gen.train_audio_paths)
    assert len({x.shape[1] for x, _ in batches}) > 1
    x, y = batches[0]
    assert y[:, 0].max() <= x.shape[1] and np.all(y[:, 1] > 0)


def test_dataset_runs_without_autotuning(gen):
    # tf.data's autotuning thread made Keras wait about 2 s whenever it dropped an iterator, which it
    # does at every other epoch's start and at each validation pass
    ds = gen.dataset("valid", lambda n: n)
    assert ds.options().autotune.enabled is False
    assert len(list(ds.as_numpy_iterator())) == len(gen.batch_order_lengths("valid"))


def _epoch_batches(ds):
    return {tuple(y[:, 2:].ravel()): (x, y) for x, y in ds.as_numpy_iterator()}


def test_dataset_serves_the_same_batches_each_epoch_in_a_new_order(gen):
    ds = gen.dataset("train", lambda n: n)
    first, second = list(ds.as_numpy_iterator()), list(ds.as_numpy_iterator())
    assert [y.tolist() for _, y in first] != [y.tolist() for _, y in second]  # shuffled batch order
    by_label, again = _epoch_batches(ds), _epoch_batches(ds)
    assert by_label.keys() == again.keys()
    for key, (x, y) in by_label.items():
        np.testing.assert_array_equal(x, again[key][0])
    assert gen.epochs_served["train"] == 4


def test_masked_batches_are_built_afresh_each_epoch(in_corpus):
    g = AudioGenerator(minibatch_size=4, augment=True)
    g.load_train_data("train_corpus.json")
    ds = g.dataset("train", lambda n: n)
    one, two = _epoch_batches(ds), _epoch_batches(ds)
    assert any(not np.array_equal(x, two[key][0]) for key, (x, _) in one.items())


def test_next_generators_cycle(gen, in_corpus):
    gen.load_test_data("valid_corpus.json")
    for stream in (gen.next_train(), gen.next_valid(), gen.next_test()):
        first, _ = next(stream)
        assert first["the_input"].ndim == 3


def test_drop_unfit_keeps_exactly_the_clips_ctc_can_align():
    g = AudioGenerator()
    texts = ["hello", "help", "aaa", "abc"]  # need 6, 4, 5 and 3 output frames
    g.splits["train"] = data_generator.Clips([f"{t}.wav" for t in texts], [1.0] * len(texts), texts)
    assert g.drop_unfit("train", lambda frames: 5) == 1  # "hello" needs a sixth frame for its "ll"
    assert g.train_texts == ["help", "aaa", "abc"]
    assert g.drop_unfit("train", lambda frames: 4) == 1
    assert g.train_texts == ["help", "abc"] and g.train_audio_paths == ["help.wav", "abc.wav"]
    assert g.drop_unfit("train", lambda frames: 4) == 0


def test_drop_unfit_asks_the_model_for_each_clips_own_frames(gen):
    # the output length the model gives each clip's feature frames, against what its transcript needs
    frames = {i: gen.frame_count(d) for i, d in enumerate(gen.train_durations)}
    texts = list(gen.train_texts)
    # a stride between the clips' frames per needed output frame: some transcripts fit, some do not
    # the median clip's frames per needed frame, as a model's stride: the clips above it fit, those below not
    stride = float(np.median([frames[i] / data_generator.ctc_frames_needed(t) for i, t in enumerate(texts)]))
    fits = [int(frames[i] / stride) >= data_generator.ctc_frames_needed(t) for i, t in enumerate(texts)]
    assert 0 < sum(fits) < len(texts)
    assert gen.drop_unfit("train", lambda n: int(n / stride)) == fits.count(False)
    assert gen.train_texts == [t for t, fit in zip(texts, fits) if fit]


def test_bad_descriptions(tmp_path, in_corpus, capsys):
    lines = [json.loads(line) for line in open("train_corpus.json")]
    lines[0]["text"] = "caf\u00e9 au lait"
    lines[1]["duration"] = 99.0
    desc = tmp_path / "desc.json"
    desc.write_text("".join(json.dumps(line) + "\n" for line in lines))
    g = AudioGenerator()
    g.load_metadata_from_desc_file(str(desc), "train")
    assert len(g.train_audio_paths) == len(lines) - 2
    out = capsys.readouterr().out
    assert lines[0]["key"] in out and "not in the alphabet" in out and "longer than 10.0 s" in out
    with pytest.raises(FileNotFoundError, match="missing.json.*create_desc_json"):
        g.load_metadata_from_desc_file("missing.json", "train")
    desc.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1"):
        g.load_metadata_from_desc_file(str(desc), "train")


def test_unreadable_clips_are_left_out_by_prepare(gen, capsys):
    gen.train_audio_paths[0] = "LibriSpeech/nowhere.wav"
    n = len(gen.train_audio_paths)
    assert gen.prepare("train") == 1
    assert len(gen.train_audio_paths) == n - 1
    assert "nowhere.wav: file not found" in capsys.readouterr().out


def test_pack_ctc_targets():
    packed = pack_ctc_targets([[3, 4, 5], [7]], [50, 40])
    assert packed.tolist() == [[50, 3, 3, 4, 5], [40, 1, 7, 0, 0]]


def test_vis_train_features(in_corpus, capsys):
    text, raw, mfcc, spec, path = vis_train_features(index=0, desc_file="train_corpus.json")
    assert spec.shape[1] == 161 and mfcc.shape[1] == 13 and raw.ndim == 1 and text
    assert "total training examples" in capsys.readouterr().out


def test_spec_augment_masks_bands_and_stretches_within_limits():
    rng = np.random.default_rng(0)
    feature = np.random.default_rng(1).normal(size=(300, 161)).astype(np.float32) + 5  # no natural zeros
    masked_bins, masked_frames = [], []
    for _ in range(200):
        masked = spec_augment(feature, rng)
        assert masked.shape == feature.shape and masked.dtype == feature.dtype
        zero = masked == 0
        bins, frames = zero.all(axis=0), zero.all(axis=1)
        # every zero lies in a blanked band or a blanked stretch; the rest is untouched
        assert np.array_equal(zero, bins[None, :] | frames[:, None])
        assert np.array_equal(masked[~zero], feature[~zero])
        masked_bins.append(bins.sum())
        masked_frames.append(frames.sum())
    assert max(masked_bins) <= data_generator.FREQ_MASKS * int(data_generator.FREQ_MASK_WIDTH * 161)
    assert max(masked_frames) <= data_generator.TIME_MASKS * data_generator.TIME_MASK_FRAMES
    assert np.mean(masked_bins) > 5 and np.mean(masked_frames) > 5  # it does mask, most of the time
    assert np.array_equal(feature, np.random.default_rng(1).normal(size=(300, 161)).astype(np.float32) + 5)


def test_augment_touches_training_batches_only(in_corpus):
    plain, augmented = AudioGenerator(minibatch_size=4), AudioGenerator(minibatch_size=4, augment=True)
    for g in (plain, augmented):
        g.load_train_data("train_corpus.json")
        g.load_validation_data("valid_corpus.json")
    batches = {}
    for partition in ("train", "valid"):
        batch = plain.batch_order(partition)[0]
        batches[partition] = [g.get_batch(partition, batch)[0]["the_input"] for g in (plain, augmented)]
    assert np.array_equal(*batches["valid"])
    x_plain, x_augmented = batches["train"]
    changed = x_plain != x_augmented
    assert changed.any()
    assert np.all(x_augmented[changed] == 0)  # masking only blanks values, to the training mean
