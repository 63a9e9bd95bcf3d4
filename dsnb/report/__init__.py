"""Building blocks of every page and figure: the HTML page, the shared run figures, the palette.

- ``page``: a self-contained HTML page from text blocks and plotly figures (opens offline)
- ``figures``: training curves, pass@k curves and bars, pure functions returning plotly figures
- ``palette``: one colour per method family, everywhere

The pages themselves live with what they report: ``dsnb.theory.report``, ``dsnb.study.report``,
``dsnb.study.demo``. Nothing is imported here.
"""
