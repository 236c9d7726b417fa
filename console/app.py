"""`chatctl console`: the live admin console (Textual), polling the admin API.

Left: the supervision tree. Right: the actors and workers, sortable (o cycles: mailbox depth, restarts, lag,
handled, name), and the detail pane of what is selected in either. Keys act on the selection after a
confirmation: r restart the actor, s stop the (idle) room, c disconnect the user, x disable the user, D drain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Footer, Label, Static, Tree
from textual.widgets.tree import TreeNode

from chatd.clients.literal import LiteralApp, literal
from chatd.console.client import AdminClient, AdminError
from chatd.console.render import SORT_KEYS, actor_rows, dash, detail, mailbox, rows, summary

Json = dict[str, Any]
COLUMNS = ("name", "kind", "state", "mailbox", "handled", "lag", "restarts", "last exit")


class Confirm(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [("y", "answer(True)", "yes"), ("n,escape", "answer(False)", "no")]
    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Vertical { width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    Confirm Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(literal(self.question), id="question")
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class AdminApp(LiteralApp):
    TITLE = "chatd admin console"
    CSS = """
    #summary { height: 1; background: $boost; }
    #message { height: 1; color: $warning; }
    #tree { width: 40%; }
    #table { height: 2fr; }
    #detail { height: 1fr; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "restart", "restart actor"), Binding("s", "stop_room", "stop room"),
        Binding("c", "disconnect", "disconnect user"), Binding("x", "disable", "disable user"),
        Binding("D", "drain", "drain node"), Binding("o", "sort", "sort"), Binding("q", "quit", "quit"),
    ]

    def __init__(self, client: AdminClient, interval: float = 1.0) -> None:
        super().__init__()
        self.client = client
        self.interval = interval
        self.status: Json | None = None
        self.sort = "depth"
        self.selected: str | None = None  # name of the selected tree node
        self._shape: list[str] = []  # the tree's names: it is rebuilt only when they change
        self._tree_nodes: dict[str, TreeNode[Json]] = {}
        self._polling = False

    def compose(self) -> ComposeResult:
        yield Static("connecting...", id="summary")
        with Horizontal():
            yield Tree[Json]("root", id="tree")
            with Vertical():
                yield DataTable(id="table", cursor_type="row")
                yield Static("", id="detail")
        yield Static("", id="message")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        await self.poll()
        self.set_interval(self.interval, self.poll)

    # ------------------------------------------------------------------ polling and drawing

    async def poll(self) -> None:
        if self._polling:
            return
        self._polling = True
        try:
            self.status = await asyncio.to_thread(self.client.status)
        except AdminError as exc:
            self.say(f"refresh failed: {exc}")
            return
        finally:
            self._polling = False
        self.draw()

    def draw(self) -> None:
        if self.status is None:
            return
        self.query_one("#summary", Static).update(literal(summary(self.status)))
        self._draw_tree(self.status["tree"])
        self._draw_table()
        self._draw_detail()

    def _draw_tree(self, tree: Json) -> None:
        widget = self.query_one(Tree)
        all_rows = list(rows(tree))
        shape = [r.name for r in all_rows]
        if shape != self._shape:
            self._shape = shape
            widget.clear()
            widget.root.set_label(self._label(tree))
            widget.root.data = tree
            self._tree_nodes = {tree["name"]: widget.root}
            for row in all_rows[1:]:
                parent = self._tree_nodes[row.parent or tree["name"]]
                self._tree_nodes[row.name] = parent.add(self._label(row.node), data=row.node, expand=True,
                                                        allow_expand=row.kind == "supervisor")
            widget.root.expand()
        else:
            for row in all_rows:
                node = self._tree_nodes[row.name]
                node.data = row.node
                node.set_label(self._label(row.node))

    @staticmethod
    def _label(node: Json) -> Text:
        restarts = f" ↻{node['restarts']}" if node["restarts"] else ""
        box = f" [{mailbox(node)}]" if node.get("mailbox") else ""
        return literal(f"{node['name']} ({node['kind']}, {node['state']}){restarts}{box}")

    def _draw_table(self) -> None:
        assert self.status is not None
        table = self.query_one(DataTable)
        table.clear()
        for row in actor_rows(self.status, self.sort):
            n = row.node
            cells = (n["name"], n["kind"], n["state"], mailbox(n), dash(n.get("handled")), dash(n.get("lag")),
                     str(n["restarts"]), dash(n.get("last_exit")))
            table.add_row(*(literal(str(cell)) for cell in cells), key=n["name"])
        if self.selected is not None and self.selected in table.rows:
            table.move_cursor(row=table.get_row_index(self.selected), animate=False)

    def _draw_detail(self) -> None:
        node = self.selected_node()
        self.query_one("#detail", Static).update(literal(detail(node, self.status["node"].get("now"))
                                                         if node and self.status else "select an actor"))

    def selected_node(self) -> Json | None:
        if self.status is None or self.selected is None:
            return None
        return next((r.node for r in rows(self.status["tree"]) if r.name == self.selected), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.selected = str(event.row_key.value)
            self._draw_detail()

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Json]) -> None:
        if event.node.data is not None:
            self.selected = str(event.node.data["name"])
            self._draw_detail()

    def say(self, text: str) -> None:
        self.query_one("#message", Static).update(literal(text))

    # ------------------------------------------------------------------ actions

    def _act(self, question: str, call: Callable[[], Json], done: str) -> None:
        async def confirmed(yes: bool | None) -> None:
            if not yes:
                self.say("cancelled")
                return
            try:
                await asyncio.to_thread(call)
            except AdminError as exc:
                self.say(f"failed: {exc}")
                return
            self.say(done)
            await self.poll()
        self.push_screen(Confirm(question), confirmed)

    def _selected_actor(self, *kinds: str) -> Json | None:
        node = self.selected_node()
        if node is None or node["kind"] not in kinds or node.get("id") is None:
            self.say(f"select a {' or '.join(kinds)} actor first")
            return None
        return node

    def action_restart(self) -> None:
        if node := self._selected_actor("room", "user"):
            self._act(f"Restart {node['kind']} actor {node['name']}?",
                      lambda: self.client.restart(node["kind"], node["id"]), f"restarting {node['name']}")

    def action_stop_room(self) -> None:
        if node := self._selected_actor("room"):
            self._act(f"Stop room actor {node['name']} (only if idle)?",
                      lambda: self.client.stop_room(node["id"]), f"stopped {node['name']}")

    def action_disconnect(self) -> None:
        if node := self._selected_actor("user"):
            self._act(f"Close every connection of user {node['id']}?",
                      lambda: self.client.user_action("disconnect", node["id"]), f"disconnected user {node['id']}")

    def action_disable(self) -> None:
        if node := self._selected_actor("user"):
            self._act(f"DISABLE user {node['id']}? Their tokens stop working and connections close.",
                      lambda: self.client.user_action("disable", node["id"]), f"disabled user {node['id']}")

    def action_drain(self) -> None:
        self._act("DRAIN this node? Connections close (1012) and the node stops once rooms have committed.",
                  lambda: self.client.drain(), "draining")

    def action_sort(self) -> None:
        self.sort = SORT_KEYS[(SORT_KEYS.index(self.sort) + 1) % len(SORT_KEYS)]
        self.say(f"sorted by {self.sort}")
        self.draw()
