"""Untrusted text made safe to print to a terminal: every control character shown as its picture.

It lives apart from `literal` (which builds rich Text for Textual widgets) so that printing needs nothing
but the standard library: `chatctl`'s plain subcommands print through it in a core install, without the
`tui` extra.
"""

_PICTURES = {code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in "\n\t"}
_PICTURES[0x7F] = "\u2421"  # ␡
_PICTURES.update({code: "\ufffd" for code in range(0x80, 0xA0)})  # C1 controls (a single-byte CSI is 0x9b)


def visible(text: str) -> str:
    """`text` with every control character but newline and tab replaced by its visible picture (ESC
    sequences could retitle or script the terminal)."""
    return text.translate(_PICTURES)
