"""clinfair leaderboard: result folders of ``clinfair eval`` -> tables, a static page, the Hub, a Space.

* :mod:`clinfair.leaderboard.runs` reads and checks result folders and decides which runs may be
  compared (the mixing policy);
* :mod:`clinfair.leaderboard.statistics` recomputes every number from the predictions (paper
  protocol with bootstrap intervals, exact accuracy, invalid rate, the metrics report);
  :mod:`clinfair.leaderboard.ranking` decides which runs compete and which value is best;
  :mod:`clinfair.leaderboard.tables` assembles the tables and :mod:`clinfair.leaderboard.markdown`
  renders them; :mod:`clinfair.leaderboard.plots` and :mod:`clinfair.leaderboard.page` draw the figures
  and the self-contained ``index.html``; :mod:`clinfair.leaderboard.dynamics` reads training curves;
* :mod:`clinfair.leaderboard.build` writes the build folder atomically; :mod:`clinfair.leaderboard.hub`
  publishes it in one Hub commit; :mod:`clinfair.leaderboard.space.app` is the Gradio app;
* :mod:`clinfair.commands.leaderboard` is ``clinfair leaderboard build | push | serve``.

See docs/leaderboard.md.
"""
