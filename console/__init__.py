"""`chatctl`: the operator's client of the admin API (docs/admin.md): a live Textual console and one subcommand
per action, with --json output for scripts."""
