"""clinfair leaderboard: result folders of ``clinfair eval`` -> tables, a static page, the Hub, a Space.

* :mod:`leaderboard.runs` reads and checks result folders and decides which runs may be
  compared (the mixing policy);
* :mod:`leaderboard.tables` recomputes the paper protocol with bootstrap intervals and
  renders the tables; :mod:`leaderboard.plots` and :mod:`leaderboard.page` draw the figures
  and the self-contained ``index.html``; :mod:`leaderboard.dynamics` reads training curves;
* :mod:`leaderboard.build` writes the build folder atomically; :mod:`leaderboard.hub`
  publishes it in one Hub commit; :mod:`leaderboard.space.app` is the Gradio app;
* :mod:`clinfair.commands.leaderboard` is ``clinfair leaderboard build | push | serve``.

See docs/leaderboard.md.
"""
