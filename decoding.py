"""From per-frame character probabilities to text: greedy CTC decoding, and a model's transcripts of clips."""
import numpy as np

from char_map import BLANK_INDEX, int_sequence_to_text


def greedy_decode(probs, output_length=None):
    """Best character per frame, repeats collapsed, blanks dropped: (frames, 29) array -> text.

    ``output_length`` limits decoding to the clip's real frames when ``probs`` is padded.
    """
    probs = np.asarray(probs)
    if output_length is not None:
        probs = probs[:output_length]
    best = probs.argmax(axis=-1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return int_sequence_to_text(best[keep & (best != BLANK_INDEX)])


def features_for(input_to_softmax):
    """Spectrogram or MFCC settings that match a model's input width: (spectrogram, mfcc_dim)."""
    dim = input_to_softmax.input_shape[-1]
    return (True, 13) if dim == 161 else (False, dim)


def transcribe_clip(input_to_softmax, audio_gen, audio_path):
    """Greedy transcript of one audio file by a model, with ``audio_gen``'s normalisation."""
    data_point = audio_gen.normalize(audio_gen.featurize(audio_path))
    prediction = input_to_softmax.predict(np.expand_dims(data_point, axis=0), verbose=0)[0]
    return greedy_decode(prediction, input_to_softmax.output_length(data_point.shape[0]))


def get_predictions(index, partition, input_to_softmax, model_path, train_json=None, valid_json=None):
    """Print the true and the predicted transcript of one clip, and play it (in a notebook).

    Params:
        index (int): which clip of the partition
        partition (str): 'train' or 'validation'
        input_to_softmax (Model): the acoustic model (built with the same architecture as the weights)
        model_path (str): the trained model's file, e.g. 'results/model_end.h5'
    """
    from IPython.display import Audio, display

    from data_generator import AudioGenerator
    import train_utils

    train_json = train_json or train_utils.DEFAULTS["train_json"]
    valid_json = valid_json or train_utils.DEFAULTS["valid_json"]
    spectrogram, mfcc_dim = features_for(input_to_softmax)
    audio_gen = AudioGenerator(spectrogram=spectrogram, mfcc_dim=mfcc_dim)
    audio_gen.load_train_data(train_json)  # the training set's statistics normalise every clip
    if partition == "validation":
        audio_gen.load_validation_data(valid_json)
        transcript, audio_path = audio_gen.valid_texts[index], audio_gen.valid_audio_paths[index]
    elif partition == "train":
        transcript, audio_path = audio_gen.train_texts[index], audio_gen.train_audio_paths[index]
    else:
        raise ValueError(f"invalid partition {partition!r}: must be 'train' or 'validation'")
    input_to_softmax.load_weights(model_path)
    predicted = transcribe_clip(input_to_softmax, audio_gen, audio_path)
    print("-" * 80)
    display(Audio(audio_path))
    print(f"True transcription:\n\n{transcript}")
    print("-" * 80)
    print(f"Predicted transcription:\n\n{predicted}")
    print("-" * 80)
    return transcript, predicted
