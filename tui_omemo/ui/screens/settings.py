"""`SettingsScreen`: every option of DESIGN.md §4 with the widget its type wants.

Booleans are switches, choices (a `Literal` such as `trust_mode`) are selects, hour counts and
other numbers are inputs checked as whole numbers of at least 1 (any other text option gets a
plain input, checked by the service). Each option shows its one-line explanation from
`SETTINGS_HELP`; the trust mode also gets the one sentence on what BTBV means.

A switch or a select saves at once; a number saves on Enter, and only when it is valid: otherwise
the reason is shown in words under the option and nothing is saved. Every save goes through
`service.update_setting`; its refusal is shown the same way and a switch or select goes back to
the stored value.

The widget is chosen from the type hints of `Settings`, so an option added there (say a `Literal`
of OMEMO versions) gets the right widget without a change here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args, get_origin, get_type_hints

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.validation import Integer
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from tui_omemo.config import SETTINGS_HELP, Settings
from tui_omemo.service.api import ChatService
from tui_omemo.ui.screens.base import ServiceScreen
from tui_omemo.ui.screens.trust import BTBV_SENTENCE
from tui_omemo.ui.widgets.key_footer import KeyFooter
from tui_omemo.ui.widgets.switch_word import SwitchWord

NUMBER_PROBLEM = "Enter a whole number, 1 or more; nothing was saved."

CHOICE_WORDS = {
    "btbv": "BTBV: blind trust before verification",
    "manual": "Manual: verified devices only",
    "auto": "Automatic",
    "0.3": "OMEMO 0.3",
    "2": "OMEMO 2",
    "online": "Online",
    "away": "Away",
    "dnd": "Do not disturb",
    "xa": "Away for long",
}
"""How a choice is shown in its select; a value not listed is shown as itself."""


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One option as the screen shows it: its name, explanation, type and choices."""

    name: str
    help: str
    kind: type
    choices: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """The name in words: `stale_after_hours` → "Stale after hours" (`mib` → MiB)."""
        words = self.name.replace("_", " ").capitalize().split(" ")
        return " ".join("MiB" if word == "mib" else word for word in words)


def option_specs() -> tuple[OptionSpec, ...]:
    """Every option of `Settings`, in declaration order, with the kind read from its type."""
    hints = get_type_hints(Settings)
    specs = []
    for name, explanation in SETTINGS_HELP.items():
        hint = hints[name]
        if get_origin(hint) is Literal:
            choices = tuple(str(choice) for choice in get_args(hint))
            specs.append(OptionSpec(name, explanation, str, choices))
        else:
            specs.append(OptionSpec(name, explanation, hint))
    return tuple(specs)


