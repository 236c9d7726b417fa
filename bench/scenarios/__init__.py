"""One module per scenario; each exposes `add_arguments(parser)` and `run(ctx) -> Outcome`."""
