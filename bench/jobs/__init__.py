"""One module per bench section. Each declares

    NAME     the section's name (the module's name; `--only NAME`, bench/sections/NAME.md)
    DEPENDS  the sections whose outputs it reads (bench/work/...), run before it
    OUTPUTS  the paths under the work folder it leaves for the sections that depend on it (optional: () when
             none depends on it); a dependency whose outputs are all present is not run again
    run(work) -> list[str]   measure, and return the section's markdown lines (its "## title" first)

bench/run.py lists the sections in the order bench/results.md shows them, runs them and assembles the results.
"""