def setting_text(value: object) -> str:
    """A value in the text form `update_setting` takes (on/off, digits, the choice)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _editor(spec: OptionSpec) -> Widget:
    """The widget for one option (the id `value-<name>` and class `option-value` on each)."""
    key, kind = f"value-{spec.name}", "option-value"
    if spec.kind is bool:
        return Switch(animate=False, id=key, classes=kind)
    if spec.choices:
        options = [(CHOICE_WORDS.get(choice, choice), choice) for choice in spec.choices]
        return Select(options, allow_blank=False, compact=True, id=key, classes=kind)
    if spec.kind is int:
        number = Integer(minimum=1, failure_description=NUMBER_PROBLEM)
        return Input(type="integer", validators=[number], compact=True, id=key, classes=kind)
    return Input(compact=True, id=key, classes=kind)


class SettingsScreen(ServiceScreen):
    """The OMEMO options of DESIGN.md §4."""

    def __init__(self, service: ChatService) -> None:
        super().__init__()
        self._service = service
        self._specs = {spec.name: spec for spec in option_specs()}
        self._stored: Settings | None = None

    def compose(self) -> ComposeResult:
        yield Static(
            "Settings  (switches and choices save at once, numbers on Enter)", classes="title"
        )
        with VerticalScroll(id="options"):
            for spec in self._specs.values():
                yield from self._option(spec)
        yield KeyFooter()

    def _option(self, spec: OptionSpec) -> ComposeResult:
        with Vertical(classes="option", id=f"option-{spec.name}"):
            with Horizontal(classes="option-row"):
                yield Label(spec.title, classes="option-name")
                with Horizontal(classes="option-editor"):
                    yield _editor(spec)
                    if spec.kind is bool:
                        yield SwitchWord(f"value-{spec.name}")
            yield Static(spec.help, classes="option-help", markup=False)
            if spec.name == "trust_mode":
                yield Static(
                    BTBV_SENTENCE, classes="option-help", id="trust-mode-btbv", markup=False
                )
            yield Static("", classes="error -hidden", id=f"error-{spec.name}", markup=False)

    def on_mount(self) -> None:
        self._load()

    @work(exit_on_error=False, group="settings", exclusive=True, description="load settings")
    async def _load(self) -> None:
        self.show_settings(await self._service.settings())

    def show_settings(self, settings: Settings) -> None:
        """Put every stored value in its widget (without saving anything)."""
        self._stored = settings
        for spec in dataclasses.fields(settings):
            self._show_value(spec.name, getattr(settings, spec.name))

    def _show_value(self, name: str, value: object) -> None:
        editor = self.query_one(f"#value-{name}")
        with editor.prevent(Switch.Changed, Select.Changed, Input.Changed):
            if isinstance(editor, Switch):
                editor.value = bool(value)
            elif isinstance(editor, Select | Input):
                editor.value = setting_text(value)

    def show_problem(self, name: str, problem: str | None) -> None:
        """Show (or with None, clear) why option `name` was not saved."""
        error = self.query_one(f"#error-{name}", Static)
        error.update(problem or "")
        error.set_class(problem is None, "-hidden")
        self.query_one(f"#option-{name}").set_class(problem is not None, "-error")

    # --- editing ------------------------------------------------------------------------

    @on(Switch.Changed, ".option-value")
    def _switched(self, event: Switch.Changed) -> None:
        if event.value == event.switch.value:
            self._changed(_name(event.switch), setting_text(event.value))

    @on(Select.Changed, ".option-value")
    def _chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value == event.select.value:
            self._changed(_name(event.select), event.value)

    def _changed(self, name: str, text: str) -> None:
        """Save a switch or select the user changed; never one that only shows what is stored
        (DESIGN.md §3.11, looking changes nothing).

        A select announces its first choice as it mounts, and that message may be handled
        after the stored settings were put in place: a `Changed` whose value is no longer the
        widget's is such a stale announcement (the callers drop it), and one before the
        stored settings arrived, or equal to them, changes nothing either."""
        if self._stored is not None and text != setting_text(getattr(self._stored, name)):
            self._save(name, text)

    @on(Input.Changed, ".option-value")
    def _typed(self, event: Input.Changed) -> None:
        """Say at once when a number is not valid (it is saved only on Enter)."""
        result = event.validation_result
        problem = None if result is None or result.is_valid else NUMBER_PROBLEM
        self.show_problem(_name(event.input), problem)

    @on(Input.Submitted, ".option-value")
    def _submitted(self, event: Input.Submitted) -> None:
        name = _name(event.input)
        result = event.validation_result
        if result is not None and not result.is_valid:
            self.show_problem(name, NUMBER_PROBLEM)
            return
        self._save(name, event.value)

    @work(exit_on_error=False, group="settings-save", description="save setting")
    async def _save(self, name: str, value: str) -> None:
        try:
            settings = await self._service.update_setting(name, value)
        except ValueError as problem:
            self.show_problem(name, f"{problem}; nothing was saved.")
            typed = isinstance(self.query_one(f"#value-{name}"), Input)
            if self._stored is not None and not typed:
                self._show_value(name, getattr(self._stored, name))
            return
        self._stored = settings
        self.show_problem(name, None)
        self._show_value(name, getattr(settings, name))
        saved = setting_text(getattr(settings, name))
        self.notify(f"{self._specs[name].title}: {saved}", markup=False)


def _name(editor: Widget) -> str:
    """The option an editor belongs to (its id is `value-<name>`)."""
    assert editor.id is not None
    return editor.id.removeprefix("value-")
