"""Experiments built from the three stages: the demo (`finecl demo`: `demo`) and the controlled label-noise experiment
(`finecl reproduce`: `design` says what it compares, `reproduction_plan` which steps it takes, `reproduction` runs
them, `report_collection` / `report_markdown` / `report_plots` report it). `steps` holds what they share: paths,
budgets, the stage command lines they run, and running one. Their commands (parser and `main`) are
`finecl_hf.commands.demo` and `finecl_hf.commands.reproduce`.

Each stage runs as its own `finecl` process (printed before it runs, so every experiment doubles as a recipe).
Nothing heavy is imported here: the experiments' parsers are cheap, and the stages import their own libraries.
"""
