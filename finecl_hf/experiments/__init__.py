"""Experiments built from the three stages: the demo (`finecl demo`) and the controlled label-noise experiment
(`finecl reproduce`: `design` says what it compares, `reproduction` runs it, `reproduction_report` reports it).
`pipeline` holds what they share: paths, budgets, and the stage command lines they run.

Each stage runs as its own `finecl` process (printed before it runs, so every experiment doubles as a recipe).
Nothing heavy is imported here: the experiments' parsers are cheap, and the stages import their own libraries.
"""
