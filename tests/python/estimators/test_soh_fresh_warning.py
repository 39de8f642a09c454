"""`estimate --soh` on a fresh cell: the OCV learner takes the model's own error under load for ageing (docs/soh.md
"Known limitation": the shipped Chen2020 DFN UDDS truth with its bundled model, SOC RMSE 0.41 -> 1.70 %, nodes up to
+18 mV). The CLI says so when the correction moved more than 10 mV within one log started fresh, and not with
--no-ocv-learning."""
from __future__ import annotations

from cellsense.cli import main


def test_a_fresh_log_that_moves_the_ocv_correction_is_named(tmp_path, capsys):
    data = tmp_path / "udds.csv"
    assert main(["simulate", "--protocol", "udds", "--temperature-degC", "25", "--out", str(data), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["estimate", "--cell", "chen2020", "--data", str(data), "--soh"]) == 0
    err = capsys.readouterr().err
    assert "the OCV correction moved up to" in err and "--soh --no-ocv-learning" in err
    assert main(["estimate", "--cell", "chen2020", "--data", str(data), "--soh", "--no-ocv-learning"]) == 0
    assert "the OCV correction moved" not in capsys.readouterr().err
