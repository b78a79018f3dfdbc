"""Our final model beside an off-the-shelf recogniser on the same validation clips: WER, CER and speed.

Run from the project root after `make all`:  python -m bench.baseline [--limit N]

The off-the-shelf system is CMU PocketSphinx 5 (``pocketsphinx`` on PyPI): a classic HMM recogniser
with its own US English acoustic model, 3-gram language model and pronouncing dictionary, all shipped in
the wheel and run offline. It was trained on far more (real) speech than our few hours of synthetic
clips, but never on this corpus' voices or sentences. Our model is decoded greedily and with the word LM,
spelling freely and held to its words (``transcribe.py``'s decoders). Prints one table row per system:
WER, CER (jiwer, over the whole set) and seconds of computing per second of audio. This is a benchmark,
not a test: it takes several minutes.
"""
import argparse
import time

import soundfile

import transcribe


def evaluate(name, transcribe_one, clips):
    """(name, WER, CER, seconds of computing per second of audio) of one system over the clips."""
    references, hypotheses, audio_seconds = [], [], 0.0
    started = time.time()
    for path, reference in clips:
        hypotheses.append(transcribe_one(path))
        references.append(reference)
        audio_seconds += soundfile.info(path).duration
    wer, cer = transcribe.error_rates(references, hypotheses)
    return name, wer, cer, (time.time() - started) / audio_seconds


def our_system(model, audio_gen, decoder_name, lm_path):
    """A function path -> transcript: our model (``transcribe.load_transcriber``) with one of
    transcribe.py's decoders."""
    decode = transcribe.make_decoder(decoder_name, lm_path)

    def transcribe_one(path):
        probs = transcribe.clip_probabilities(model, audio_gen, path)
        return decode(probs, len(probs))

    return transcribe_one


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--corpus", default="valid_corpus.json", help="the clips to score")
    parser.add_argument("--model", default=transcribe.DEFAULT_MODEL, help="the trained model")
    parser.add_argument("--lm", default=transcribe.DEFAULT_LM, help="the word language model's text")
    parser.add_argument("--train-json", help="normalisation statistics (default: the set the model's pickle names)")
    parser.add_argument("--limit", type=int, help="only the first N clips (a quick look)")
    args = parser.parse_args(argv)
    clips = transcribe.read_corpus(args.corpus)[:args.limit]
    print(f"{len(clips)} clips of {args.corpus}; our model: {args.model}", flush=True)
    rows = [evaluate("pocketsphinx 5.1.1 (en-us)", transcribe.pocketsphinx_transcriber(), clips)]
    model, audio_gen = transcribe.load_transcriber(args.model, args.train_json)  # once, for every decoder
    for decoder_name in ("greedy", "lm", "lexicon"):
        system = our_system(model, audio_gen, decoder_name, args.lm)
        rows.append(evaluate(f"ours, {decoder_name} decoding", system, clips))
    print(f"{'system':<28} {'WER':>7} {'CER':>7} {'s per s of audio':>17}")
    for name, wer, cer, rtf in rows:
        print(f"{name:<28} {wer:>7.1%} {cer:>7.1%} {rtf:>17.3f}")


if __name__ == "__main__":
    main()
