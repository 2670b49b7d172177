from slimpipe.cli import options

HELP = "train a model on a PaddleX-format dataset and export it"


def add_arguments(cmd):
    from slimpipe import defaults
    from slimpipe.cli.docs import help_text

    cmd.add_argument("--dataset", required=True, help=help_text("train", "dataset"))
    cmd.add_argument("--task", default=defaults.TASK, help=help_text("train", "task", defaults.TASK))
    cmd.add_argument("--arch", default=None, help="architecture (default: the task's, mobilenetv2)")
    cmd.add_argument("--input-size", type=options.size, default=None, help="N or HxW (default: the arch's)")
    cmd.add_argument("--arch-options", type=options.key_values, default={}, help="e.g. scale=0.5")
    options.add_output(cmd, "model directory to write")
    options.add_train_settings(cmd, "train", epochs=defaults.TRAIN_EPOCHS, learning_rate=defaults.TRAIN_LEARNING_RATE)


def run(args):
    from slimpipe.stages.train import train

    train(args.dataset, args.out, task=args.task, arch=args.arch, epochs=args.epochs, input_size=args.input_size,
          arch_options=args.arch_options, batch_size=args.batch_size, learning_rate=args.learning_rate,
          seed=args.seed, overwrite=args.overwrite)
