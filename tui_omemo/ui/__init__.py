"""The Textual app (DESIGN.md §2): `app.TuiOmemoApp` and what it is made of.

`screens/` full screens (thin: compose, bindings, routing), `dialogs/` modal screens, `widgets/`
the pieces they are built from, `text.py` the one function that makes peer text safe to show,
`clock.py` the injected sense of time, `commands.py` the command palette. The UI imports only
`service.api`, `model`, `events` and `config`; styles live in `styles/*.tcss`.
"""
