"""``vlrerank eval``: ranking metrics, calibration and threshold advice on labelled data.

Uses only the public :class:`vlrerank.Reranker` API. :mod:`.data` loads the data, :mod:`.runner`
scores and stores pairs (resumably), :mod:`.metrics` and :mod:`.calibrate` analyse them,
:mod:`.report` writes the reports and the calibrator file.
"""
