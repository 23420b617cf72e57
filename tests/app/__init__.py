"""App layer: widgets, screens and the `grove` command line, driven through Textual's pilot
(`tests.app_helpers.explorer` boots the explorer) against a real in-process server."""
