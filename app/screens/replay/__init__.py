"""Replaying a path under another setup: the form, the launch from the explorer, the view."""
