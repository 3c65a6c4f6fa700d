"""The Evidently workspace under LOOPLINE_HOME/monitoring: one project per model, its dashboard
made once (AUC per role over time, drift share, volume served and labelled), a snapshot per
monitored window, group and report, tagged with the role and the version. `loopline dashboard`
shows it with `evidently ui`."""

from pathlib import Path

from loopline.registry import CANARY, PRODUCTION

SHADOW = "shadow"


def project(workspace, model: str):
    """The model's project, made with its dashboard on first use."""
    name = f"loopline-{model}"
    found = workspace.search_project(name)
    if found:
        return found[0]
    made = workspace.create_project(name, description=f"Served predictions of {model}, judged on late ground truth")
    _dashboard(made)
    made.save()
    return made


def _dashboard(made) -> None:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    roles = (PRODUCTION, CANARY, SHADOW)
    panels = [
        ("AUC on late ground truth, by role", [PanelMetric(metric="RocAuc", tags=[r], legend=r) for r in roles]),
        ("Log loss, by role", [PanelMetric(metric="LogLoss", tags=[r], legend=r) for r in roles]),
        (
            "Share of drifted model inputs (against the version's training sample)",
            [
                PanelMetric(metric="DriftedColumnsCount", tags=[r], legend=r, metric_labels={"value_type": "share"})
                for r in roles
            ],
        ),
        (
            "Flights: served (drift report) and labelled (quality report), production",
            [
                PanelMetric(metric="RowCount", tags=[PRODUCTION], legend="rows in each report"),
            ],
        ),
    ]
    for title, values in panels:
        made.dashboard.add_panel(line_plot_panel(title, values, size="half"), tab="Loop")


def save_snapshots(path: str | Path, model: str, snapshots: list) -> None:
    """Add each (kind, snapshot) to the model's project in the workspace at `path`."""
    from evidently.ui.workspace import Workspace

    Path(path).mkdir(parents=True, exist_ok=True)
    workspace = Workspace.create(str(path))
    target = project(workspace, model)
    for _, snapshot in snapshots:
        workspace.add_run(target.id, snapshot, include_data=False)
