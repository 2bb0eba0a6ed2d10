"""What a run shows and leaves behind, one extension a file (``Trainer.extend``):

    sample_grid.py    SampleGrid       a generator's images for fixed inputs
    checkpoint.py     Checkpoint       the run's state, written as it goes; resume
    fid.py            Score, ScorePlot a score at some steps (the FID) and its plot
    metrics_csv.py    MetricsCSV       metrics.csv, a row a step
    loss_plot.py      LossPlot         losses.png
    progress_line.py  ProgressLine     the progress line and the summary at the end
    nan_guard.py      NonFiniteGuard   stop at the first NaN or Inf value
    time_limit.py     TimeLimit        end the run cleanly after some time
"""
from .checkpoint import Checkpoint
from .fid import Score, ScorePlot
from .loss_plot import LossPlot
from .metrics_csv import MetricsCSV
from .nan_guard import NonFiniteGuard, non_finite
from .progress_line import ProgressLine
from .sample_grid import SampleGrid
from .time_limit import TimeLimit
