"""Building blocks of every page and figure: the HTML page, the shared run figures, the palette,
method names and the noise rule.

- ``page``: a self-contained HTML page from text blocks and plotly figures (opens offline)
- ``figures``: training curves, pass@k curves and bars, small multiples; pure functions
  returning plotly figures
- ``palette``: a colour per method family, a dash per variant, log-k axes
- ``labels``: a method's name from its LossConfig fields ("DS-GRPO (γp = 1, γn = 0, ...)")
- ``noise``: 95% t-intervals and when a difference counts

The pages themselves live with what they report: ``dsnb.theory.report``, ``dsnb.study.report``,
``dsnb.study.demo``. Nothing is imported here.
"""
