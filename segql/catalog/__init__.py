"""The HTML catalog of a project (`segql docs`, LANGUAGE.md §16): static pages
rendered from jinja2 templates shipped in the wheel, opening from disk with no
network."""
