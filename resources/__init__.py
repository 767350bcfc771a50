"""Package data: icons, themes, the demo site. Located with importlib.resources."""

from importlib.resources import files


def path(*parts: str):
    """A Traversable for a resource file, e.g. path("demo", "site.json")."""
    node = files(__name__)
    for part in parts:
        node = node / part
    return node
