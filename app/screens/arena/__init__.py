"""The blind arena (A and B without names, one-key votes) and its leaderboard."""

from grove_explorer.app.screens.arena.leaderboard import LeaderboardScreen
from grove_explorer.app.screens.arena.screen import ArenaScreen
from grove_explorer.app.screens.arena.setup_form import ArenaSetupForm

__all__ = ["ArenaScreen", "ArenaSetupForm", "LeaderboardScreen"]
