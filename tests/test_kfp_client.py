"""submit and schedule, against a stand-in for the Kubeflow Pipelines API on 127.0.0.1."""
import pytest

from slimpipe.cli import main
from tests.kfp_api_stub import KfpApiStub


def test_submit_creates_one_run_with_the_given_parameters(monkeypatch):
    monkeypatch.delenv("KFP_TOKEN", raising=False)
    with KfpApiStub() as api:
        assert main(["submit", "--host", api.url, "--experiment", "nightly", "--run-name", "r1",
                     "--dataset", "s3://data/digits", "--eval-metric-loss", "0.1", "--epochs", "7"]) == 0
    runs = api.find("POST", "/apis/v2beta1/runs")
    assert len(runs) == 1
    body = runs[0]["body"]
    assert body["display_name"] == "r1" and body["experiment_id"] == "exp-1"
    params = body["runtime_config"]["parameters"]
    assert params["dataset"] == "s3://data/digits" and params["eval_metric_loss"] == 0.1 and params["epochs"] == 7
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "slimpipe-prune"
    assert api.find("POST", "/apis/v2beta1/experiments")[0]["body"]["display_name"] == "nightly"


def test_schedule_creates_a_recurring_run_with_caching_off(monkeypatch):
    monkeypatch.delenv("KFP_TOKEN", raising=False)
    with KfpApiStub() as api:
        assert main(["schedule", "--host", api.url, "--cron", "0 0 2 * * 0", "--no-catchup", "--name", "weekly",
                     "--dataset", "s3://data/digits"]) == 0
    (req,) = api.find("POST", "/apis/v2beta1/recurringruns")
    body = req["body"]
    assert body["display_name"] == "weekly" and body["no_catchup"] is True
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * 0"
    assert int(body["max_concurrency"]) == 1 and body["mode"] == "ENABLE"
    assert body["runtime_config"]["parameters"]["dataset"] == "s3://data/digits"
    tasks = body["pipeline_spec"]["pipeline_spec"]["root"]["dag"]["tasks"]
    assert all(t.get("cachingOptions", {}).get("enableCache") is not True for t in tasks.values())


def test_token_comes_from_the_environment_not_a_flag(monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", "tok-from-env")
    with KfpApiStub() as api:
        assert main(["submit", "--host", api.url, "--dataset", "d"]) == 0
    (req,) = api.find("POST", "/apis/v2beta1/runs")
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers.get("authorization") == "Bearer tok-from-env"
    assert "tok-from-env" not in str(req["body"])


@pytest.mark.parametrize("cron", ["0 2 * * 0", "* * * * * * *"])
def test_schedule_refuses_a_five_or_seven_field_cron(cron, capsys):
    assert main(["schedule", "--host", "http://127.0.0.1:9", "--cron", cron, "--dataset", "d"]) == 2
    assert "Kubeflow Pipelines expects 6, seconds first" in capsys.readouterr().err


def test_submit_refuses_both_targets(capsys):
    with pytest.raises(SystemExit):
        main(["submit", "--host", "http://127.0.0.1:9", "--dataset", "d", "--eval-metric-loss", "0.1",
              "--pruned-flops", "0.5"])
    assert "not allowed with argument" in capsys.readouterr().err
