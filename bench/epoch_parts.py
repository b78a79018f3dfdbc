"""Where one training epoch of a model goes: the CTC loss, the network, the batches, Keras' training step.

Run from the project root after `make corpus`:  python -m bench.epoch_parts [--model model_0]

Builds the notebook's model, takes one epoch of training batches from our data path (batches of 32,
as the notebook), and times, over those same batches after a warm-up pass: serving the batches; the CTC
loss with its gradient on random outputs of the model's shape; the network's forward and backward pass
without the loss; and ``train_on_batch`` (all of it, with the optimizer). Prints the seconds of each and
its share of ``train_on_batch``. The CTC loss is the same on the 2017 data path (it stops at each clip's
own length, whatever the batch's padding), so its share bounds what any data path can gain.
This is a benchmark, not a test.
"""
import argparse
import time

import tensorflow as tf

import train_utils
from bench.train_speed import MODELS, NOTEBOOK_BATCH
from char_map import OUTPUT_DIM
from data_generator import AudioGenerator


def seconds(run, batches, passes=2):
    """Seconds of the last of ``passes`` passes of ``run`` over every batch (the first traces graphs)."""
    for _ in range(passes):
        started = time.perf_counter()
        for inputs, targets in batches:
            run(inputs, targets)
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default="model_0", choices=[m[0] for m in MODELS], help="the notebook model to take apart")
    args = parser.parse_args(argv)
    _, build, kwargs = next(m for m in MODELS if m[0] == args.model)
    batch = kwargs.get("minibatch_size", NOTEBOOK_BATCH)
    gen = AudioGenerator(minibatch_size=batch, spectrogram=kwargs.get("spectrogram", True))
    gen.load_train_data("train_corpus.json")
    gen.prepare("train", progress=False)
    model = build()
    dataset = gen.dataset("train", model.output_length)
    batches = list(dataset)
    model.compile(optimizer=train_utils.default_optimizer(), loss=train_utils.ctc_loss, jit_compile=False)

    @tf.function(reduce_retracing=True)
    def ctc(inputs, targets):
        outputs = tf.random.normal(tf.stack([tf.shape(targets)[0], tf.reduce_max(targets[:, 0]), OUTPUT_DIM]))
        with tf.GradientTape() as tape:
            tape.watch(outputs)
            loss = tf.reduce_mean(train_utils.ctc_loss(targets, tf.nn.softmax(outputs)))
        return tape.gradient(loss, outputs)

    @tf.function(reduce_retracing=True)
    def network(inputs, targets):
        with tf.GradientTape() as tape:
            outputs = model(inputs, training=True)
            loss = tf.reduce_sum(outputs * outputs)
        return tape.gradient(loss, model.trainable_variables)

    # the dataset's second pass serves the batches its first one built
    parts = {"batches served": seconds(lambda inputs, targets: None, dataset),
             "CTC loss and gradient": seconds(ctc, batches),
             "network forward and backward": seconds(network, batches),
             "train_on_batch (all)": seconds(lambda x, y: model.train_on_batch(x, y), batches)}
    total = parts["train_on_batch (all)"]
    print(f"{args.model}: one epoch of {len(batches)} training batches of {batch}")
    for name, value in parts.items():
        print(f"{name:<30} {value:6.2f} s  {value / total:5.2f} of train_on_batch")


if __name__ == "__main__":
    main()
