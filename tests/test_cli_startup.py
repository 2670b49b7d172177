"""The command line a pipeline step runs pays only for its own subcommand."""
import subprocess
import sys


def loaded_after_parsing(argv: list[str]) -> set[str]:
    code = ("import sys; from slimpipe.cli import build_parser, SUBCOMMANDS; "
            f"argv = {argv!r}; build_parser(argv[0] if argv else None).parse_args(argv); "
            "print(' '.join(m for m in ('kfp', 'slimpipe.pipelines.prune_pipeline') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_a_stage_subcommand_does_not_import_the_pipeline():
    assert loaded_after_parsing(["sensitivity", "--model", "m", "--dataset", "d", "--out", "o"]) == set()


def test_run_still_reads_its_arguments_from_the_pipeline():
    assert loaded_after_parsing(["run", "--dataset", "d"]) == {"kfp", "slimpipe.pipelines.prune_pipeline"}
