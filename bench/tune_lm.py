"""Choose the LM weight (alpha) and word bonus (beta) of an LM decoder on training clips.

Run from the project root after `make all`:  python -m bench.tune_lm [--clips 200] [--decoder lm|lexicon]

Tuning never looks at the validation set, which is what the decoder is then judged on. It uses
``--clips`` training clips instead, and because every training sentence is also in the LM's text (the
text leaves out only the validation sentences), the LM used here is trained on that text less the tuning
clips' sentences: the tuning clips are then new sentences to the LM, as validation clips are. Prints WER
and CER for every (alpha, beta) of the grid, greedy and LM-free beam search on the same clips for
reference, and the best pair, to be copied into decoding.LM_WEIGHT and decoding.WORD_BONUS (``--decoder
lm``, the lexicon-free search) or decoding.LEXICON_LM_WEIGHT and decoding.LEXICON_WORD_SCORE (``lexicon``).
"""
import argparse
import random
import time

import decoding
import language_model
import transcribe

SEED = 0  # which training clips tune
ALPHAS = (0.3, 0.5, 0.8, 1.2, 1.8)
BETAS = (-1.0, 0.0, 1.0, 2.0, 3.0)
LM_DECODERS = {"lm": decoding.BeamDecoder, "lexicon": decoding.LexiconDecoder}


def tuning_clips(train_json, n, seed=SEED):
    """``n`` training clips drawn at random: [(path, text)]."""
    clips = transcribe.read_corpus(train_json)
    return random.Random(seed).sample(clips, min(n, len(clips)))


def held_out_lm(lm_text, held_out_texts):
    """An NgramLM of ``lm_text`` without the sentences in ``held_out_texts``."""
    held_out = {tuple(language_model.words_of(text)) for text in held_out_texts}
    sentences = [s for s in language_model.read_sentences(lm_text) if tuple(s) not in held_out]
    return language_model.NgramLM(sentences), len(held_out)


def score(decode, probs, references):
    """(WER, CER, ms per clip) of one decoder over clips' probabilities."""
    started = time.time()
    hypotheses = [decode(p, len(p)) for p in probs]
    wer, cer = transcribe.error_rates(references, hypotheses)
    return wer, cer, 1000 * (time.time() - started) / len(probs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=transcribe.DEFAULT_MODEL, help="the trained model")
    parser.add_argument("--train-json", default=transcribe.DEFAULT_TRAIN_JSON,
                        help="the training clips to tune on (features are normalised as the model's training did)")
    parser.add_argument("--lm", default=transcribe.DEFAULT_LM, help="LM training text")
    parser.add_argument("--clips", type=int, default=200, help="training clips to tune on")
    parser.add_argument("--alphas", type=float, nargs="+", default=ALPHAS, help="language-model weights to try")
    parser.add_argument("--betas", type=float, nargs="+", default=BETAS, help="word bonuses to try")
    parser.add_argument("--decoder", choices=sorted(LM_DECODERS), default="lm", help="the decoder to tune")
    args = parser.parse_args(argv)

    model, audio_gen = transcribe.load_transcriber(args.model)
    clips = tuning_clips(args.train_json, args.clips)
    probs = [transcribe.clip_probabilities(model, audio_gen, path) for path, _ in clips]
    references = [text for _, text in clips]
    lm, held = held_out_lm(args.lm, references)
    print(f"{len(clips)} training clips of {args.train_json}, model {args.model}; LM without their {held} "
          f"sentences ({len(lm.vocabulary)} words)", flush=True)
    for name, decode in (("greedy", transcribe.make_decoder("greedy")), ("beam, no LM", decoding.BeamDecoder())):
        wer, cer, ms = score(decode, probs, references)
        print(f"{name:<24} WER {wer:.4f}  CER {cer:.4f}  {ms:6.1f} ms/clip", flush=True)
    results = {}
    for alpha in args.alphas:
        for beta in args.betas:
            results[alpha, beta] = score(LM_DECODERS[args.decoder](lm, alpha, beta), probs, references)
            wer, cer, ms = results[alpha, beta]
            print(f"alpha {alpha:<4} beta {beta:<5}     WER {wer:.4f}  CER {cer:.4f}  {ms:6.1f} ms/clip", flush=True)
    best = min(results, key=lambda k: results[k][:2])
    print(f"best: alpha {best[0]} beta {best[1]}: WER {results[best][0]:.4f} CER {results[best][1]:.4f}")


if __name__ == "__main__":
    main()
