"""Labels tied to their controls, so a screen reader names each control and a click on the label reaches it.

Dash renders a dict id ({"type": "page-param", "name": "feature"}) as its JSON string in the DOM, so a label
points at that string. A label's `for` names only the element the component gives the id: a dropdown's
button (whose own aria-labelledby names it by its value instead) or a date range's first input. So each
control also sits in a group named by the label, which screen readers announce on entering it; radio items,
which have no one element to point at, sit in a radiogroup.
"""

from __future__ import annotations

import re

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash._utils import stringify_id

LABEL_CLASS = "form-label small text-muted mb-0"
# Components whose id lands on a labelable element (a button or an input).
LABELABLE = (dcc.Dropdown, dcc.DatePickerRange, dcc.DatePickerSingle, dcc.Input, dbc.Input, dbc.Select)
GROUPS = (dbc.RadioItems, dcc.RadioItems)


def dom_id(component_id) -> str:
    """The id as the browser's DOM has it: a dict id becomes its JSON string (sorted keys, no spaces)."""
    return stringify_id(component_id)


def label_id(component_id) -> str:
    """A plain id for the control's label, made of the control's id ("page-param-feature-label")."""
    parts = component_id.values() if isinstance(component_id, dict) else [component_id]
    return re.sub(r"[^A-Za-z0-9_-]+", "-", "-".join(str(part) for part in parts)) + "-label"


def labelled(text: str, control, class_name: str = "") -> list:
    """The label and the control in a group it names: [label, group]."""
    ident = label_id(control.id)
    target = {"htmlFor": dom_id(control.id)} if isinstance(control, LABELABLE) else {}
    role = "radiogroup" if isinstance(control, GROUPS) else "group"
    return [
        html.Label(text, id=ident, className=f"{LABEL_CLASS} {class_name}".strip(), **target),
        html.Div(control, role=role, **{"aria-labelledby": ident}),
    ]
