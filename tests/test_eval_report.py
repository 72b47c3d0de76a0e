from clac_core.evaluation.report import comparison_rows, headline


def _results():
    ret = {d: {"pool_1000": {"R@1": 0.1, "R@5": 0.3, "R@10": 0.5, "MRR": 0.2, "pool_size": 1000}}
           for d in ("text_to_crystal", "crystal_to_text")}
    ret["crystal_to_text"]["pool_1000"]["R@10"] = 0.4
    base = {"random_init": {"retrieval": {"text_to_crystal": {"pool_1000": {"R@10": 0.01}}}},
            "ratios": {"text_to_crystal": {"pool_1000": {"R@10": 2.5}}}}
    return {"retrieval": ret, "zero_shot": {"crystal_system": {"accuracy": 0.7}}, "baselines": base}


def test_headline_reads_values_from_results():
    h = headline(_results())
    assert h == {
        "text_to_crystal_R@10": 0.5,
        "crystal_to_text_R@10": 0.4,
        "zero_shot_crystal_system_accuracy": 0.7,
        "text_to_crystal_R@10_vs_best_baseline": 2.5,
        "pool_size": 1000,
    }
    assert headline({})["text_to_crystal_R@10"] is None


def test_comparison_rows_align_model_and_baselines():
    rows = comparison_rows(_results())
    assert len(rows) == 8
    r10 = next(r for r in rows if r["direction"] == "text to crystal" and r["metric"] == "R@10")
    assert r10["CLaC"] == 0.5 and r10["random_init"] == 0.01 and r10["lexical"] is None


def test_compare_results_flags_drift_and_missing_metrics():
    from clac_core.evaluation.report import compare_results, key_metrics

    ref = _results()
    ref["probes"] = {"band_gap": {"MAE": {"ridge": 1.0, "knn": 0.8, "mean_predictor": 1.5}}}
    assert key_metrics(ref)["probes.band_gap.MAE.ridge"] == 1.0
    assert "probes.band_gap.MAE.mean_predictor" not in key_metrics(ref)
    same = compare_results(ref, ref)
    assert same and all(r["ok"] and r["diff"] == 0 for r in same)

    other = _results()
    other["retrieval"]["text_to_crystal"]["pool_1000"]["R@10"] = 0.505  # within 0.01
    other["zero_shot"]["crystal_system"]["accuracy"] = 0.6  # drifted
    other["probes"] = {"band_gap": {"MAE": {"ridge": 1.04, "knn": 0.9}}}  # 4% ok, 12.5% not
    rows = {r["metric"]: r for r in compare_results(ref, other)}
    assert rows["retrieval.text_to_crystal.pool_1000.R@10"]["ok"]
    assert not rows["zero_shot.crystal_system.accuracy"]["ok"]
    assert abs(rows["zero_shot.crystal_system.accuracy"]["diff"] + 0.1) < 1e-9
    assert rows["probes.band_gap.MAE.ridge"]["ok"] and not rows["probes.band_gap.MAE.knn"]["ok"]
    del other["zero_shot"]
    assert not {r["metric"]: r for r in compare_results(ref, other)}["zero_shot.crystal_system.accuracy"]["ok"]
